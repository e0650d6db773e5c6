using Reranker.Chunking;

namespace Reranker;

/// <summary>Reranks search results of any kind with a <see cref="CrossEncoder"/>: the text of each result is taken by a selector.</summary>
public static class CrossEncoderRerankExtensions
{
    /// <summary>
    /// Scores each candidate's text against <paramref name="query"/> and returns the best <paramref name="top"/>,
    /// best first, with their scores.
    /// </summary>
    /// <typeparam name="TRecord">The type of the candidates.</typeparam>
    /// <param name="reranker">The cross-encoder.</param>
    /// <param name="query">The query, as the user asked it.</param>
    /// <param name="candidates">The candidates, typically a first-stage search's results; enumerated once.</param>
    /// <param name="textSelector">The text of a candidate that the cross-encoder reads (the passage, not its embedding).</param>
    /// <param name="top">How many results to keep (fewer when there are fewer candidates).</param>
    /// <param name="longDocuments">How texts that do not fit beside the query are scored; <see langword="null"/> for <see cref="CrossEncoderOptions.LongDocuments"/>.</param>
    /// <param name="cancellationToken">Stops the scoring (between pairs, and inside a model run).</param>
    /// <returns>At most <paramref name="top"/> results, by descending <see cref="RerankedResult{TRecord}.Score"/>; equal scores keep the candidates' order. Their <see cref="RerankedResult{TRecord}.VectorScore"/> is <see langword="null"/>.</returns>
    /// <remarks>The scoring runs on a thread-pool thread, one pair (or chunk) at a time, as <see cref="CrossEncoder.ScorePairsAsync"/> does.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="reranker"/>, <paramref name="query"/>, <paramref name="candidates"/> or <paramref name="textSelector"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="top"/> is zero or negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="textSelector"/> returned <see langword="null"/> for a candidate (the message names its index).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="reranker"/> has been disposed.</exception>
    public static Task<IReadOnlyList<RerankedResult<TRecord>>> RerankAsync<TRecord>(
        this CrossEncoder reranker,
        string query,
        IEnumerable<TRecord> candidates,
        Func<TRecord, string> textSelector,
        int top,
        LongDocumentOptions? longDocuments = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        return Reranking.RerankAsync(reranker, query, candidates.Select(c => (c, (double?)null)).ToList(), textSelector, top, longDocuments, cancellationToken);
    }
}

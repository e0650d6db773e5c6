using Reranker;
using Reranker.Chunking;

namespace Microsoft.Extensions.VectorData;

/// <summary>
/// Reranks <see cref="VectorSearchResult{TRecord}"/>s with a <see cref="CrossEncoder"/>: over-fetch candidates from a vector
/// store, keep the top K by the cross-encoder's score, with the vector score beside it.
/// </summary>
/// <remarks>
/// A vector search ranks by the distance of embeddings made separately for the query and each record; a cross-encoder
/// reads the query and the record's text together, which orders the candidates better but costs one model run per
/// candidate (on a CPU, milliseconds for a small model, about a second for bge-reranker-v2-m3 at 512 tokens). Fetch a
/// few times more candidates than you keep, not the whole store.
/// </remarks>
public static class VectorSearchRerankExtensions
{
    /// <summary>The default number of candidates fetched per result kept by <see cref="SearchAndRerankAsync"/>.</summary>
    public const int DefaultCandidatesPerResult = 4;

    /// <summary>
    /// Searches <paramref name="collection"/> for <paramref name="query"/>, fetching <paramref name="candidates"/> results
    /// (by default <paramref name="top"/> × 4), and returns the best <paramref name="top"/> of them by the cross-encoder's score.
    /// </summary>
    /// <typeparam name="TRecord">The record type of the collection.</typeparam>
    /// <param name="collection">A vector store collection (any <see cref="IVectorSearchable{TRecord}"/>) whose embedding generator turns the query string into a vector.</param>
    /// <param name="query">The query: searched as it is, and read by the cross-encoder.</param>
    /// <param name="top">How many results to return.</param>
    /// <param name="reranker">The cross-encoder.</param>
    /// <param name="textSelector">The text of a record that the cross-encoder reads, e.g. <c>r => r.Text</c>.</param>
    /// <param name="candidates">How many results to fetch from the store and rerank; <see langword="null"/> for <paramref name="top"/> × <see cref="DefaultCandidatesPerResult"/>.</param>
    /// <param name="searchOptions">The vector search's own options (filter, vector property, score threshold), passed as they are.</param>
    /// <param name="longDocuments">How texts that do not fit beside the query are scored; <see langword="null"/> for <see cref="CrossEncoderOptions.LongDocuments"/>.</param>
    /// <param name="cancellationToken">Stops the search and the scoring.</param>
    /// <returns>At most <paramref name="top"/> results, best first (equal scores keep the store's order), each with the store's score as <see cref="RerankedResult{TRecord}.VectorScore"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="collection"/>, <paramref name="query"/>, <paramref name="reranker"/> or <paramref name="textSelector"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="top"/> is zero or negative, or <paramref name="candidates"/> is below <paramref name="top"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="textSelector"/> returned <see langword="null"/> for a record (the message names its index).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<IReadOnlyList<RerankedResult<TRecord>>> SearchAndRerankAsync<TRecord>(
        this IVectorSearchable<TRecord> collection,
        string query,
        int top,
        CrossEncoder reranker,
        Func<TRecord, string> textSelector,
        int? candidates = null,
        VectorSearchOptions<TRecord>? searchOptions = null,
        LongDocumentOptions? longDocuments = null,
        CancellationToken cancellationToken = default)
        where TRecord : class
    {
        ArgumentNullException.ThrowIfNull(collection);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(reranker);
        ArgumentNullException.ThrowIfNull(textSelector);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(top);
        var fetch = candidates ?? (int)Math.Min(int.MaxValue, (long)top * DefaultCandidatesPerResult);
        if (fetch < top)
        {
            throw new ArgumentOutOfRangeException(nameof(candidates), candidates, $"Fetch at least as many candidates as results kept ({top}).");
        }

        return await collection.SearchAsync(query, fetch, searchOptions, cancellationToken)
            .RerankAsync(reranker, query, textSelector, top, longDocuments, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Reads all of <paramref name="results"/> (a vector search, e.g. <c>collection.SearchAsync(vector, 20)</c>) and
    /// returns the best <paramref name="top"/> by the cross-encoder's score for <paramref name="query"/>.
    /// </summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <param name="results">The search results; enumerated once, with <paramref name="cancellationToken"/>.</param>
    /// <param name="reranker">The cross-encoder.</param>
    /// <param name="query">The query text the cross-encoder reads (what was searched for).</param>
    /// <param name="textSelector">The text of a record that the cross-encoder reads.</param>
    /// <param name="top">How many results to return.</param>
    /// <param name="longDocuments">How texts that do not fit beside the query are scored; <see langword="null"/> for <see cref="CrossEncoderOptions.LongDocuments"/>.</param>
    /// <param name="cancellationToken">Stops the enumeration and the scoring.</param>
    /// <returns>At most <paramref name="top"/> results, best first (equal scores keep the search's order), each with its vector score.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="results"/>, <paramref name="reranker"/>, <paramref name="query"/> or <paramref name="textSelector"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="top"/> is zero or negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="textSelector"/> returned <see langword="null"/> for a record (the message names its index).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<IReadOnlyList<RerankedResult<TRecord>>> RerankAsync<TRecord>(
        this IAsyncEnumerable<VectorSearchResult<TRecord>> results,
        CrossEncoder reranker,
        string query,
        Func<TRecord, string> textSelector,
        int top,
        LongDocumentOptions? longDocuments = null,
        CancellationToken cancellationToken = default)
        where TRecord : class
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(reranker);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(textSelector);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(top);
        var candidates = new List<(TRecord, double?)>();
        await foreach (var result in results.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            candidates.Add((result.Record, result.Score));
        }

        return await Reranking.RerankAsync(reranker, query, candidates, textSelector, top, longDocuments, cancellationToken).ConfigureAwait(false);
    }
}

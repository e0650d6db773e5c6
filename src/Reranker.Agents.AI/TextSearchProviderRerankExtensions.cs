using Reranker;
using Reranker.Chunking;

namespace Microsoft.Agents.AI;

/// <summary>
/// Reranks what a <see cref="TextSearchProvider"/>'s search delegate returns with a <see cref="CrossEncoder"/>, so that the
/// agent's context holds the best <c>top</c> results by the cross-encoder's score instead of the search's order.
/// </summary>
public static class TextSearchProviderRerankExtensions
{
    /// <summary>
    /// Wraps a search delegate for <see cref="TextSearchProvider"/>: the wrapper calls <paramref name="search"/> (which should
    /// return a few times more results than are kept), scores each result's <see cref="TextSearchProvider.TextSearchResult.Text"/>
    /// against the search text, and returns the best <paramref name="top"/>, best first.
    /// </summary>
    /// <param name="search">The search delegate as <see cref="TextSearchProvider"/> takes it.</param>
    /// <param name="reranker">The cross-encoder.</param>
    /// <param name="top">How many results to keep.</param>
    /// <param name="longDocuments">How texts that do not fit beside the query are scored; <see langword="null"/> for <see cref="CrossEncoderOptions.LongDocuments"/>.</param>
    /// <returns>
    /// A delegate for <see cref="TextSearchProvider"/>'s constructor. It returns the inner delegate's own result objects,
    /// unchanged (their <see cref="TextSearchProvider.TextSearchResult.RawRepresentation"/> included), reordered and cut;
    /// the cancellation token the provider passes reaches both the search and the scoring. A result whose text is
    /// <see langword="null"/> scores as an empty text.
    /// </returns>
    /// <remarks>
    /// The provider's search text is the user's latest messages (more of them with
    /// <see cref="TextSearchProviderOptions.RecentMessageMemoryLimit"/>); the cross-encoder reads it as the query, cut to
    /// <see cref="CrossEncoderOptions.MaxLength"/> with the text like any pair. To see the scores, rerank inside your own
    /// delegate with <c>CrossEncoderRerankExtensions.RerankAsync</c> or the vector store extensions instead.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="search"/> or <paramref name="reranker"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="top"/> is zero or negative.</exception>
    public static Func<string, CancellationToken, Task<IEnumerable<TextSearchProvider.TextSearchResult>>> WithReranking(
        this Func<string, CancellationToken, Task<IEnumerable<TextSearchProvider.TextSearchResult>>> search,
        CrossEncoder reranker,
        int top,
        LongDocumentOptions? longDocuments = null)
    {
        ArgumentNullException.ThrowIfNull(search);
        ArgumentNullException.ThrowIfNull(reranker);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(top);
        return async (query, cancellationToken) =>
        {
            var results = await search(query, cancellationToken).ConfigureAwait(false) ?? [];
            var reranked = await reranker.RerankAsync(query, results, r => r.Text ?? string.Empty, top, longDocuments, cancellationToken).ConfigureAwait(false);
            return reranked.Select(r => r.Record).ToList();
        };
    }
}

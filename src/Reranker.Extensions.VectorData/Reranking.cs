using Reranker.Chunking;

namespace Reranker;

/// <summary>The reranking step shared by the adapters: score every candidate's text, sort, keep the top.</summary>
internal static class Reranking
{
    public static async Task<IReadOnlyList<RerankedResult<TRecord>>> RerankAsync<TRecord>(
        CrossEncoder reranker,
        string query,
        IReadOnlyList<(TRecord Record, double? VectorScore)> candidates,
        Func<TRecord, string> textSelector,
        int top,
        LongDocumentOptions? longDocuments,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reranker);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(textSelector);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(top);
        cancellationToken.ThrowIfCancellationRequested();
        if (candidates.Count == 0)
        {
            return [];
        }

        var pairs = new (string Query, string Document)[candidates.Count];
        for (var i = 0; i < pairs.Length; i++)
        {
            var text = textSelector(candidates[i].Record)
                ?? throw new ArgumentException($"The text selector returned null for candidate {i}; return the record's text (an empty string scores as an empty document).", nameof(textSelector));
            pairs[i] = (query, text);
        }

        var scores = await reranker.ScorePairsAsync(pairs, longDocuments, cancellationToken: cancellationToken).ConfigureAwait(false);
        var order = Enumerable.Range(0, scores.Length).ToArray();
        // As CrossEncoder.Rank: by descending score, equal scores in the candidates' order (Array.Sort is not stable).
        Array.Sort(order, (a, b) => scores[a].Score != scores[b].Score ? scores[b].Score.CompareTo(scores[a].Score) : a.CompareTo(b));
        var results = new RerankedResult<TRecord>[Math.Min(top, order.Length)];
        for (var r = 0; r < results.Length; r++)
        {
            var i = order[r];
            results[r] = new RerankedResult<TRecord>(candidates[i].Record, scores[i].Score, candidates[i].VectorScore, i)
            {
                Span = scores[i].Span,
                ChunksScored = scores[i].ChunksScored,
                IsTruncated = scores[i].IsTruncated,
            };
        }

        return results;
    }
}

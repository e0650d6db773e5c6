using Reranker.Tokenization;

namespace Reranker.Chunking;

/// <summary>How many document tokens fit beside a query, whole, under a truncation strategy.</summary>
internal static class ChunkBudget
{
    /// <summary>
    /// The largest document length, in tokens, that <paramref name="truncation"/> keeps whole beside a query of
    /// <paramref name="queryTokens"/> tokens within <paramref name="maxLength"/> (special tokens included); 0 when the
    /// query leaves no room. Every shorter document is kept whole too (both strategies only cut the document once it
    /// is longer than this), so "tokens ≤ budget" is exactly "the chunk is not cut".
    /// </summary>
    /// <remarks>
    /// With <see cref="TruncationStrategy.LongestFirst"/> and a query longer than half the budget, chunks of up to half
    /// the budget are kept whole while the query is cut, as truncation itself would cut it.
    /// </remarks>
    public static int ForDocument(int queryTokens, int maxLength, int specialTokens, TruncationStrategy truncation)
    {
        for (var d = maxLength; d > 0; d--)
        {
            if (KeepsWhole(queryTokens, d, maxLength, specialTokens, truncation))
            {
                return d;
            }
        }

        return 0;
    }

    /// <summary>Whether <paramref name="truncation"/> keeps all <paramref name="documentTokens"/> document tokens.</summary>
    public static bool KeepsWhole(int queryTokens, int documentTokens, int maxLength, int specialTokens, TruncationStrategy truncation)
    {
        var kept = truncation switch
        {
            TruncationStrategy.LongestFirst => XlmRobertaTokenizer.LongestFirst(queryTokens, documentTokens, maxLength - specialTokens).Second,
            TruncationStrategy.QueryCapped => XlmRobertaTokenizer.QueryCapped(queryTokens, documentTokens, maxLength, specialTokens).Second,
            _ => throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "Unknown truncation strategy."),
        };
        return kept == documentTokens;
    }
}

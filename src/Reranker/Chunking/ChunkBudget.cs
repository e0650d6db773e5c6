using Reranker.Tokenization;

namespace Reranker.Chunking;

/// <summary>How many document tokens fit beside a query, whole, under a truncation strategy.</summary>
internal static class ChunkBudget
{
    /// <summary>
    /// The most document tokens of one chunk beside a query of <paramref name="queryTokens"/> tokens within
    /// <paramref name="maxLength"/> (special tokens included) such that <paramref name="truncation"/> cuts none of
    /// them; 0 when the query leaves no room. Every shorter chunk is kept whole too (both strategies only cut a
    /// document longer than that), so "tokens ≤ budget" is exactly "the chunk is not cut".
    /// </summary>
    /// <remarks>
    /// The query is kept whole too when that leaves chunks at least half as long as the longest the strategy keeps
    /// whole at all. Otherwise (under <see cref="TruncationStrategy.LongestFirst"/>, a query of more than about 3/4 of
    /// the budget; under <see cref="TruncationStrategy.QueryCapped"/>, one over its 3/4 cap) the query is cut beside
    /// each chunk exactly as truncation cuts it, and the chunks get the longest length the strategy keeps whole.
    /// </remarks>
    public static int ForDocument(int queryTokens, int maxLength, int specialTokens, TruncationStrategy truncation)
    {
        int whole = 0, document = 0;
        for (var d = maxLength; d > 0 && (whole == 0 || document == 0); d--)
        {
            var (query, kept) = Keep(queryTokens, d, maxLength, specialTokens, truncation);
            if (document == 0 && kept == d)
            {
                document = d;
            }

            if (whole == 0 && kept == d && query == queryTokens)
            {
                whole = d;
            }
        }

        return whole * 2 >= document ? whole : document;
    }

    /// <summary>How many query and document tokens <paramref name="truncation"/> keeps.</summary>
    public static (int Query, int Document) Keep(int queryTokens, int documentTokens, int maxLength, int specialTokens, TruncationStrategy truncation) =>
        truncation switch
        {
            TruncationStrategy.LongestFirst => XlmRobertaTokenizer.LongestFirst(queryTokens, documentTokens, maxLength - specialTokens),
            TruncationStrategy.QueryCapped => XlmRobertaTokenizer.QueryCapped(queryTokens, documentTokens, maxLength, specialTokens),
            _ => throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "Unknown truncation strategy."),
        };
}

using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests.Tokenization;

/// <summary>Pair inputs against goldens/pairs.jsonl: transformers' longest_first and FlagEmbedding's truncation.</summary>
public class PairEncodingTests
{
    private static readonly XlmRobertaTokenizer Tokenizer = XlmRobertaTokenizer.FromTokenizerJson(Path.Combine(TestPaths.TinyModel, "tokenizer.json"));

    /// <summary>
    /// The fixture encoded longest_first rows with single calls <c>tok(q, p)</c>, and transformers reads an empty second
    /// text there as no second text (<c>&lt;s&gt; q &lt;/s&gt;</c>). Batched calls (the model card's usage, sentence-transformers,
    /// FlagEmbedding) frame it as a pair; see <see cref="EmptyDocument_IsFramedAsAPair_AsBatchedCallsAndSentenceTransformersDo"/>.
    /// </summary>
    private static bool IsSingleCallWithEmptyDocument(GoldenPair r) => r.Truncation == TruncationStrategy.LongestFirst && r.Passage.Length == 0;

    private static PairEncoding Encode(GoldenPair r) => IsSingleCallWithEmptyDocument(r)
        ? Tokenizer.EncodeSingle(r.Query, r.MaxLength)
        : Tokenizer.EncodePair(r.Query, r.Passage, r.MaxLength, r.Truncation);

    [Fact]
    public void EncodePair_ReproducesAllGoldenRows()
    {
        var rows = GoldenData.RawPairs;
        Assert.Equal(288, rows.Count);
        Assert.Equal(new[] { 32, 512, 8192 }, rows.Select(r => r.MaxLength).Distinct().Order());
        Assert.Equal(new[] { TruncationStrategy.LongestFirst, TruncationStrategy.QueryCapped }, rows.Select(r => r.Truncation).Distinct().Order());

        var mismatches = rows
            .Select(r => (Text: $"{r.Truncation}/{r.MaxLength}: {r.Query} | {r.Passage[..Math.Min(40, r.Passage.Length)]}",
                Expected: r.InputIds,
                Actual: Encode(r).InputIds))
            .Where(m => !m.Expected.SequenceEqual(m.Actual))
            .ToList();

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {rows.Count} pairs differ:{Environment.NewLine}{GoldenData.Describe(mismatches)}");
        Assert.Equal(6, rows.Count(IsSingleCallWithEmptyDocument));
    }

    [Fact]
    public void EmptyDocument_IsFramedAsAPair_AsBatchedCallsAndSentenceTransformersDo()
    {
        // FlagEmbedding's rows build the pair by hand and show the framing the model sees in batched use.
        var flagRow = GoldenData.RawPairs.First(r => r.Truncation == TruncationStrategy.QueryCapped && r.MaxLength == 512 && r.Passage.Length == 0);
        Assert.Equal(flagRow.InputIds, Tokenizer.EncodePair(flagRow.Query, flagRow.Passage, 512, TruncationStrategy.LongestFirst).InputIds);
        Assert.Equal(flagRow.InputIds[..^2], Tokenizer.EncodeSingle(flagRow.Query, 512).InputIds);
    }

    [Fact]
    public void EncodePair_ReportsTruncation_ExactlyWhenTokensWereCut()
    {
        var rows = GoldenData.RawPairs;
        var truncated = 0;
        foreach (var r in rows)
        {
            var specials = IsSingleCallWithEmptyDocument(r) ? 2 : 4;
            var full = Tokenizer.EncodeToIds(r.Query).Length + Tokenizer.EncodeToIds(r.Passage).Length + specials;
            var encoding = Encode(r);
            Assert.Equal(r.InputIds.Length < full, encoding.IsTruncated);
            Assert.Equal(r.InputIds.Length, encoding.QueryLength + encoding.DocumentLength + specials);
            truncated += encoding.IsTruncated ? 1 : 0;
        }

        Assert.InRange(truncated, 1, rows.Count - 1);
    }

    [Theory]
    [InlineData(3, 20, 10, 3, 7)] // only the longer one is cut
    [InlineData(7, 8, 10, 5, 5)] // both cut to half
    [InlineData(8, 7, 11, 6, 5)] // odd budget: the extra token goes to the longer sequence
    [InlineData(7, 8, 11, 5, 6)]
    [InlineData(20, 30, 9, 4, 5)]
    [InlineData(4, 5, 9, 4, 5)] // fits
    public void LongestFirst_FollowsTheTokenizersLibrary(int n1, int n2, int budget, int expected1, int expected2)
    {
        Assert.Equal((expected1, expected2), XlmRobertaTokenizer.LongestFirst(n1, n2, budget));
    }

    [Fact]
    public void QueryCapped_KeepsTheQueryWhenTheDocumentIsLong()
    {
        // max 32: query capped at 24 tokens, the document gets what is left (32 - 24 - 4).
        Assert.Equal((24, 4), XlmRobertaTokenizer.QueryCapped(100, 100, 32, 4));
        Assert.Equal((5, 23), XlmRobertaTokenizer.QueryCapped(5, 100, 32, 4));
        Assert.Equal((5, 6), XlmRobertaTokenizer.QueryCapped(5, 6, 32, 4));
    }

    [Fact]
    public void EncodePair_FramesThePairWithTwoSeparators()
    {
        var encoding = Tokenizer.EncodePair("x", "x", 512, TruncationStrategy.LongestFirst);
        var x = Tokenizer.EncodeToIds("x");
        Assert.Equal([0, .. x, 2, 2, .. x, 2], encoding.InputIds);
        Assert.False(encoding.IsTruncated);
    }

    [Fact]
    public void EncodePair_RejectsBadArguments()
    {
        Assert.Throws<ArgumentNullException>(() => Tokenizer.EncodePair(null!, "d", 512, TruncationStrategy.LongestFirst));
        Assert.Throws<ArgumentNullException>(() => Tokenizer.EncodePair("q", null!, 512, TruncationStrategy.LongestFirst));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.EncodePair("q", "d", 4, TruncationStrategy.LongestFirst));
        Assert.Contains("4 special tokens", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.EncodePair("q", "d", 512, (TruncationStrategy)7));
    }
}

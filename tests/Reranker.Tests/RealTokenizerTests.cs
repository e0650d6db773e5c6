using System.Globalization;
using Reranker.Tests.Support;
using Reranker.Tokenization;
using Xunit.Abstractions;

namespace Reranker.Tests;

/// <summary>
/// End to end through the public <see cref="CrossEncoder.Create"/>: the C# tokenizer and inference together,
/// against the reference Python stack's outputs.
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class RealTokenizerTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void Predict_matches_sentence_transformers_scores()
    {
        var golden = GoldenData.ReadJson("sentence_transformers.json");
        var predict = golden.GetProperty("predict");
        var pairs = predict.GetProperty("pairs").EnumerateArray().Select(p => (p[0].GetString()!, p[1].GetString()!)).ToArray();
        var expected = predict.GetProperty("scores").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = golden.GetProperty("max_length").GetInt32() });

        var scores = encoder.Predict(pairs);

        Assert.Equal(expected.Length, scores.Length);
        var maxDiff = expected.Select((e, i) => Math.Abs(e - scores[i])).Max();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sentence-transformers predict: max |diff| {maxDiff:E3}"));
        Assert.True(maxDiff <= Tolerance, $"max |diff| {maxDiff}");
    }

    [Fact]
    public void Rank_matches_sentence_transformers_order_and_scores()
    {
        var golden = GoldenData.ReadJson("sentence_transformers.json");
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = golden.GetProperty("max_length").GetInt32() });
        SentenceTransformersRankParity.Check(encoder, golden, Tolerance);
    }

    [Theory]
    [InlineData(512, TruncationStrategy.LongestFirst)]
    [InlineData(512, TruncationStrategy.QueryCapped)]
    [InlineData(32, TruncationStrategy.LongestFirst)]
    [InlineData(32, TruncationStrategy.QueryCapped)]
    public void Encodings_and_logits_match_the_golden_pairs(int maxLength, TruncationStrategy truncation)
    {
        var rows = GoldenData.Pairs.Where(r => r.MaxLength == maxLength && r.Truncation == truncation).ToArray();
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = maxLength, Truncation = truncation, BatchSize = 16 });

        foreach (var row in rows)
        {
            Assert.Equal(row.InputIds, encoder.EncodePair(row.Query, row.Passage).InputIds);
        }

        var logits = encoder.PredictLogits(rows.Select(r => (r.Query, r.Passage)).ToArray());
        var maxDiff = rows.Select((r, i) => Math.Abs(r.Logit - logits[i])).Max();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{maxLength} {truncation}: max |diff| {maxDiff:E3}"));
        Assert.True(maxDiff <= Tolerance, $"max |diff| {maxDiff}");
    }

    [Fact]
    public void Truncation_is_visible_in_EncodePair_and_Rank()
    {
        var longRow = GoldenData.Pairs.First(r => r.InputIds.Length == 8192);
        var shortRow = GoldenData.Pairs.First(r => r.MaxLength == 512 && r.InputIds.Length < 100);
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);

        var cut = encoder.EncodePair(longRow.Query, longRow.Passage);
        Assert.True(cut.IsTruncated);
        Assert.Equal(512, cut.InputIds.Length);
        Assert.False(encoder.EncodePair(shortRow.Query, shortRow.Passage).IsTruncated);

        var ranked = encoder.Rank(longRow.Query, [shortRow.Passage, longRow.Passage]);
        Assert.False(ranked.Single(r => r.Index == 0).IsTruncated);
        Assert.True(ranked.Single(r => r.Index == 1).IsTruncated);
    }

    [Fact]
    public void Concurrent_calls_with_the_real_tokenizer_equal_a_sequential_run()
    {
        var rows = GoldenData.Pairs.Where(r => r.MaxLength == 512 && r.Truncation == TruncationStrategy.LongestFirst).ToArray();
        var pairs = rows.Select(r => (r.Query, r.Passage)).ToArray();
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { IntraOpNumThreads = 1 });
        var sequential = encoder.Predict(pairs);
        Assert.True(rows.Select((r, i) => Math.Abs(r.Score - sequential[i])).Max() <= Tolerance);

        var results = new float[24][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = encoder.Predict(pairs));

        Assert.All(results, scores => Assert.Equal(sequential, scores));
    }

    [Theory]
    [InlineData("{ \"model\": ")]
    [InlineData("this is not json")]
    public void Malformed_tokenizer_json_throws_InvalidDataException(string content)
    {
        using var directory = new TempModelDirectory();
        directory.Write("tokenizer.json", content);
        Assert.Throws<InvalidDataException>(() => CrossEncoder.Create(directory.Path));
    }
}

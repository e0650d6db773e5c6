using System.Globalization;
using Reranker.Tests.Support;
using Reranker.Tokenization;
using Xunit.Abstractions;

namespace Reranker.Tests;

/// <summary>
/// The public <see cref="CrossEncoder"/> API on the tiny model, fed the reference tokenizer's ids through
/// <see cref="GoldenPairEncoder"/>, so these results depend only on this library's inference and API logic.
/// <see cref="RealTokenizerTests"/> repeats the end-to-end checks with the C# tokenizer.
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class CrossEncoderTests(ITestOutputHelper output)
{
    private const double ScoreTolerance = 1e-4;

    public static TheoryData<int, TruncationStrategy> GoldenConfigurations() => new()
    {
        { 512, TruncationStrategy.LongestFirst },
        { 512, TruncationStrategy.QueryCapped },
        { 32, TruncationStrategy.LongestFirst },
        { 32, TruncationStrategy.QueryCapped },
        { 8192, TruncationStrategy.LongestFirst },
        { 8192, TruncationStrategy.QueryCapped },
    };

    [Theory]
    [MemberData(nameof(GoldenConfigurations))]
    public void Predict_and_PredictLogits_match_torch_for_every_golden_pair(int maxLength, TruncationStrategy truncation)
    {
        var rows = GoldenData.Pairs.Where(r => r.MaxLength == maxLength && r.Truncation == truncation).ToArray();
        Assert.Equal(48, rows.Length);
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { MaxLength = maxLength, Truncation = truncation });
        var pairs = rows.Select(r => (r.Query, r.Passage)).ToArray();

        var logits = encoder.PredictLogits(pairs);
        AssertClose(rows.Select(r => r.Logit).ToArray(), logits, ScoreTolerance, $"logits {maxLength} {truncation}");

        // Scores too, leaving out the few rows over 1000 tokens that take most of the time and were just checked.
        var shorter = rows.Where(r => r.InputIds.Length <= 1000).ToArray();
        var scores = encoder.Predict(shorter.Select(r => (r.Query, r.Passage)).ToArray());
        AssertClose(shorter.Select(r => r.Score).ToArray(), scores, ScoreTolerance, $"scores {maxLength} {truncation}");
    }

    [Fact]
    public void Empty_and_whitespace_texts_are_scored()
    {
        var rows = GoldenData.Pairs
            .Where(r => r.MaxLength == 512 && r.Truncation == TruncationStrategy.LongestFirst)
            .Where(r => string.IsNullOrWhiteSpace(r.Query) || string.IsNullOrWhiteSpace(r.Passage))
            .ToArray();
        Assert.Contains(rows, r => r.Query.Length == 0 || r.Passage.Length == 0);
        using var encoder = GoldenPairEncoder.CreateCrossEncoder();

        var scores = encoder.Predict(rows.Select(r => (r.Query, r.Passage)).ToArray());

        AssertClose(rows.Select(r => r.Score).ToArray(), scores, ScoreTolerance, "empty texts");
    }

    [Fact]
    public void Empty_input_gives_empty_results()
    {
        using var encoder = GoldenPairEncoder.CreateCrossEncoder();
        Assert.Empty(encoder.Predict([]));
        Assert.Empty(encoder.PredictLogits([]));
        Assert.Empty(encoder.Rank("query", []));
        Assert.Empty(encoder.Rank("query", [], topK: 3));
    }

    [Theory]
    [InlineData(1, 8192)]
    [InlineData(3, 8192)]
    [InlineData(32, 8192)]
    [InlineData(32, 100)]
    [InlineData(32, 1 << 20)]
    public void Scores_do_not_depend_on_batch_options(int batchSize, int maxBatchTokens)
    {
        var rows = GoldenData.Pairs.Where(r => r.MaxLength == 512 && r.Truncation == TruncationStrategy.LongestFirst).ToArray();
        var options = new CrossEncoderOptions { BatchSize = batchSize, MaxBatchTokens = maxBatchTokens };
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(options);

        var scores = encoder.Predict(rows.Select(r => (r.Query, r.Passage)).ToArray());

        AssertClose(rows.Select(r => r.Score).ToArray(), scores, ScoreTolerance, $"batch {batchSize} budget {maxBatchTokens}");
    }

    [Fact]
    public void Predict_matches_sentence_transformers()
    {
        var golden = GoldenData.ReadJson("sentence_transformers.json");
        var maxLength = golden.GetProperty("max_length").GetInt32();
        var predict = golden.GetProperty("predict");
        var pairs = predict.GetProperty("pairs").EnumerateArray().Select(p => (p[0].GetString()!, p[1].GetString()!)).ToArray();
        var expected = predict.GetProperty("scores").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { MaxLength = maxLength, BatchSize = 8 });

        AssertClose(expected, encoder.Predict(pairs), ScoreTolerance, "sentence-transformers predict");
    }

    [Fact]
    public void Rank_matches_sentence_transformers_order_and_scores()
    {
        var golden = GoldenData.ReadJson("sentence_transformers.json");
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { MaxLength = golden.GetProperty("max_length").GetInt32() });
        SentenceTransformersRankParity.Check(encoder, golden, ScoreTolerance);
    }

    [Fact]
    public void Rank_agrees_with_Predict_and_applies_topK()
    {
        var golden = GoldenData.ReadJson("sentence_transformers.json");
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { MaxLength = golden.GetProperty("max_length").GetInt32() });
        foreach (var set in golden.GetProperty("rank").EnumerateArray())
        {
            var query = set.GetProperty("query").GetString()!;
            var documents = set.GetProperty("documents").EnumerateArray().Select(d => d.GetString()!).ToArray();

            var scores = encoder.Predict(documents.Select(d => (query, d)).ToArray());
            var ranked = encoder.Rank(query, documents);

            Assert.Equal(documents.Length, ranked.Count);
            Assert.Equal(Enumerable.Range(0, documents.Length), ranked.Select(r => r.Index).Order());
            foreach (var result in ranked)
            {
                Assert.Equal(scores[result.Index], result.Score);
                Assert.Equal(encoder.EncodePair(query, documents[result.Index]).IsTruncated, result.IsTruncated);
            }

            Assert.Equal(ranked.Take(2), encoder.Rank(query, documents, topK: 2));
            Assert.Equal(ranked, encoder.Rank(query, documents, topK: documents.Length + 10));
        }
    }

    [Fact]
    public void Rank_keeps_input_order_for_equal_scores()
    {
        var set = GoldenData.ReadJson("sentence_transformers.json").GetProperty("rank")[0];
        var query = set.GetProperty("query").GetString()!;
        var a = set.GetProperty("documents")[0].GetString()!;
        var b = set.GetProperty("documents")[1].GetString()!;
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { MaxLength = 8192 });

        // Duplicates score identically (one pair per call): each duplicate group must stay in input order.
        var ranked = encoder.Rank(query, [b, a, b, a, a]);
        var scoreA = ranked.First(r => r.Index == 1).Score;
        var scoreB = ranked.First(r => r.Index == 0).Score;
        Assert.NotEqual(scoreA, scoreB);
        int[] expected = scoreA > scoreB ? [1, 3, 4, 0, 2] : [0, 2, 1, 3, 4];
        Assert.Equal(expected, ranked.Select(r => r.Index));
    }

    [Fact]
    public void Concurrent_calls_on_one_instance_equal_a_sequential_run()
    {
        var rows = GoldenData.Pairs.Where(r => r.MaxLength == 512 && r.Truncation == TruncationStrategy.LongestFirst).ToArray();
        var pairs = rows.Select(r => (r.Query, r.Passage)).ToArray();
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { BatchSize = 4, IntraOpNumThreads = 1 });
        var sequential = encoder.Predict(pairs);
        AssertClose(rows.Select(r => r.Score).ToArray(), sequential, ScoreTolerance, "sequential");

        // Every worker scores the same list in the same batches, so any sharing of buffers between calls would show
        // up as a difference from the sequential run.
        var results = new float[32][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = encoder.Predict(pairs));

        foreach (var scores in results)
        {
            Assert.Equal(sequential, scores);
        }
    }

    [Fact]
    public void Calls_after_Dispose_throw_ObjectDisposedException()
    {
        var encoder = GoldenPairEncoder.CreateCrossEncoder();
        encoder.Dispose();
        encoder.Dispose(); // idempotent

        Assert.Throws<ObjectDisposedException>(() => encoder.Predict([("a", "b")]));
        Assert.Throws<ObjectDisposedException>(() => encoder.PredictLogits([("a", "b")]));
        Assert.Throws<ObjectDisposedException>(() => encoder.Rank("a", ["b"]));
        Assert.Throws<ObjectDisposedException>(() => encoder.EncodePair("a", "b"));
    }

    [Fact]
    public void Options_are_kept_as_given()
    {
        var options = new CrossEncoderOptions { MaxLength = 256, Truncation = TruncationStrategy.QueryCapped, BatchSize = 4, MaxBatchTokens = 1000 };
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(options);
        Assert.Same(options, encoder.Options);

        var defaults = new CrossEncoderOptions();
        Assert.Equal(512, defaults.MaxLength);
        Assert.Equal(TruncationStrategy.LongestFirst, defaults.Truncation);
        Assert.Equal(1, defaults.BatchSize);
        Assert.Equal(8192, defaults.MaxBatchTokens);
        Assert.Equal(0, defaults.IntraOpNumThreads);
        Assert.Equal("model.onnx", defaults.ModelFileName);
    }

    [Fact]
    public void Int8_model_file_is_selected_by_option_and_matches_its_goldens()
    {
        var rows = GoldenData.Pairs.Select((r, i) => (Row: r, Index: i))
            .Where(x => x.Row.MaxLength == 512 && x.Row.Truncation == TruncationStrategy.LongestFirst)
            .Where(x => x.Row.Passage.Length > 0) // onnxruntime.json scored the uncorrected ids of these (see GoldenData.Pairs)
            .ToArray();
        var int8 = GoldenData.OnnxRuntimeLogits("model_int8.onnx");
        var pairs = rows.Select(x => (x.Row.Query, x.Row.Passage)).ToArray();

        // As exported: bit-for-bit what Python onnxruntime computes on the same file.
        using (var asExported = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { ModelFileName = "model_int8.onnx", RewriteAttention = false }))
        {
            AssertClose(rows.Select(x => int8[x.Index]).ToArray(), asExported.PredictLogits(pairs), 1e-4, "int8 through CrossEncoder, as exported");
        }

        // By default (attention rewritten): within the bound dynamic int8 gives the tiled kernel's rounding.
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { ModelFileName = "model_int8.onnx" });
        Assert.True(encoder.Session.Attention!.Rewritten);
        AssertClose(rows.Select(x => int8[x.Index]).ToArray(), encoder.PredictLogits(pairs), 0.02, "int8 through CrossEncoder, rewritten");
    }

    private void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        var diffs = expected.Select((e, i) => Math.Abs(e - actual[i])).ToArray();
        var worst = Array.IndexOf(diffs, diffs.Max());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: max |diff| {diffs[worst]:E3} over {diffs.Length}"));
        Assert.All(diffs, d => Assert.False(double.IsNaN(d)));
        Assert.True(diffs[worst] <= tolerance, string.Create(CultureInfo.InvariantCulture, $"{what}: row {worst} expected {expected[worst]} got {actual[worst]}"));
    }
}

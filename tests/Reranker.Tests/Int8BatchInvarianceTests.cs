using Reranker.Inference;
using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests;

/// <summary>
/// Dynamic int8 quantization takes one activation scale per tensor, i.e. over the whole batch: a pair batched with
/// others would score differently than alone. <see cref="CrossEncoder"/> therefore runs dynamically quantized models
/// one pair per call; these tests prove that the hazard is real on the fixture and that no request, whatever its
/// batch options, lets batch-mates move a pair's score.
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class Int8BatchInvarianceTests
{
    private const int PadId = 1;

    private static readonly GoldenPair[] Rows = GoldenData.Pairs
        .Where(r => r.MaxLength == 512 && r.Truncation == TruncationStrategy.LongestFirst && r.Passage.Length > 0)
        .ToArray();

    [Fact]
    public void Batching_a_dynamic_int8_session_moves_logits_which_is_why_the_guard_exists()
    {
        // As exported: the attention rewrite would keep pairs of different lengths apart, so nothing would be padded.
        using var session = LogitSession.Load(Path.Combine(TestPaths.TinyModel, "model_int8.onnx"), 1, rewriteAttention: false);
        var ids = Rows.Select(r => r.InputIds).ToArray();

        var alone = session.Run(ids, PadId, batchSize: 1, maxBatchTokens: 8192);
        var batched = session.Run(ids, PadId, batchSize: 32, maxBatchTokens: 1 << 20);

        Assert.Contains(Enumerable.Range(0, ids.Length), i => alone[i] != batched[i]);
    }

    [Theory]
    [InlineData(1, 8192)]
    [InlineData(4, 8192)]
    [InlineData(32, 1 << 20)]
    public void A_pairs_int8_score_is_the_same_alone_and_with_any_batch_mates(int batchSize, int maxBatchTokens)
    {
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(
            new CrossEncoderOptions { ModelFileName = "model_int8.onnx", BatchSize = batchSize, MaxBatchTokens = maxBatchTokens, IntraOpNumThreads = 1 });
        var pairs = Rows.Select(r => (r.Query, r.Passage)).ToArray();
        var alone = pairs.Select(p => encoder.Predict([p])[0]).ToArray();

        // The same pairs in different company: all together, reversed, and each with the longest and shortest pair.
        var together = encoder.Predict(pairs);
        var reversed = encoder.Predict(pairs.Reverse().ToArray()).Reverse().ToArray();
        var longest = pairs.MaxBy(p => Rows[Array.IndexOf(pairs, p)].InputIds.Length);
        var shortest = pairs.MinBy(p => Rows[Array.IndexOf(pairs, p)].InputIds.Length);
        var accompanied = pairs.Select(p => encoder.Predict([longest, p, shortest])[1]).ToArray();

        Assert.Equal(alone, together);
        Assert.Equal(alone, reversed);
        Assert.Equal(alone, accompanied);
    }

    [Fact]
    public void Int8_scores_in_a_large_batch_request_match_python_onnxruntime_run_pair_by_pair()
    {
        var expected = GoldenData.OnnxRuntimeLogits("model_int8.onnx");
        var indexed = GoldenData.Pairs.Select((r, i) => (Row: r, Index: i))
            .Where(x => x.Row.MaxLength == 512 && x.Row.Truncation == TruncationStrategy.LongestFirst && x.Row.Passage.Length > 0)
            .ToArray();
        // As exported: the Python parity RewriteAttention = false exists for (the rewritten attention rounds differently,
        // which dynamic int8 can amplify to a few 1e-3; AttentionRewriteTests).
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { ModelFileName = "model_int8.onnx", BatchSize = 64, RewriteAttention = false });

        var logits = encoder.PredictLogits(indexed.Select(x => (x.Row.Query, x.Row.Passage)).ToArray());

        for (var i = 0; i < indexed.Length; i++)
        {
            Assert.True(Math.Abs(expected[indexed[i].Index] - logits[i]) <= 1e-4, $"pair {i}: expected {expected[indexed[i].Index]}, got {logits[i]}");
        }
    }

    [Fact]
    public void Model_scan_tells_dynamic_int8_from_fp32()
    {
        Assert.False(OnnxModelScan.UsesDynamicQuantization(Path.Combine(TestPaths.TinyModel, "model.onnx")));
        Assert.True(OnnxModelScan.UsesDynamicQuantization(Path.Combine(TestPaths.TinyModel, "model_int8.onnx")));

        using var stream = File.OpenRead(Path.Combine(TestPaths.TinyModel, "model.onnx"));
        var ops = OnnxModelScan.OpTypes(stream);
        Assert.Contains("MatMul", ops);
        Assert.Contains("Softmax", ops);
        Assert.DoesNotContain("DynamicQuantizeLinear", ops);
    }

    [Fact]
    public void Model_scan_treats_an_unreadable_file_as_quantized()
    {
        var path = Path.Combine(Path.GetTempPath(), $"reranker-scan-{Environment.ProcessId}.onnx");
        File.WriteAllBytes(path, [0x3A, 0xFF]); // field 7, length-delimited, then a varint cut short
        try
        {
            Assert.True(OnnxModelScan.UsesDynamicQuantization(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

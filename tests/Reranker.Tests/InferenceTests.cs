using System.Globalization;
using Reranker.Inference;
using Reranker.Tests.Support;
using Reranker.Tokenization;
using Xunit.Abstractions;

namespace Reranker.Tests;

/// <summary>
/// The ONNX inference layer on the golden token ids: these tests do not depend on the C# tokenizer. Expected values
/// come from the reference Python stack (torch and onnxruntime), never from this code.
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class InferenceTests(ITestOutputHelper output)
{
    private const double LogitTolerance = 1e-4;
    private const int PadId = 1;

    [Fact]
    public void Fp32_logits_match_torch_for_all_288_golden_pairs_including_8192_token_rows()
    {
        var rows = GoldenData.Pairs;
        Assert.Equal(288, rows.Count);
        Assert.Contains(rows, r => r.InputIds.Length == 8192);

        using var session = LogitSession.Load(Path.Combine(TestPaths.TinyModel, "model.onnx"), 0);
        var logits = session.Run(rows.Select(r => r.InputIds).ToArray(), PadId, batchSize: 32, maxBatchTokens: 8192);

        AssertClose(rows.Select(r => r.Logit).ToArray(), logits, LogitTolerance, "fp32 vs torch");
    }

    [Fact]
    public void Int8_logits_match_python_onnxruntime_for_all_288_golden_pairs()
    {
        var rows = GoldenData.RawPairs;
        var expected = GoldenData.OnnxRuntimeLogits("model_int8.onnx");
        Assert.Equal(rows.Count, expected.Length);

        // Dynamic int8 quantization picks its scale from the whole batch (padding included), so a batch scores a
        // little differently from pairs run alone. The goldens ran pair by pair: so does this test. As exported: the
        // bit-parity with Python onnxruntime that RewriteAttention = false keeps (AttentionRewriteTests covers the
        // rewritten int8 path and its tolerance).
        using var session = LogitSession.Load(Path.Combine(TestPaths.TinyModel, "model_int8.onnx"), 0, rewriteAttention: false);
        var logits = session.Run(rows.Select(r => r.InputIds).ToArray(), PadId, batchSize: 1, maxBatchTokens: 8192);

        AssertClose(expected, logits, LogitTolerance, "int8 vs python onnxruntime int8");
    }

    [Fact]
    public void Int8_logits_in_default_batches_stay_near_the_unbatched_goldens()
    {
        // Batching a dynamic int8 model moves its logits (the activation scale is taken over the whole batch, padding
        // included): about 0.11 here, as much as int8 itself costs against fp32 (about 0.1 on this fixture, per
        // FIXTURE-README). That is why CrossEncoderOptions.BatchSize defaults to 1. A padding or ordering bug would
        // be far outside these bounds.
        var rows = GoldenData.RawPairs.Select((r, i) => (Row: r, Index: i)).Where(x => x.Row.InputIds.Length <= 512).ToArray();
        var int8Singles = GoldenData.OnnxRuntimeLogits("model_int8.onnx");
        // As exported, so that the batches really are padded (the attention rewrite batches equal lengths only).
        using var session = LogitSession.Load(Path.Combine(TestPaths.TinyModel, "model_int8.onnx"), 0, rewriteAttention: false);
        var logits = session.Run(rows.Select(x => x.Row.InputIds).ToArray(), PadId, batchSize: 32, maxBatchTokens: 8192);

        AssertClose(rows.Select(x => int8Singles[x.Index]).ToArray(), logits, 0.15, "int8 batched vs python int8 one by one");
        AssertClose(rows.Select(x => x.Row.Logit).ToArray(), logits, 0.15, "int8 batched vs fp32 torch");
    }

    [Fact]
    public void Golden_padded_batch_gives_the_logits_of_each_pair_alone()
    {
        var batch = GoldenData.ReadJson("batch.json");
        var ids = batch.GetProperty("input_ids").EnumerateArray().Select(GoldenData.Ints).ToArray();
        var mask = batch.GetProperty("attention_mask").EnumerateArray().Select(GoldenData.Ints).ToArray();
        var expected = batch.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var rows = ids.Length;
        var columns = ids[0].Length;
        Assert.Contains(mask, m => m.Contains(0)); // it really is padded

        // As exported: a padded batch needs the attention mask, which the load-time attention rewrite drops.
        using var session = LogitSession.Load(Path.Combine(TestPaths.TinyModel, "model.onnx"), 0, rewriteAttention: false);
        var padded = new float[rows];
        session.RunPadded(
            ids.SelectMany(r => r).Select(i => (long)i).ToArray(),
            mask.SelectMany(r => r).Select(i => (long)i).ToArray(),
            rows,
            columns,
            padded);
        AssertClose(expected, padded, LogitTolerance, "padded batch vs golden");

        // The same pairs one by one (padding stripped), against the torch logits of the same pairs in pairs.jsonl.
        var pairs = batch.GetProperty("pairs").EnumerateArray()
            .Select(p => (Query: p[0].GetString()!, Passage: p[1].GetString()!)).ToArray();
        var maxLength = batch.GetProperty("max_length").GetInt32();
        var single = GoldenData.Pairs
            .Where(g => g.MaxLength == maxLength && g.Truncation == TruncationStrategy.LongestFirst)
            .ToDictionary(g => (g.Query, g.Passage));
        var unpadded = ids.Select((r, i) => r.Take(mask[i].Count(m => m == 1)).ToArray()).ToArray();
        for (var i = 0; i < rows; i++)
        {
            Assert.Equal(single[pairs[i]].InputIds, unpadded[i]);
        }

        var oneByOne = session.Run(unpadded, PadId, batchSize: 1, maxBatchTokens: 1);
        AssertClose(pairs.Select(p => single[p].Logit).ToArray(), oneByOne, LogitTolerance, "one by one vs torch");
        AssertClose(oneByOne.Select(l => (double)l).ToArray(), padded, LogitTolerance, "padded batch vs one by one");
    }

    [Theory]
    [InlineData(1, 1 << 20, true)]
    [InlineData(3, 1 << 20, true)]
    [InlineData(32, 1 << 20, true)]
    [InlineData(32, 64, true)]
    [InlineData(32, 700, true)]
    [InlineData(1000, 1 << 20, true)]
    [InlineData(1, 1 << 20, false)]
    [InlineData(32, 1 << 20, false)]
    [InlineData(32, 700, false)]
    public void Logits_do_not_depend_on_batch_size_or_token_budget(int batchSize, int maxBatchTokens, bool rewriteAttention)
    {
        // Every row up to 512 tokens (the 8192-token rows are covered above and are slow to pad a batch to).
        var rows = GoldenData.Pairs.Where(r => r.InputIds.Length <= 512).ToArray();
        using var session = LogitSession.Load(Path.Combine(TestPaths.TinyModel, "model.onnx"), 0, rewriteAttention);
        var logits = session.Run(rows.Select(r => r.InputIds).ToArray(), PadId, batchSize, maxBatchTokens);
        AssertClose(rows.Select(r => r.Logit).ToArray(), logits, LogitTolerance, $"batch {batchSize}, budget {maxBatchTokens}");
    }

    [Theory]
    [InlineData(1, 1000)]
    [InlineData(4, 1000)]
    [InlineData(32, 100)]
    [InlineData(32, 1)]
    public void Batch_plan_sorts_by_length_respects_both_limits_and_covers_every_pair_once(int batchSize, int maxBatchTokens)
    {
        int[] lengths = [50, 7, 300, 7, 20, 120, 7, 2000, 33, 50, 1, 64];
        var batches = LogitSession.PlanBatches(lengths, batchSize, maxBatchTokens);

        Assert.Equal(Enumerable.Range(0, lengths.Length), batches.SelectMany(b => b).Order());
        foreach (var batch in batches)
        {
            Assert.InRange(batch.Length, 1, batchSize);
            var longest = batch.Max(i => lengths[i]);
            Assert.True(batch.Length == 1 || batch.Length * longest <= maxBatchTokens, $"batch of {batch.Length} × {longest} exceeds {maxBatchTokens}");
        }

        // Sorted: concatenated, the batches list the pairs by length, equal lengths in input order.
        var flat = batches.SelectMany(b => b).ToArray();
        Assert.Equal(Enumerable.Range(0, lengths.Length).OrderBy(i => lengths[i]).ThenBy(i => i), flat);
    }

    [Fact]
    public void Feeds_declared_inputs_with_pad_id_zero_mask_on_padding_and_zero_token_types()
    {
        // logits = Σ input_ids + 1000 Σ attention_mask + 1e6 Σ token_type_ids over each padded row.
        var model = new OnnxGraphWriter()
            .Input("input_ids", OnnxGraphWriter.Int64, "batch", "sequence")
            .Input("attention_mask", OnnxGraphWriter.Int64, "batch", "sequence")
            .Input("token_type_ids", OnnxGraphWriter.Int64, "batch", "sequence")
            .Output("logits", OnnxGraphWriter.Float, "batch", 1)
            .Scalar("thousand", 1000f)
            .Scalar("million", 1e6f)
            .Node("Cast", ["input_ids"], ["ids_f"], ("to", 1))
            .Node("Cast", ["attention_mask"], ["mask_f"], ("to", 1))
            .Node("Cast", ["token_type_ids"], ["types_f"], ("to", 1))
            .Node("Mul", ["mask_f", "thousand"], ["mask_k"])
            .Node("Mul", ["types_f", "million"], ["types_m"])
            .Node("Add", ["ids_f", "mask_k"], ["sum1"])
            .Node("Add", ["sum1", "types_m"], ["sum2"])
            .Node("ReduceSum", ["sum2"], ["logits"], ("axes", new long[] { 1 }), ("keepdims", 1))
            .ToModel();
        using var directory = new TempModelDirectory(copyModel: false);
        directory.Write("model.onnx", model);

        int[][] sequences = [[0, 10, 11, 2], [0, 2], [0, 5, 6, 7, 8, 9, 2], [0, 3, 2]];
        const int padId = 1;
        using var session = LogitSession.Load(directory.File("model.onnx"), 1);
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], session.InputNames);
        var logits = session.Run(sequences, padId, batchSize: 100, maxBatchTokens: 1000);

        // One batch, padded to the longest sequence (7).
        var expected = sequences.Select(s => s.Sum() + (padId * (7 - s.Length)) + (1000.0 * s.Length)).ToArray();
        AssertClose(expected, logits, 0, "hand-computed input sums");
    }

    private void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double tolerance, string what) =>
        LogitAssert.Close(output, expected, actual, tolerance, what);
}

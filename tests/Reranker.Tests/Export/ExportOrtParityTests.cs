using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Reranker.Export;
using Reranker.Tests.Support;
using Xunit.Abstractions;
using static Reranker.Tests.Export.ExportTestSupport;

namespace Reranker.Tests.Export;

/// <summary>
/// Our export against the Python reference models as ONNX Runtime optimizes them (level ALL): the optimized
/// graphs must hold the same fused operators, and the logits must be bit-identical on seeded random inputs
/// (single rows and right-padded batches), not only on the golden rows. The int8 reference is
/// <c>quantize_dynamic(weight_type=QInt8, per_channel=True)</c> of the torch export, whose value_info (from
/// onnx shape inference) decides which residual Add + LayerNormalization pairs ORT fuses into
/// SkipLayerNormalization; a different fusion rounds differently, which dynamic quantization then amplifies
/// (on the tiny model the difference stays below 1e-6, so only bit-identity shows it). Raw sessions, not
/// CrossEncoder, so engine-side graph rewrites do not enter.
/// </summary>
public sealed class ExportOrtParityTests(TinyExportFixture fx, ITestOutputHelper output) : IClassFixture<TinyExportFixture>
{
    private static string ReferenceFp32 => Path.Combine(TestPaths.TinyModel, "model.onnx");

    private static string ReferenceInt8 => Path.Combine(TestPaths.TinyModel, "model_int8.onnx");

    [Fact]
    public void Int8_optimized_graph_has_the_same_operators_as_quantize_dynamics()
    {
        var (ours, reference) = CompareComputeOps(fx.Int8.ModelPath, ReferenceInt8);
        Assert.True(reference.ContainsKey("com.microsoft:SkipLayerNormalization"), "the reference fuses some residual Add + LayerNorm pairs");
        Assert.Equal(ExportedModelCheck.FormatOpCounts(reference), ExportedModelCheck.FormatOpCounts(ours));
    }

    [Fact]
    public void Int8_logits_are_bit_identical_to_quantize_dynamics_on_random_inputs()
    {
        AssertBitIdentical(fx.Int8.ModelPath, ReferenceInt8, "int8");
    }

    [Fact]
    public void Int8_fuses_only_each_layers_ffn_residual_as_the_reference_does_on_a_deeper_model()
    {
        // quantize_dynamic's model of a 2-layer export fuses 2 of its 5 Add + LayerNorm pairs (the test above): the
        // FFN residual of each layer, never the embeddings' sum or the attention residual (on a 3-layer model of
        // other sizes, 3 of 7). Check that rule, not the tiny model's count, on 3 layers of other widths.
        var dir = NewTempDir();
        try
        {
            var config = Path.Combine(dir, "config.json");
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "models", "bge-reranker-v2-m3.config.json")))!.AsObject();
            json["num_hidden_layers"] = 3;
            json["hidden_size"] = 48;
            json["num_attention_heads"] = 3;
            json["intermediate_size"] = 96;
            json["vocab_size"] = 8002;
            json["max_position_embeddings"] = 258;
            File.WriteAllText(config, json.ToJsonString());
            var int8 = ModelExporter.Export(ExportSource.RandomWeights(config, 5, TestPaths.TinyModel), Path.Combine(dir, "int8"), new ExportOptions { Int8 = true });
            var ops = OptimizedOpCounts(int8.ModelPath);
            output.WriteLine(ExportedModelCheck.FormatOpCounts(ops));
            Assert.Equal(3, ops.GetValueOrDefault("com.microsoft:SkipLayerNormalization"));
            Assert.Equal(1 + 3, ops.GetValueOrDefault("LayerNormalization"));

            // fp32, like the torch export, has no value_info: ORT fuses no pair.
            var fp32 = ModelExporter.Export(ExportSource.RandomWeights(config, 5, TestPaths.TinyModel), Path.Combine(dir, "fp32"));
            var fp32Ops = OptimizedOpCounts(fp32.ModelPath);
            Assert.False(fp32Ops.ContainsKey("com.microsoft:SkipLayerNormalization"));
            Assert.Equal(1 + (2 * 3), fp32Ops.GetValueOrDefault("LayerNormalization"));
        }
        finally
        {
            DeleteQuietly(dir);
        }
    }

    [Fact]
    public void Fp32_optimized_graph_has_the_same_operators_as_the_torch_exports()
    {
        var (ours, reference) = CompareComputeOps(fx.Fp32.ModelPath, ReferenceFp32);
        Assert.Equal(ExportedModelCheck.FormatOpCounts(reference), ExportedModelCheck.FormatOpCounts(ours));
    }

    [Fact]
    public void Fp32_logits_are_bit_identical_to_the_torch_exports_on_random_inputs()
    {
        AssertBitIdentical(fx.Fp32.ModelPath, ReferenceFp32, "fp32");
    }

    /// <summary>
    /// Operators that compute on the hidden states, fused or not. The shape plumbing (Shape, Gather of dims,
    /// Concat, Unsqueeze, Range, Expand, ...) and the mask construction are laid out differently in the torch
    /// export and are left out; every com.microsoft (fused) operator counts.
    /// </summary>
    private static readonly HashSet<string> ComputeOps = new(StringComparer.Ordinal)
    {
        "LayerNormalization", "MatMul", "Gemm", "MatMulInteger", "DynamicQuantizeLinear", "DequantizeLinear", "Softmax", "Erf", "Tanh",
    };

    private (IReadOnlyDictionary<string, int> Ours, IReadOnlyDictionary<string, int> Reference) CompareComputeOps(string ours, string reference)
    {
        var all = OptimizedOpCounts(ours);
        var allReference = OptimizedOpCounts(reference);
        output.WriteLine($"ours, optimized:      {ExportedModelCheck.FormatOpCounts(all)}");
        output.WriteLine($"reference, optimized: {ExportedModelCheck.FormatOpCounts(allReference)}");
        return (Compute(all), Compute(allReference));

        static IReadOnlyDictionary<string, int> Compute(IReadOnlyDictionary<string, int> counts) =>
            counts.Where(kv => ComputeOps.Contains(kv.Key) || kv.Key.StartsWith("com.microsoft:", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>Logits of both models on the same random inputs must have identical bits.</summary>
    private void AssertBitIdentical(string ours, string reference, string what)
    {
        var vocab = XlmRobertaConfig.Load(Path.Combine(TestPaths.TinyModel, "config.json")).VocabSize;
        using var oursSession = Session(ours);
        using var referenceSession = Session(reference);
        var random = new Random(20261203);
        int compared = 0, differing = 0;
        var worst = 0.0;
        var worstInput = "";
        foreach (var (ids, mask, batch, seq) in RandomInputs(random, vocab))
        {
            var a = Run(oursSession, ids, mask, batch, seq);
            var b = Run(referenceSession, ids, mask, batch, seq);
            for (var i = 0; i < batch; i++)
            {
                compared++;
                if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
                {
                    differing++;
                    var d = Math.Abs((double)a[i] - b[i]);
                    if (!(d <= worst))
                    {
                        worst = d;
                        worstInput = $"batch {batch} x {seq}, row {i}: {a[i]:R} vs {b[i]:R}";
                    }
                }
            }
        }

        output.WriteLine($"{what}: {compared} logits compared, {differing} differ, max |diff| {worst:G3} {worstInput}");
        Assert.True(differing == 0, $"{what}: {differing} of {compared} logits differ from the reference model's (max |diff| {worst:G3}, {worstInput})");
    }

    /// <summary>
    /// 160 single rows of 2 to 200 tokens and 40 right-padded batches of 2 to 4 rows: &lt;s&gt; ids &lt;/s&gt;, ids uniform
    /// over the ordinary vocabulary (no special ids inside), seeded.
    /// </summary>
    private static IEnumerable<(long[] Ids, long[] Mask, int Batch, int Seq)> RandomInputs(Random random, int vocab)
    {
        for (var n = 0; n < 200; n++)
        {
            var batch = n < 160 ? 1 : random.Next(2, 5);
            var lengths = Enumerable.Range(0, batch).Select(_ => random.Next(2, 201)).ToArray();
            var seq = lengths.Max();
            var ids = new long[batch * seq];
            var mask = new long[batch * seq];
            Array.Fill(ids, 1L); // <pad>
            for (var r = 0; r < batch; r++)
            {
                for (var t = 0; t < lengths[r]; t++)
                {
                    ids[(r * seq) + t] = t == 0 ? 0 : t == lengths[r] - 1 ? 2 : random.Next(4, vocab - 1);
                    mask[(r * seq) + t] = 1;
                }
            }

            yield return (ids, mask, batch, seq);
        }
    }

    private static InferenceSession Session(string modelPath, string? optimizedPath = null)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        if (optimizedPath is not null)
        {
            options.OptimizedModelFilePath = optimizedPath;
        }

        return new InferenceSession(modelPath, options);
    }

    private static float[] Run(InferenceSession session, long[] ids, long[] mask, int batch, int seq)
    {
        var shape = new[] { batch, seq };
        using var outputs = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, shape)),
        ]);
        return outputs.Single(o => o.Name == "logits").AsTensor<float>().ToArray();
    }

    /// <summary>Operator counts of the graph ORT's optimizer (level ALL, CPU) makes of a model.</summary>
    private static IReadOnlyDictionary<string, int> OptimizedOpCounts(string modelPath)
    {
        var dir = NewTempDir();
        try
        {
            var optimized = Path.Combine(dir, "optimized.onnx");
            using (Session(modelPath, optimized))
            {
            }

            return ExportedModelCheck.CountOps(optimized);
        }
        finally
        {
            DeleteQuietly(dir);
        }
    }
}

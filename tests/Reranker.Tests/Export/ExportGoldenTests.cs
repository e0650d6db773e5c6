using Reranker.Tests.Support;
using Reranker.Export;
using Xunit.Abstractions;
using static Reranker.Tests.Export.ExportTestSupport;

namespace Reranker.Tests.Export;

/// <summary>
/// The exported tiny model against the goldens of the Python reference: torch logits (fp32) and the logits
/// Python onnxruntime gives for quantize_dynamic's int8 model, on every row of pairs.jsonl.
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class ExportGoldenTests(TinyExportFixture fx, ITestOutputHelper output) : IClassFixture<TinyExportFixture>
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void Fp32_export_matches_torch_logits_on_every_row_including_8192_tokens()
    {
        Assert.Null(fx.Fp32.ExternalDataPath);
        var logits = Logits(fx.Fp32.ModelPath, Pairs.Select(p => p.InputIds));
        var worst = AssertClose(logits, Pairs.Select(p => p.Logit).ToArray(), Tolerance, "fp32 vs torch");
        var longRows = Enumerable.Range(0, Pairs.Count).Where(i => Pairs[i].InputIds.Length == 8192).ToArray();
        Assert.Equal(2, longRows.Length);
        var worstLong = AssertClose(longRows.Select(i => logits[i]).ToArray(), longRows.Select(i => Pairs[i].Logit).ToArray(), Tolerance, "fp32 8192-token rows");
        output.WriteLine($"fp32 max |diff| vs torch: {worst:G3} (8192-token rows: {worstLong:G3})");
    }

    [Fact]
    public void Int8_export_matches_python_onnxruntime_int8_logits_on_every_row()
    {
        var golden = OrtGolden("model_int8.onnx");
        Assert.Equal(Pairs.Count, golden.Length);
        var logits = Logits(fx.Int8.ModelPath, Pairs.Select(p => p.InputIds));
        var worst = AssertClose(logits, golden, Tolerance, "int8 vs model_int8.onnx golden");
        var worstTorch = Enumerable.Range(0, logits.Length).Max(i => Math.Abs(logits[i] - Pairs[i].Logit));
        output.WriteLine($"int8 max |diff| vs Python ORT int8 golden: {worst:G3}; vs torch fp32: {worstTorch:G3}");
        Assert.True(worstTorch > 1e-3, "an int8 model that equals fp32 this closely is not quantized");
    }

    [Fact]
    public void External_data_export_gives_the_same_logits()
    {
        Assert.NotNull(fx.External.ExternalDataPath);
        Assert.True(new FileInfo(fx.External.ExternalDataPath!).Length > 4_000_000, "the weights are in model.onnx.data");
        Assert.True(new FileInfo(fx.External.ModelPath).Length < 100_000, "model.onnx holds only the graph and small tensors");
        var logits = Logits(fx.External.ModelPath, Pairs.Select(p => p.InputIds));
        var worst = AssertClose(logits, Pairs.Select(p => p.Logit).ToArray(), Tolerance, "fp32 external data vs torch");
        output.WriteLine($"fp32 external data max |diff| vs torch: {worst:G3}");

        // int8 with external data: every row but the two 8192-token ones (the fp32 pass above covers those).
        Assert.NotNull(fx.Int8External.ExternalDataPath);
        var rows = Enumerable.Range(0, Pairs.Count).Where(i => Pairs[i].InputIds.Length < 8192).ToArray();
        var golden = OrtGolden("model_int8.onnx");
        var int8 = Logits(fx.Int8External.ModelPath, rows.Select(i => Pairs[i].InputIds));
        AssertClose(int8, rows.Select(i => golden[i]).ToArray(), Tolerance, "int8 external data vs golden");
    }

    [Fact]
    public void Output_directory_is_a_complete_model_directory()
    {
        var files = Directory.GetFiles(fx.Fp32.OutputDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "config.json", "model.onnx", "sentencepiece.bpe.model", "tokenizer.json", "tokenizer_config.json" }, files);
        foreach (var name in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(fx.Snapshot, name)), File.ReadAllBytes(Path.Combine(fx.Fp32.OutputDirectory, name)));
        }

        // Nothing but the finished directories is left beside them (no temporary directories).
        Assert.Equal(new[] { "fp32", "fp32-external", "int8", "int8-external" },
            Directory.GetFileSystemEntries(fx.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Exported_graph_has_the_reference_interface_and_ops()
    {
        var ops = ExportedModelCheck.CountOps(fx.Fp32.ModelPath);
        Assert.Equal(2 * (6 + 2), ops["MatMul"]); // per layer: 6 linear layers and 2 attention matmuls
        Assert.Equal(2 * 2 + 1, ops["LayerNormalization"]);
        Assert.Equal(2, ops["Erf"]);
        Assert.Equal(2, ops["Gemm"]);
        var int8Ops = ExportedModelCheck.CountOps(fx.Int8.ModelPath);
        Assert.Equal(2 * 6 + 2, int8Ops["MatMulInteger"]);
        Assert.Equal(3, int8Ops["DequantizeLinear"]);
        Assert.False(int8Ops.ContainsKey("Gemm"));
    }
}

using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Reranker.Export;

namespace Reranker.Tests.Export;

/// <summary>Temporary directories, the tiny snapshot as an export input, goldens and an ORT runner.</summary>
internal static class ExportTestSupport
{
    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "reranker-export-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Copies the tiny model's Hugging Face files (no ONNX) into a new snapshot directory.</summary>
    public static string CopyTinySnapshot()
    {
        var dir = NewTempDir();
        foreach (var name in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model" })
        {
            File.Copy(Path.Combine(TestPaths.TinyModel, name), Path.Combine(dir, name));
        }

        return dir;
    }

    public sealed record GoldenPair(long[] InputIds, double Logit);

    /// <summary>The rows of pairs.jsonl as written (the ids the reference models scored), ids widened for ORT.</summary>
    public static IReadOnlyList<GoldenPair> Pairs { get; } =
        Support.GoldenData.RawPairs.Select(r => new GoldenPair(r.InputIds.Select(i => (long)i).ToArray(), r.Logit)).ToArray();

    /// <summary>The Python onnxruntime logits of a reference model for every pairs.jsonl row.</summary>
    public static double[] OrtGolden(string model) => Support.GoldenData.OnnxRuntimeLogits(model);

    /// <summary>Logits for each row, one row per run with an all-ones mask.</summary>
    public static float[] Logits(string modelPath, IEnumerable<long[]> rows)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        using var session = new InferenceSession(modelPath, options);
        var result = new List<float>();
        foreach (var ids in rows)
        {
            var shape = new[] { 1, ids.Length };
            using var outputs = session.Run(
            [
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, ids.Length).ToArray(), shape)),
            ]);
            var logits = outputs.Single(o => o.Name == "logits").AsTensor<float>();
            Assert.Equal(new[] { 1, 1 }, logits.Dimensions.ToArray());
            result.Add(logits[0, 0]);
        }

        return result.ToArray();
    }

    /// <summary>Largest |actual - expected|, asserting it is within the tolerance (and reporting the worst row).</summary>
    public static double AssertClose(IReadOnlyList<float> actual, IReadOnlyList<double> expected, double tolerance, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        var worst = 0.0;
        var worstRow = -1;
        for (var i = 0; i < actual.Count; i++)
        {
            var d = Math.Abs(actual[i] - expected[i]);
            if (!(d <= worst))
            {
                worst = d;
                worstRow = i;
            }
        }

        Assert.True(worst <= tolerance, $"{what}: max |diff| {worst:G4} at row {worstRow} (got {actual[Math.Max(worstRow, 0)]}, expected {expected[Math.Max(worstRow, 0)]}), tolerance {tolerance}");
        return worst;
    }

    public static void DeleteQuietly(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Exports the tiny snapshot once per test class: fp32, int8, and fp32 with forced external data.</summary>
public sealed class TinyExportFixture : IDisposable
{
    public TinyExportFixture()
    {
        Snapshot = ExportTestSupport.CopyTinySnapshot();
        Root = ExportTestSupport.NewTempDir();
        Fp32 = ModelExporter.Export(ExportSource.FromSnapshot(Snapshot), Path.Combine(Root, "fp32"));
        Int8 = ModelExporter.Export(ExportSource.FromSnapshot(Snapshot), Path.Combine(Root, "int8"), new ExportOptions { Int8 = true });
        External = ModelExporter.Export(ExportSource.FromSnapshot(Snapshot), Path.Combine(Root, "fp32-external"), new ExportOptions { ExternalDataThreshold = 0 });
        Int8External = ModelExporter.Export(ExportSource.FromSnapshot(Snapshot), Path.Combine(Root, "int8-external"),
            new ExportOptions { Int8 = true, ExternalDataThreshold = 4096 });
    }

    public string Snapshot { get; }

    public string Root { get; }

    public ExportResult Fp32 { get; }

    public ExportResult Int8 { get; }

    public ExportResult External { get; }

    public ExportResult Int8External { get; }

    public void Dispose()
    {
        ExportTestSupport.DeleteQuietly(Snapshot);
        ExportTestSupport.DeleteQuietly(Root);
    }
}

using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Reranker.Export.Onnx;

namespace Reranker.Export;

/// <summary>Result of <see cref="ExportedModelCheck.Run"/>.</summary>
/// <param name="Logits">The logits of the one forward pass ([1, 1]).</param>
/// <param name="SequenceLength">Tokens fed.</param>
/// <param name="SessionCreation">Time to create the ONNX Runtime session.</param>
/// <param name="FirstRun">Time of the forward pass.</param>
/// <param name="OptimizedOpCounts">Operator counts of ORT's optimized graph (domain-qualified for non-ONNX ops), when requested.</param>
/// <param name="RepeatRuns">Times of the runs after the first (empty unless more than one run was asked for).</param>
public sealed record ModelCheckResult(
    float[] Logits,
    int SequenceLength,
    TimeSpan SessionCreation,
    TimeSpan FirstRun,
    IReadOnlyDictionary<string, int>? OptimizedOpCounts,
    IReadOnlyList<TimeSpan> RepeatRuns);

/// <summary>
/// Loads an exported model directory in ONNX Runtime and runs one forward pass on seeded random token ids,
/// optionally saving the graph ORT's optimizer makes of it and counting its operators.
/// </summary>
public static class ExportedModelCheck
{
    /// <summary>Runs the check.</summary>
    /// <param name="modelDirectory">A directory with <c>model.onnx</c> and <c>config.json</c>.</param>
    /// <param name="sequenceLength">Tokens in the one sequence fed (at least 2).</param>
    /// <param name="optimizedModelPath">Where to save ORT's optimized graph (all optimizations), or null.</param>
    /// <param name="intraOpThreads">ORT intra-op threads; 0 is ORT's default.</param>
    /// <param name="runs">Forward passes (the first is also a warm-up; the others are timed in <see cref="ModelCheckResult.RepeatRuns"/>).</param>
    public static ModelCheckResult Run(string modelDirectory, int sequenceLength = 128, string? optimizedModelPath = null, int intraOpThreads = 0, int runs = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 2);
        var config = XlmRobertaConfig.Load(Path.Combine(modelDirectory, "config.json"));
        if (sequenceLength > config.MaxPositionEmbeddings - config.PadTokenId - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), $"the model takes at most {config.MaxPositionEmbeddings - config.PadTokenId - 1} tokens");
        }

        var random = new Random(0);
        var ids = new long[sequenceLength];
        for (var i = 1; i < ids.Length - 1; i++)
        {
            ids[i] = random.Next(4, config.VocabSize - 1);
        }

        ids[0] = 0;
        ids[^1] = 2;
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (intraOpThreads > 0)
        {
            options.IntraOpNumThreads = intraOpThreads;
        }

        if (optimizedModelPath is not null)
        {
            options.OptimizedModelFilePath = optimizedModelPath;
        }

        var clock = Stopwatch.StartNew();
        using var session = new InferenceSession(Path.Combine(modelDirectory, ModelExporter.ModelFileName), options);
        var created = clock.Elapsed;
        clock.Restart();
        var shape = new[] { 1, sequenceLength };
        List<NamedOnnxValue> inputs =
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, sequenceLength).ToArray(), shape)),
        ];
        if (session.InputMetadata.ContainsKey("token_type_ids"))
        {
            // A BERT export: one segment, type 0.
            inputs.Add(NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[sequenceLength], shape)));
        }
        float[] logits;
        using (var results = session.Run(inputs))
        {
            logits = results.First(r => r.Name == "logits").AsTensor<float>().ToArray();
        }

        var first = clock.Elapsed;
        var repeats = new List<TimeSpan>();
        for (var i = 1; i < runs; i++)
        {
            clock.Restart();
            using var again = session.Run(inputs);
            repeats.Add(clock.Elapsed);
        }

        return new ModelCheckResult(logits, sequenceLength, created, first,
            optimizedModelPath is null ? null : CountOps(optimizedModelPath), repeats);
    }

    /// <summary>Operator counts of an ONNX model file (<c>domain:op</c> for ops outside the default domain).</summary>
    public static IReadOnlyDictionary<string, int> CountOps(string modelPath)
    {
        using var f = File.OpenRead(modelPath);
        var model = ModelProto.Parser.ParseFrom(f);
        return model.Graph.Node
            .GroupBy(n => string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx" ? n.OpType : $"{n.Domain}:{n.OpType}")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
    }

    /// <summary>The operator counts as one JSON object.</summary>
    public static string FormatOpCounts(IReadOnlyDictionary<string, int> counts) => JsonSerializer.Serialize(counts);
}

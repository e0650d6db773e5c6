using System.Globalization;
using Reranker.Export;

namespace Reranker.Cli;

/// <summary><c>reranker export</c>: a Hugging Face snapshot (or random weights) to an ONNX model directory.</summary>
internal static class ExportCommand
{
    internal const string Usage = """
        usage: reranker export --from SNAPSHOT_DIR --out DIR [options]
               reranker export --random-weights --config CONFIG.json [--seed N] [--tokenizer-from DIR] --out DIR [options]
               reranker export --check MODEL_DIR [--tokens N] [--optimized-model FILE] [--threads N]

        Writes DIR/model.onnx (opset 17; inputs input_ids and attention_mask, int64 [batch, sequence];
        output logits, float [batch, 1]) for an XLMRobertaForSequenceClassification with one label,
        plus config.json and the tokenizer files, so DIR is a complete model directory. DIR appears
        only when the export succeeded.

        options:
          --from DIR                  Hugging Face snapshot: config.json, model.safetensors, tokenizer files
          --random-weights            seeded random weights (HF init) instead of a snapshot; needs --config
          --config FILE               config.json of the architecture (with --random-weights)
          --seed N                    seed of the random weights (default 0); same seed, same bytes
          --tokenizer-from DIR        copy tokenizer files from DIR (with --random-weights)
          --out DIR                   the model directory to write
          --int8                      dynamic int8 quantization (per-channel symmetric int8 weights)
          --external-data             always keep weights in model.onnx.data
          --external-data-threshold BYTES
                                      use model.onnx.data when the weights take BYTES or more (default 256 MiB)
          --force                     replace DIR if it exists and is not empty
          --check MODEL_DIR           load an exported model in ONNX Runtime and run one forward pass
          --tokens N                  tokens of that forward pass (default 128)
          --optimized-model FILE      with --check: save ORT's optimized graph there and count its operators
          --threads N                 with --check: ORT intra-op threads (default: ORT's choice)
          --runs N                    with --check: forward passes; the ones after the first are timed
          --no-shape-hints            int8: leave out the value_info shape hints (only to compare ORT's fusions)
          --multi-head-attention      write attention as com.microsoft.MultiHeadAttention without a mask (ORT's
                                      tiled CPU attention; unpadded batches only). Not needed for this library,
                                      which rewrites at load time; see docs/EXPORT.md
        """;

    /// <summary>Runs the command; returns 0 on success, 1 when the export failed, 2 on bad usage.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? from = null, config = null, tokenizerFrom = null, output = null, check = null, optimized = null;
        bool random = false, int8 = false, force = false, mha = false;
        long seed = 0, threshold = ExportOptions.DefaultExternalDataThreshold;
        int tokens = 128, threads = 0, runs = 1;
        var shapeHints = true;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                    ? args[++i]
                    : throw new UsageException($"{args[i]} needs a value");
                long Number(long min)
                {
                    var option = args[i];
                    var text = Value();
                    return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
                        ? n
                        : throw new UsageException($"{option} needs an integer of at least {min}, got '{text}'");
                }

                switch (args[i])
                {
                    case "-h" or "--help":
                        stdout.WriteLine(Usage);
                        return 0;
                    case "--from": from = Value(); break;
                    case "--random-weights": random = true; break;
                    case "--config": config = Value(); break;
                    case "--seed": seed = Number(long.MinValue); break;
                    case "--tokenizer-from": tokenizerFrom = Value(); break;
                    case "--out": output = Value(); break;
                    case "--int8": int8 = true; break;
                    case "--external-data": threshold = 0; break;
                    case "--external-data-threshold": threshold = Number(0); break;
                    case "--force": force = true; break;
                    case "--check": check = Value(); break;
                    case "--tokens": tokens = (int)Math.Min(Number(2), int.MaxValue); break;
                    case "--optimized-model": optimized = Value(); break;
                    case "--threads": threads = (int)Math.Min(Number(0), 256); break;
                    case "--runs": runs = (int)Math.Min(Number(1), 10_000); break;
                    case "--no-shape-hints": shapeHints = false; break;
                    case "--multi-head-attention": mha = true; break;
                    default: throw new UsageException($"unknown option '{args[i]}'");
                }
            }

            if (check is not null)
            {
                if (from is not null || random || output is not null)
                {
                    throw new UsageException("--check does not export: leave out --from, --random-weights and --out");
                }

                return RunCheck(check, tokens, optimized, threads, runs, stdout, stderr);
            }

            if (output is null)
            {
                throw new UsageException("--out DIR is required");
            }

            if (random == (from is not null))
            {
                throw new UsageException("give either --from SNAPSHOT_DIR or --random-weights --config FILE");
            }

            if (random && config is null)
            {
                throw new UsageException("--random-weights needs --config FILE");
            }

            if (!random && (config is not null || tokenizerFrom is not null))
            {
                throw new UsageException("--config and --tokenizer-from go with --random-weights (a snapshot has its own)");
            }
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"reranker export: {e.Message}");
            stderr.WriteLine("run 'reranker export --help' for the options.");
            return 2;
        }

        var source = random ? ExportSource.RandomWeights(config!, seed, tokenizerFrom) : ExportSource.FromSnapshot(from!);
        try
        {
            var result = ModelExporter.Export(source, output,
                new ExportOptions { Int8 = int8, ExternalDataThreshold = threshold, Overwrite = force, ShapeHints = shapeHints, MultiHeadAttention = mha }, stdout);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {result.OutputDirectory}: {ModelExporter.ModelFileName}{(result.ExternalDataPath is null ? "" : " + " + ModelExporter.ExternalDataFileName)}, {result.TotalBytes / 1048576.0:F1} MiB, copied {string.Join(", ", result.CopiedFiles)}; {result.Elapsed.TotalSeconds:F1} s"));
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException or ArgumentException)
        {
            stderr.WriteLine($"reranker export: {e.Message}");
            return 1;
        }
    }

    private static int RunCheck(string directory, int tokens, string? optimized, int threads, int runs, TextWriter stdout, TextWriter stderr)
    {
        ModelCheckResult r;
        try
        {
            r = ExportedModelCheck.Run(directory, tokens, optimized, threads, runs);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException
                                       or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            stderr.WriteLine($"reranker export --check: {e.Message}");
            return 1;
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{directory}: session {r.SessionCreation.TotalSeconds:F2} s, forward pass 1 x {r.SequenceLength} tokens {r.FirstRun.TotalMilliseconds:F0} ms, logits [{string.Join(", ", r.Logits)}]"));
        if (r.RepeatRuns.Count > 0)
        {
            var sorted = r.RepeatRuns.Select(t => t.TotalMilliseconds).Order().ToArray();
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{sorted.Length} more runs: min {sorted[0]:F1} ms, median {sorted[sorted.Length / 2]:F1} ms, max {sorted[^1]:F1} ms"));
        }

        if (r.OptimizedOpCounts is not null)
        {
            stdout.WriteLine($"optimized graph ({optimized}) operators: {ExportedModelCheck.FormatOpCounts(r.OptimizedOpCounts)}");
        }

        return r.Logits.All(float.IsFinite) ? 0 : 1;
    }

    private sealed class UsageException(string message) : Exception(message);
}

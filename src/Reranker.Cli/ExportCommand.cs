using System.CommandLine;
using System.Globalization;
using Reranker.Export;

namespace Reranker.Cli;

/// <summary><c>reranker export</c>: a Hugging Face snapshot (or random weights) to an ONNX model directory.</summary>
internal static class ExportCommand
{
    /// <summary>Builds the <c>export</c> verb.</summary>
    internal static Command CreateCommand()
    {
        var model = new Option<string>("--model", "--from")
        {
            Description = "Hugging Face snapshot to export (config.json, model.safetensors, tokenizer files); with --check, the exported model directory to check (REQUIRED unless --random-weights)",
            HelpName = "DIR",
        };
        var output = new Option<string>("--output", "--out") { Description = "the model directory to write; it appears only when the export succeeded (REQUIRED unless --check)", HelpName = "DIR" };
        var random = new Option<bool>("--random-weights") { Description = "seeded random weights (Hugging Face init) instead of a snapshot; needs --config [default: off]", DefaultValueFactory = _ => false };
        var config = new Option<string>("--config") { Description = "config.json of the architecture (with --random-weights) [default: none]", HelpName = "FILE" };
        var seed = new Option<long>("--seed") { Description = "seed of --random-weights; the same seed gives the same bytes", DefaultValueFactory = _ => 0, HelpName = "N" };
        var tokenizerFrom = new Option<string>("--tokenizer-from") { Description = "copy the tokenizer files from DIR (with --random-weights) [default: none]", HelpName = "DIR" };
        var int8 = new Option<bool>("--int8") { Description = "dynamic int8 quantization (per-channel symmetric int8 weights) [default: off]", DefaultValueFactory = _ => false };
        var externalData = new Option<bool>("--external-data") { Description = "always keep the weights in model.onnx.data [default: off]", DefaultValueFactory = _ => false };
        var threshold = new Option<long>("--external-data-threshold")
        {
            Description = "keep the weights in model.onnx.data when they take BYTES or more",
            DefaultValueFactory = _ => ExportOptions.DefaultExternalDataThreshold,
            HelpName = "BYTES",
        };
        var force = new Option<bool>("--force") { Description = "replace --output if it exists and is not empty [default: off]", DefaultValueFactory = _ => false };
        var check = new Option<string>("--check")
        {
            Description = "do not export: load the model directory (--model, or DIR here) in ONNX Runtime and run one forward pass [default: off]",
            HelpName = "DIR",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var tokens = new Option<int>("--tokens") { Description = "with --check: tokens of the forward pass", DefaultValueFactory = _ => 128, HelpName = "N" };
        var optimized = new Option<string>("--optimized-model") { Description = "with --check: save ONNX Runtime's optimized graph to FILE and count its operators [default: none]", HelpName = "FILE" };
        var threads = new Option<int>("--threads") { Description = "with --check: ONNX Runtime intra-op threads (0: its own choice)", DefaultValueFactory = _ => 0, HelpName = "N" };
        var runs = new Option<int>("--runs") { Description = "with --check: forward passes; the ones after the first are timed", DefaultValueFactory = _ => 1, HelpName = "N" };
        var noShapeHints = new Option<bool>("--no-shape-hints") { Description = "int8: leave out the value_info shape hints (only to compare ONNX Runtime's fusions) [default: off]", DefaultValueFactory = _ => false };
        var multiHeadAttention = new Option<bool>("--multi-head-attention")
        {
            Description = "write attention as com.microsoft.MultiHeadAttention without a mask (ONNX Runtime's tiled CPU attention; unpadded batches only). Not needed for this library, which rewrites attention at load time; see docs/EXPORT.md [default: off]",
            DefaultValueFactory = _ => false,
        };

        AtLeast(seed, long.MinValue);
        AtLeast(threshold, 0);
        AtLeast(tokens, 2);
        AtLeast(threads, 0);
        AtLeast(runs, 1);

        var command = new Command("export", """
            Export a Hugging Face snapshot (or random weights) to an ONNX model directory: model.onnx (opset 17; inputs
            input_ids and attention_mask, int64 [batch, sequence], and token_type_ids for BERT; output logits, float
            [batch, 1]) for an XLMRobertaForSequenceClassification or BertForSequenceClassification with one label,
            plus config.json and the tokenizer files.
            Forms: export --model SNAPSHOT --output DIR; export --random-weights --config FILE --output DIR;
            export --check --model DIR.
            """)
        {
            model, output, random, config, seed, tokenizerFrom, int8, externalData, threshold, force,
            check, tokens, optimized, threads, runs, noShapeHints, multiHeadAttention,
        };

        command.Validators.Add(result =>
        {
            if (result.Errors.Any())
            {
                return; // a malformed option was reported already
            }

            var checking = result.GetResult(check) is not null;
            var hasModel = result.GetResult(model) is not null;
            var isRandom = result.GetValue(random);
            var hasOutput = result.GetResult(output) is not null;
            if (checking)
            {
                var checkDir = result.GetValue(check);
                if (checkDir is null == !hasModel)
                {
                    result.AddError("--check needs the model directory: --check --model DIR (or --check DIR)");
                }
                else if (isRandom || hasOutput)
                {
                    result.AddError("--check does not export: leave out --random-weights and --output");
                }

                return;
            }

            if (!hasOutput)
            {
                result.AddError("--output DIR is required");
            }
            else if (isRandom == hasModel)
            {
                result.AddError("give either --model SNAPSHOT_DIR or --random-weights --config FILE");
            }
            else if (isRandom && result.GetResult(config) is null)
            {
                result.AddError("--random-weights needs --config FILE");
            }
            else if (!isRandom && (result.GetResult(config) is not null || result.GetResult(tokenizerFrom) is not null))
            {
                result.AddError("--config and --tokenizer-from go with --random-weights (a snapshot has its own)");
            }
        });

        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            if (parse.GetResult(check) is not null)
            {
                return RunCheck(parse.GetValue(check) ?? parse.GetValue(model)!, parse.GetValue(tokens), parse.GetValue(optimized),
                    parse.GetValue(threads), parse.GetValue(runs), stdout, stderr);
            }

            var source = parse.GetValue(random)
                ? ExportSource.RandomWeights(parse.GetValue(config)!, parse.GetValue(seed), parse.GetValue(tokenizerFrom))
                : ExportSource.FromSnapshot(parse.GetValue(model)!);
            var options = new ExportOptions
            {
                Int8 = parse.GetValue(int8),
                ExternalDataThreshold = parse.GetValue(externalData) ? 0 : parse.GetValue(threshold),
                Overwrite = parse.GetValue(force),
                ShapeHints = !parse.GetValue(noShapeHints),
                MultiHeadAttention = parse.GetValue(multiHeadAttention),
            };
            return Export(source, parse.GetValue(output)!, options, stdout, stderr);
        });
        return command;
    }

    private static void AtLeast<T>(Option<T> option, T min)
        where T : struct, IComparable<T> =>
        option.Validators.Add(result =>
        {
            if (CommandLineValues.TryGet<T>(result, out var value) && value.CompareTo(min) < 0)
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option.Name} needs an integer of at least {min}, got '{value}'"));
            }
        });

    private static int Export(ExportSource source, string output, ExportOptions options, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var result = ModelExporter.Export(source, output, options, stdout);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {result.OutputDirectory}: {ModelExporter.ModelFileName}{(result.ExternalDataPath is null ? "" : " + " + ModelExporter.ExternalDataFileName)}, {result.TotalBytes / 1048576.0:F1} MiB, copied {string.Join(", ", result.CopiedFiles)}; {result.Elapsed.TotalSeconds:F1} s"));
            return Program.ExitOk;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException or ArgumentException)
        {
            stderr.WriteLine($"reranker export: {e.Message}");
            return Program.ExitFailure;
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

}

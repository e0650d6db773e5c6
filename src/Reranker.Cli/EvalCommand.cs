using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Reranker.Cli.Eval;
using Reranker.Tokenization;

namespace Reranker.Cli;

/// <summary>What a scorer needs to load a model; passed to the scorer factory.</summary>
/// <param name="MaxChunks">With a value, long passages are chunked (at most this many chunks each) instead of truncated.</param>
internal sealed record ScorerSettings(string ModelDirectory, string ModelFile, int MaxLength, TruncationStrategy Truncation, int BatchSize, int? MaxChunks = null);

/// <summary>
/// <c>reranker eval</c>: scores every query against every corpus passage (no first stage), ranks by score and
/// reports AutoRAG's retrieval recall/precision/F1 at each k, the layout of the model card's AutoRAG table.
/// </summary>
internal static class EvalCommand
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;
    public const int ExitInterrupted = 130;

    private const string Usage = """
        usage: reranker eval --model DIR --qa FILE --corpus FILE [options]

        Scores every query against every corpus passage, ranks passages by score and reports AutoRAG's
        retrieval F1 / recall / precision at each k, averaged over queries.

          --model DIR          model directory (ONNX model + tokenizer.json)
          --qa FILE            queries: AutoRAG qa .parquet, or .jsonl lines {"qid","query","retrieval_gt":[[doc_id,...],...]}
          --corpus FILE        passages: AutoRAG corpus .parquet, or .jsonl lines {"doc_id","contents"}
          --top-k LIST         cut-offs, comma separated (default 1,3,5,10)
          --max-length N       max tokens per pair (default 512)
          --truncation MODE    longest-first (default) or query-capped
          --max-chunks N       score passages longer than --max-length in chunks, at most N each, keeping the best
                               chunk's score (default: truncate, as the model card's table does)
          --batch-size N       pairs per inference call, and per checkpoint record (default 32)
          --model-file NAME    ONNX file inside --model (default model.onnx; e.g. model_int8.onnx)
          --output DIR         where scores.jsonl (checkpoint), metrics.json and table.md go (default eval-out)
          --queries N          evaluate only the first N queries
          --corpus-sample N    score against N passages: all ground-truth passages plus a seeded random choice
          --seed S             seed of --corpus-sample (default 0)
          --restart            discard the scores stored in --output instead of resuming
          --name NAME          model name in the table (default: the model directory's name)

        An interrupted run (Ctrl+C) resumes where it stopped when the same command is rerun.
        """;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep Korean ids readable in metrics.json
    };

    /// <summary>Entry point from <see cref="Program"/>: real model, Ctrl+C stops after the current chunk.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // First Ctrl+C: finish and flush the current chunk, then stop. A second one ends the process at once.
            e.Cancel = !cts.IsCancellationRequested;
            if (e.Cancel)
            {
                Console.Error.WriteLine("eval: stopping after the current batch (Ctrl+C again to quit now)...");
            }

            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return Run(args, stdout, stderr, CrossEncoderScorer.Create, cts.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Runs the command with a given scorer factory (tests pass fakes or hooks).</summary>
    internal static int Run(
        string[] args, TextWriter stdout, TextWriter stderr, Func<ScorerSettings, IPairScorer> scorerFactory, CancellationToken cancellationToken)
    {
        EvalArguments options;
        try
        {
            options = EvalArguments.Parse(args);
        }
        catch (ArgumentException ex)
        {
            stderr.WriteLine($"reranker eval: {ex.Message}");
            stderr.WriteLine("run 'reranker eval --help' for usage.");
            return ExitUsage;
        }

        if (options.Help)
        {
            stdout.WriteLine(Usage);
            return ExitOk;
        }

        try
        {
            return Evaluate(options, stdout, stderr, scorerFactory, cancellationToken);
        }
        catch (EvalInputException ex)
        {
            stderr.WriteLine($"reranker eval: {ex.Message}");
            return ExitFailure;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine(
                $"reranker eval: interrupted; scores so far are in {Path.Combine(options.Output, ScoreStore.FileName)}. " +
                "Rerun the same command to resume.");
            return ExitInterrupted;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException)
        {
            // Model loading reports a missing or malformed file, or a model it cannot run, with these.
            stderr.WriteLine($"reranker eval: {ex.Message}");
            return ExitFailure;
        }
        catch (ArgumentException ex)
        {
            // Options the model rejects at load, e.g. a --max-length below the minimum or above the model's positions.
            stderr.WriteLine($"reranker eval: {ex.Message}");
            return ExitUsage;
        }
    }

    private static int Evaluate(
        EvalArguments options, TextWriter stdout, TextWriter stderr, Func<ScorerSettings, IPairScorer> scorerFactory, CancellationToken ct)
    {
        var modelPath = Path.Combine(options.Model, options.ModelFile);
        if (!File.Exists(modelPath))
        {
            throw new EvalInputException($"model file not found: {modelPath}");
        }

        var qa = EvalDataReader.ReadQa(options.Qa);
        var corpus = EvalDataReader.ReadCorpus(options.Corpus);
        var data = EvalDataset.Create(qa, corpus, options.Queries, options.CorpusSample, options.Seed);
        if (data.SkippedQueries > 0)
        {
            stderr.WriteLine($"eval: {data.SkippedQueries} queries have empty ground truth and are left out, as AutoRAG does.");
        }

        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"eval: {data.Queries.Count} queries x {data.Corpus.Count} passages = {(long)data.Queries.Count * data.Corpus.Count:N0} pairs; hashing the model..."));

        var fingerprint = new EvalFingerprint(
            EvalFingerprint.HashModel(options.Model, options.ModelFile),
            EvalFingerprint.HashCandidates(data.Corpus),
            string.Create(CultureInfo.InvariantCulture,
                $"model_file={options.ModelFile};max_length={options.MaxLength};truncation={options.Truncation}{(options.MaxChunks is { } chunks ? $";max_chunks={chunks}" : "")}"));

        var settings = new ScorerSettings(options.Model, options.ModelFile, options.MaxLength, options.Truncation, options.BatchSize, options.MaxChunks);
        IReadOnlyList<float[]> scores;
        using (var store = ScoreStore.Open(
            Path.Combine(options.Output, ScoreStore.FileName), fingerprint, data.Corpus.Select(c => c.DocId).ToList(), options.Restart))
        {
            scores = EvalRunner.ScoreAll(data, store, () => scorerFactory(settings), options.BatchSize, stderr, ct);
        }

        var report = EvalReport.Compute(data, scores, options.TopK);
        var name = options.Name ?? new DirectoryInfo(Path.GetFullPath(options.Model)).Name;
        var table = report.FormatTable(name);
        stdout.Write(table);
        File.WriteAllText(Path.Combine(options.Output, "table.md"), table);
        File.WriteAllText(Path.Combine(options.Output, "metrics.json"), JsonSerializer.Serialize(
            new
            {
                Model = name,
                ModelDirectory = Path.GetFullPath(options.Model),
                options.ModelFile,
                Qa = Path.GetFullPath(options.Qa),
                Corpus = Path.GetFullPath(options.Corpus),
                options.MaxLength,
                Truncation = options.Truncation.ToString(),
                options.MaxChunks,
                Queries = data.Queries.Count,
                data.SkippedQueries,
                Candidates = data.Corpus.Count,
                CorpusSize = data.FullCorpusSize,
                CorpusSampleSeed = options.CorpusSample is null ? (ulong?)null : options.Seed,
                Fingerprint = fingerprint,
                Metrics = report.Rows,
                PerQuery = report.PerQuery,
            },
            JsonOptions));
        stderr.WriteLine($"eval: wrote {Path.Combine(options.Output, "metrics.json")} and table.md");
        return ExitOk;
    }
}

/// <summary>The parsed command line of <c>reranker eval</c>.</summary>
internal sealed record EvalArguments
{
    public bool Help { get; init; }

    public string Model { get; init; } = "";

    public string Qa { get; init; } = "";

    public string Corpus { get; init; } = "";

    public IReadOnlyList<int> TopK { get; init; } = [1, 3, 5, 10];

    public int MaxLength { get; init; } = 512;

    public TruncationStrategy Truncation { get; init; } = TruncationStrategy.LongestFirst;

    public int? MaxChunks { get; init; }

    public int BatchSize { get; init; } = 32;

    public string ModelFile { get; init; } = "model.onnx";

    public string Output { get; init; } = "eval-out";

    public int? Queries { get; init; }

    public int? CorpusSample { get; init; }

    public ulong Seed { get; init; }

    public bool Restart { get; init; }

    public string? Name { get; init; }

    /// <exception cref="ArgumentException">A usage error; the message names the option.</exception>
    public static EvalArguments Parse(string[] args)
    {
        var result = new EvalArguments();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
            result = arg switch
            {
                "-h" or "--help" => result with { Help = true },
                "--model" => result with { Model = Value() },
                "--qa" => result with { Qa = Value() },
                "--corpus" => result with { Corpus = Value() },
                "--top-k" => result with { TopK = ParseTopK(Value()) },
                "--max-length" => result with { MaxLength = Positive(arg, Value()) },
                "--truncation" => result with { Truncation = ParseTruncation(Value()) },
                "--max-chunks" => result with { MaxChunks = Positive(arg, Value()) },
                "--batch-size" => result with { BatchSize = Positive(arg, Value()) },
                "--model-file" => result with { ModelFile = Value() },
                "--output" => result with { Output = Value() },
                "--queries" => result with { Queries = Positive(arg, Value()) },
                "--corpus-sample" => result with { CorpusSample = Positive(arg, Value()) },
                "--seed" => result with { Seed = ulong.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : throw new ArgumentException($"--seed must be a non-negative integer, got '{args[i]}'.") },
                "--restart" => result with { Restart = true },
                "--name" => result with { Name = Value() },
                _ => throw new ArgumentException($"unknown option '{arg}'."),
            };
        }

        if (result.Help)
        {
            return result;
        }

        var missing = new[] { ("--model", result.Model), ("--qa", result.Qa), ("--corpus", result.Corpus) }
            .Where(p => p.Item2.Length == 0).Select(p => p.Item1).ToList();
        return missing.Count == 0 ? result : throw new ArgumentException($"missing required option{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)}.");
    }

    internal static int[] ParseTopK(string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries);
        var ks = new List<int>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var k) || k <= 0)
            {
                throw new ArgumentException($"--top-k must be positive integers separated by commas (e.g. 1,3,5,10); '{part}' in '{value}' is not.");
            }

            if (ks.Contains(k))
            {
                throw new ArgumentException($"--top-k lists {k} twice in '{value}'.");
            }

            ks.Add(k);
        }

        ks.Sort();
        return [.. ks];
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{option} must be a positive integer, got '{value}'.");

    private static TruncationStrategy ParseTruncation(string value) => value switch
    {
        "longest-first" => TruncationStrategy.LongestFirst,
        "query-capped" => TruncationStrategy.QueryCapped,
        _ => throw new ArgumentException($"--truncation must be longest-first or query-capped, got '{value}'."),
    };
}

using System.CommandLine;
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

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep Korean ids readable in metrics.json
    };

    /// <summary>The scorer of a real run: the model through <see cref="CrossEncoder"/>.</summary>
    public static IPairScorer DefaultScorerFactory(ScorerSettings settings) => CrossEncoderScorer.Create(settings);

    /// <summary>Builds the <c>eval</c> verb.</summary>
    /// <param name="scorerFactory">Loads the model (tests pass fakes or hooks).</param>
    /// <param name="cancellationToken">Stops the run after the current batch; the scores so far stay checkpointed.</param>
    internal static Command CreateCommand(Func<ScorerSettings, IPairScorer> scorerFactory, CancellationToken cancellationToken)
    {
        var defaults = new EvalArguments();
        var model = new Option<string>("--model")
        {
            Description = "model directory (config.json, tokenizer.json, model.onnx at the root or in onnx/), or a Hugging Face model id " +
                          "(org/name): downloaded into the hub cache, exported to ONNX there once when the repository ships none",
            HelpName = "DIR_OR_ID",
            Required = true,
        };
        var variant = new Option<string>("--variant")
        {
            Description = "ONNX variant: model_VARIANT.onnx at the root or in onnx/ (int8, quantized, fp16, ...) [default: fp32 model.onnx]",
            HelpName = "VARIANT",
        };
        var revision = new Option<string>("--revision") { Description = "hub branch, tag or commit of a model id [default: main]", HelpName = "R" };
        var qa = new Option<string>("--qa")
        {
            Description = "queries: AutoRAG qa .parquet, or .jsonl lines {\"qid\",\"query\",\"retrieval_gt\":[[doc_id,...],...]}",
            HelpName = "FILE",
            Required = true,
        };
        var corpus = new Option<string>("--corpus") { Description = "passages: AutoRAG corpus .parquet, or .jsonl lines {\"doc_id\",\"contents\"}", HelpName = "FILE", Required = true };
        var topK = new Option<string>("--top-k") { Description = "cut-offs, comma separated, positive, no repeats", DefaultValueFactory = _ => "1,3,5,10", HelpName = "LIST" };
        var maxLength = new Option<int>("--max-length")
        {
            Description = "most tokens per (query, passage) pair, at most the model's max_position_embeddings - 2",
            DefaultValueFactory = _ => defaults.MaxLength,
            HelpName = "N",
        };
        var truncation = new Option<string>("--truncation") { Description = "longest-first (Hugging Face) or query-capped (FlagEmbedding)", DefaultValueFactory = _ => "longest-first", HelpName = "MODE" };
        truncation.Validators.Add(r =>
        {
            if (CommandLineValues.TryGet<string>(r, out var mode) && mode is not ("longest-first" or "query-capped"))
            {
                r.AddError($"--truncation must be longest-first or query-capped, got '{mode}'.");
            }
        });
        var maxChunks = new Option<int?>("--max-chunks")
        {
            Description = "score passages longer than --max-length in chunks, at most N each, keeping the best chunk's score [default: truncate, as the model card's table does]",
            HelpName = "N",
        };
        var batchSize = new Option<int>("--batch-size") { Description = "pairs per inference call and per checkpoint record", DefaultValueFactory = _ => defaults.BatchSize, HelpName = "N" };
        var modelFile = new Option<string>("--model-file") { Description = "ONNX file inside --model, e.g. onnx/model_qint8_avx512.onnx [default: model.onnx, found at the root or in onnx/]", HelpName = "NAME" };
        var output = new Option<string>("--output") { Description = "where scores.jsonl (the checkpoint), metrics.json and table.md go", DefaultValueFactory = _ => defaults.Output, HelpName = "DIR" };
        var queries = new Option<int?>("--queries") { Description = "evaluate only the first N queries [default: all]", HelpName = "N" };
        var corpusSample = new Option<int?>("--corpus-sample")
        {
            Description = "score against N passages: every ground-truth passage of the selected queries plus a seeded random choice [default: all]",
            HelpName = "N",
        };
        var seed = new Option<ulong>("--seed") { Description = "seed of --corpus-sample (only with it)", DefaultValueFactory = _ => 0, HelpName = "S" };
        var restart = new Option<bool>("--restart") { Description = "discard the scores stored in --output instead of resuming [default: off]", DefaultValueFactory = _ => false };
        var name = new Option<string>("--name") { Description = "model name in the table [default: the model directory's name]", HelpName = "NAME" };
        var shard = new Option<string>("--shard")
        {
            Description = "score only shard I of N (0-based: queries I, I+N, I+2N, ...) into --output/shard-I-of-N; merge the shards with --merge [default: the whole run]",
            HelpName = "I/N",
        };
        var merge = new Option<string[]>("--merge")
        {
            Description = "score nothing: combine every shard of this run (the same command with --shard I/N) into --output; DIR is a shard's folder, or a folder holding shard-I-of-N folders [default: off]",
            HelpName = "DIR",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        shard.Validators.Add(r =>
        {
            if (CommandLineValues.TryGet<string>(r, out var text) && text is not null && ParseShard(text) is null)
            {
                r.AddError($"--shard must be I/N with 0 <= I < N (e.g. 0/3 for the first of three), got '{text}'.");
            }
        });

        Positive(batchSize);
        Positive(maxChunks);
        Positive(queries);
        Positive(corpusSample);
        maxLength.Validators.Add(r =>
        {
            if (CommandLineValues.TryGet<int>(r, out var value) && value < CrossEncoderOptions.MinMaxLength)
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture,
                    $"--max-length must be at least {CrossEncoderOptions.MinMaxLength} (the four special tokens of a pair and some text), got {value}."));
            }
        });
        topK.Validators.Add(r =>
        {
            try
            {
                EvalArguments.ParseTopK(CommandLineValues.TryGet<string>(r, out var list) ? list ?? "" : "");
            }
            catch (ArgumentException e)
            {
                r.AddError(e.Message);
            }
        });

        var command = new Command("eval", """
            Score every query against every corpus passage, rank the passages by score and report AutoRAG's retrieval
            F1 / recall / precision at each k, averaged over queries. An interrupted run (Ctrl+C) resumes where it
            stopped when the same command is rerun.
            """)
        {
            model, variant, revision, qa, corpus, topK, maxLength, truncation, maxChunks, batchSize, modelFile, output, queries, corpusSample, seed, restart, name,
            shard, merge,
        };
        command.Validators.Add(r =>
        {
            if (r.Errors.Any())
            {
                return; // a malformed option was reported already
            }

            if (r.GetResult(seed) is { Implicit: false } && r.GetResult(corpusSample) is null)
            {
                r.AddError("--seed only chooses the passages of --corpus-sample; without --corpus-sample every passage is scored and no seed is used.");
            }

            if (r.GetResult(variant) is not null && r.GetResult(modelFile) is not null)
            {
                r.AddError("--variant picks model_VARIANT.onnx and --model-file names a file: give one of them.");
            }

            if (r.GetResult(shard) is not null && r.GetResult(merge) is not null)
            {
                r.AddError("--shard scores one shard and --merge combines finished shards: give one of them.");
            }
        });

        command.SetAction(parse =>
        {
            var arguments = new EvalArguments
            {
                Model = parse.GetValue(model)!,
                Qa = parse.GetValue(qa)!,
                Corpus = parse.GetValue(corpus)!,
                TopK = EvalArguments.ParseTopK(parse.GetValue(topK)!),
                MaxLength = parse.GetValue(maxLength),
                Truncation = parse.GetValue(truncation) == "query-capped" ? TruncationStrategy.QueryCapped : TruncationStrategy.LongestFirst,
                MaxChunks = parse.GetValue(maxChunks),
                BatchSize = parse.GetValue(batchSize),
                ModelFile = parse.GetValue(modelFile),
                Variant = parse.GetValue(variant),
                Revision = parse.GetValue(revision),
                Output = parse.GetValue(output)!,
                Queries = parse.GetValue(queries),
                CorpusSample = parse.GetValue(corpusSample),
                Seed = parse.GetValue(seed),
                Restart = parse.GetValue(restart),
                Name = parse.GetValue(name),
                Shard = parse.GetValue(shard) is { } text ? ParseShard(text) : null,
                Merge = parse.GetResult(merge) is null ? null : parse.GetValue(merge),
            };
            return Run(arguments, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, scorerFactory, cancellationToken);
        });
        return command;
    }

    private static void Positive(Option<int> option) =>
        option.Validators.Add(r => CheckPositive(r, option.Name, CommandLineValues.TryGet<int>(r, out var v) ? v : null));

    private static void Positive(Option<int?> option) =>
        option.Validators.Add(r => CheckPositive(r, option.Name, CommandLineValues.TryGet<int?>(r, out var v) ? v : null));

    private static void CheckPositive(System.CommandLine.Parsing.OptionResult result, string option, int? value)
    {
        if (value is <= 0)
        {
            result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option} must be a positive integer, got '{value}'."));
        }
    }

    /// <summary><c>I/N</c> with 0 &lt;= I &lt; N; <see langword="null"/> when the text is not that.</summary>
    internal static EvalShard? ParseShard(string text)
    {
        var parts = text.Split('/');
        return parts.Length == 2
               && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
               && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
               && count >= 1 && index < count
            ? new EvalShard(index, count)
            : null;
    }

    /// <summary>The folder a shard writes into: <c>OUTPUT/shard-I-of-N</c>.</summary>
    internal static string ShardDirectory(string output, EvalShard shard) =>
        Path.Combine(output, string.Create(CultureInfo.InvariantCulture, $"shard-{shard.Index}-of-{shard.Count}"));

    /// <summary>Runs <c>reranker eval ARGS</c> with a given scorer factory (tests pass fakes or hooks).</summary>
    internal static int Run(
        string[] args, TextWriter stdout, TextWriter stderr, Func<ScorerSettings, IPairScorer> scorerFactory, CancellationToken cancellationToken) =>
        Program.Invoke(Program.CreateRootCommand(CreateCommand(scorerFactory, cancellationToken)), ["eval", .. args], stdout, stderr);

    private static int Run(
        EvalArguments options, TextWriter stdout, TextWriter stderr, Func<ScorerSettings, IPairScorer> scorerFactory, CancellationToken cancellationToken)
    {
        try
        {
            return Evaluate(options, stdout, stderr, scorerFactory, cancellationToken);
        }
        catch (EvalUsageException ex)
        {
            stderr.WriteLine($"reranker eval: {ex.Message}");
            return ExitUsage;
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
            // Options the model rejects at load that the checks up front did not catch.
            stderr.WriteLine($"reranker eval: {ex.Message}");
            return ExitUsage;
        }
    }

    /// <summary>
    /// Turns <c>--model</c> into a local directory and ONNX file: a directory as given (the file by <c>--model-file</c>,
    /// else model.onnx or model_VARIANT.onnx at its root or in onnx/); a hub id downloaded (and exported when the
    /// repository ships no ONNX) exactly as <see cref="CrossEncoder.FromPretrainedAsync"/> does, into the shared cache.
    /// </summary>
    private static EvalArguments ResolveModel(EvalArguments options, TextWriter stderr, CancellationToken ct)
    {
        if (Directory.Exists(options.Model))
        {
            try
            {
                var path = Inference.OnnxModelFiles.Resolve(Path.GetFullPath(options.Model), options.ModelFile, options.Variant);
                return options with { ModelFile = Path.GetRelativePath(Path.GetFullPath(options.Model), path).Replace(Path.DirectorySeparatorChar, '/') };
            }
            catch (FileNotFoundException e)
            {
                throw new EvalInputException(e.Message, e);
            }
        }

        try
        {
            Hub.HubPaths.ValidateRepoId(options.Model);
        }
        catch (ArgumentException)
        {
            throw new EvalInputException($"model directory not found: {Path.GetFullPath(options.Model)} (and '{options.Model}' is not a hub id org/name)");
        }

        stderr.WriteLine($"eval: fetching {options.Model}{(options.Revision is null ? "" : "@" + options.Revision)} into the hub cache (a repository without ONNX is exported once)...");
        try
        {
            using var encoder = CrossEncoder.FromPretrainedAsync(
                    options.Model,
                    new CrossEncoderOptions { ModelVariant = options.Variant, ModelFileName = options.ModelFile ?? CrossEncoderOptions.DefaultModelFileName },
                    options.Revision is null ? null : new Hub.HubDownloadOptions { Revision = options.Revision },
                    cancellationToken: ct)
                .GetAwaiter().GetResult();
            var directory = encoder.Model.Directory;
            return options with { Model = directory, ModelFile = Path.GetRelativePath(directory, encoder.Model.ModelPath).Replace(Path.DirectorySeparatorChar, '/') };
        }
        catch (Hub.HubException e)
        {
            throw new EvalInputException($"{options.Model}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Refuses a <c>--max-length</c> above what the model takes (its position table, from the family's position offset,
    /// and the tokenizer's model_max_length) before anything is read or hashed, with the limit in the message (the
    /// library would refuse it only when the model loads).
    /// </summary>
    private static void CheckMaxLength(EvalArguments options)
    {
        var configPath = Path.Combine(options.Model, "config.json");
        if (!File.Exists(configPath))
        {
            throw new EvalInputException($"model configuration not found: {configPath}");
        }

        Inference.ModelConfig config;
        int? tokenizerLimit;
        var tokenizerConfigPath = Path.Combine(options.Model, "tokenizer_config.json");
        try
        {
            config = Inference.ModelConfig.Load(configPath);
            tokenizerLimit = Inference.ModelConfig.ReadModelMaxLength(tokenizerConfigPath);
        }
        catch (InvalidDataException e)
        {
            throw new EvalInputException(e.Message, e);
        }

        if (config.MaxSequenceLength is { } positions && options.MaxLength > positions)
        {
            throw new EvalUsageException(string.Create(CultureInfo.InvariantCulture,
                $"--max-length {options.MaxLength} is more than this model takes: at most {positions} tokens " +
                $"(max_position_embeddings {config.MaxPositionEmbeddings} - {config.PositionOffset} in {configPath}). Use --max-length {positions} or less."));
        }

        if (tokenizerLimit is { } own && options.MaxLength > own)
        {
            throw new EvalUsageException(string.Create(CultureInfo.InvariantCulture,
                $"--max-length {options.MaxLength} is more than this model takes: model_max_length {own} in {tokenizerConfigPath}. Use --max-length {own} or less."));
        }
    }

    private static int Evaluate(
        EvalArguments options, TextWriter stdout, TextWriter stderr, Func<ScorerSettings, IPairScorer> scorerFactory, CancellationToken ct)
    {
        var displayName = options.Name ?? (Directory.Exists(options.Model) ? new DirectoryInfo(Path.GetFullPath(options.Model)).Name : options.Model);
        options = ResolveModel(options, stderr, ct) with { Name = displayName };
        CheckMaxLength(options);

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
            EvalFingerprint.HashModel(options.Model, options.ModelFile!),
            EvalFingerprint.HashCandidates(data.Corpus),
            string.Create(CultureInfo.InvariantCulture,
                $"model_file={options.ModelFile};max_length={options.MaxLength};truncation={options.Truncation}{(options.MaxChunks is { } chunks ? $";max_chunks={chunks}" : "")}"));

        var settings = new ScorerSettings(options.Model, options.ModelFile!, options.MaxLength, options.Truncation, options.BatchSize, options.MaxChunks);
        var docIds = data.Corpus.Select(c => c.DocId).ToList();
        if (options.Shard is { } shard)
        {
            // One shard: its share of the queries, against the same candidates, into its own folder; no metrics (a
            // share of the queries is not the table).
            var share = data.Shard(shard.Index, shard.Count);
            var folder = ShardDirectory(options.Output, shard);
            using (var shardStore = ScoreStore.Open(Path.Combine(folder, ScoreStore.FileName), fingerprint, docIds, options.Restart, shard))
            {
                EvalRunner.ScoreAll(share, shardStore, () => scorerFactory(settings), options.BatchSize, stderr, ct);
            }

            stderr.WriteLine(
                $"eval: shard {shard} done: {share.Queries.Count} of {data.Queries.Count} queries scored into {folder}. When every shard " +
                $"is done, run the same command with --merge {Path.Combine(options.Output, "shard-*-of-" + shard.Count.ToString(CultureInfo.InvariantCulture))} instead of --shard.");
            return ExitOk;
        }

        IReadOnlyList<float[]> scores;
        if (options.Merge is { } shardDirectories)
        {
            // Everything is checked before the output is touched; then the scores are written as one run writes them.
            var merged = ShardMerge.Load(data, ShardMerge.Expand(shardDirectories), fingerprint);
            using var mergedStore = ScoreStore.Open(Path.Combine(options.Output, ScoreStore.FileName), fingerprint, docIds, restart: true);
            for (var q = 0; q < data.Queries.Count; q++)
            {
                for (var start = 0; start < data.Corpus.Count; start += options.BatchSize)
                {
                    mergedStore.Append(data.Queries[q], start, merged[q].AsSpan(start, Math.Min(options.BatchSize, data.Corpus.Count - start)));
                }
            }

            stderr.WriteLine($"eval: merged {shardDirectories.Count} shards into {Path.Combine(options.Output, ScoreStore.FileName)}");
        }

        using (var store = ScoreStore.Open(Path.Combine(options.Output, ScoreStore.FileName), fingerprint, docIds, options.Restart && options.Merge is null))
        {
            scores = EvalRunner.ScoreAll(data, store, () => scorerFactory(settings), options.BatchSize, stderr, ct);
        }

        var report = EvalReport.Compute(data, scores, options.TopK);
        var name = options.Name!;
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
    public string Model { get; init; } = "";

    public string Qa { get; init; } = "";

    public string Corpus { get; init; } = "";

    public IReadOnlyList<int> TopK { get; init; } = [1, 3, 5, 10];

    public int MaxLength { get; init; } = 512;

    public TruncationStrategy Truncation { get; init; } = TruncationStrategy.LongestFirst;

    public int? MaxChunks { get; init; }

    public int BatchSize { get; init; } = 32;

    /// <summary><c>--model-file</c>; <see langword="null"/> to find model.onnx (or the variant) at the root or in onnx/.</summary>
    public string? ModelFile { get; init; }

    /// <summary><c>--variant</c>: the X of model_X.onnx, or <see langword="null"/> for fp32.</summary>
    public string? Variant { get; init; }

    /// <summary><c>--revision</c> of a hub id.</summary>
    public string? Revision { get; init; }

    public string Output { get; init; } = "eval-out";

    public int? Queries { get; init; }

    public int? CorpusSample { get; init; }

    public ulong Seed { get; init; }

    public bool Restart { get; init; }

    public string? Name { get; init; }

    /// <summary><c>--shard I/N</c>: score only this shard; <see langword="null"/> for the whole run.</summary>
    public EvalShard? Shard { get; init; }

    /// <summary><c>--merge DIR...</c>: the shard outputs to combine; <see langword="null"/> when not merging.</summary>
    public IReadOnlyList<string>? Merge { get; init; }

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
}

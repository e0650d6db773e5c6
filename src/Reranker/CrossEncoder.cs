using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Reranker.Diagnostics;
using Reranker.Inference;
using Reranker.Tokenization;

namespace Reranker;

/// <summary>
/// Scores (query, document) pairs with a cross-encoder reranker, run in-process by ONNX Runtime on the CPU:
/// XLM-RoBERTa rerankers such as <c>dragonkue/bge-reranker-v2-m3-ko</c>, <c>jinaai/jina-reranker-v2-base-multilingual</c>
/// and <c>Alibaba-NLP/gte-multilingual-reranker-base</c> (ONNX), and BERT cross-encoders such as
/// <c>cross-encoder/ms-marco-MiniLM-L6-v2</c>.
/// </summary>
/// <remarks>
/// <para>
/// A score is the sigmoid of the model's single logit for the pair: a number in [0, 1], higher is more relevant.
/// </para>
/// <para>
/// Creating an instance loads the model (seconds and hundreds of megabytes for a large model): create one and reuse
/// it for the life of the application. All members are safe to call from several threads at once, because each
/// call gets its own buffers and ONNX Runtime sessions accept concurrent runs. <see cref="Dispose"/> may be called
/// while calls are in flight: they are stopped and throw <see cref="ObjectDisposedException"/>, and the session is
/// released only once no run is inside it.
/// </para>
/// <para>
/// The instance owns its ONNX Runtime session and releases it in <see cref="Dispose"/>. Model files are executed
/// as given: load only models from a trusted source.
/// </para>
/// <para>
/// Observability: events are logged through <see cref="CrossEncoderOptions.LoggerFactory"/> (ids in
/// <see cref="CrossEncoderLogEvents"/>), and every instance records into the process-wide meter
/// <see cref="MeterName"/>: <c>reranker.scored_pairs</c> (counter, pairs), <c>reranker.tokens</c> (counter, tokens
/// fed to the model without padding), <c>reranker.batch.duration</c> (histogram, milliseconds per model run) and
/// <c>reranker.truncated_pairs</c> (counter, pairs cut to <see cref="CrossEncoderOptions.MaxLength"/>).
/// </para>
/// </remarks>
public sealed partial class CrossEncoder : IDisposable
{
    /// <summary>
    /// Name of the <see cref="System.Diagnostics.Metrics.Meter"/> that all instances record into, for example for
    /// OpenTelemetry's <c>AddMeter(CrossEncoder.MeterName)</c>.
    /// </summary>
    public const string MeterName = "Reranker";

    private readonly LogitSession _session;
    private readonly IPairEncoder _encoder;
    private readonly ILogger _logger;
    private volatile bool _disposed;

    private CrossEncoder(LogitSession session, IPairEncoder encoder, CrossEncoderOptions options, ModelInfo model, ILogger logger)
    {
        _session = session;
        _encoder = encoder;
        _logger = logger;
        Options = options;
        Model = model;
    }

    /// <summary>The model session (tests and benchmarks).</summary>
    internal LogitSession Session => _session;

    /// <summary>Test seam: called right before each batch of a cancellable call runs in ONNX Runtime.</summary>
    internal Action? BeforeModelRun { get; set; }

    /// <summary>The options this instance was created with.</summary>
    public CrossEncoderOptions Options { get; }

    /// <summary>
    /// What was loaded: the ONNX file (full path) and its precision, and the tokenizer file and whether its ids are
    /// those of the Hugging Face fast tokenizer. After <see cref="FromPretrainedAsync"/> this names the file actually
    /// loaded (the snapshot's ONNX model, or the fp32 or int8 export in the cache).
    /// </summary>
    public ModelInfo Model { get; }

    /// <summary>Loads a reranker from a model directory: this library's export, an optimum ONNX export, or a Hugging Face snapshot that ships ONNX.</summary>
    /// <param name="modelDirectory">
    /// A directory with <c>config.json</c>, the tokenizer (<c>tokenizer.json</c> with a Unigram (XLM-RoBERTa) or
    /// WordPiece (BERT) model, or <c>sentencepiece.bpe.model</c>) and the ONNX model: <c>model.onnx</c>, or
    /// <c>model_{variant}.onnx</c> with <see cref="CrossEncoderOptions.ModelVariant"/>, at the root or in <c>onnx/</c>
    /// (or the file <see cref="CrossEncoderOptions.ModelFileName"/> names), with its external weights beside it when it
    /// has them (<c>model.onnx.data</c> or <c>model.onnx_data</c>, the name the model was saved with).
    /// </param>
    /// <param name="options">Settings; <see langword="null"/> for the defaults.</param>
    /// <returns>A reranker that owns its model session; dispose it when done.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="modelDirectory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is empty or white space, or both
    /// <see cref="CrossEncoderOptions.ModelFileName"/> and <see cref="CrossEncoderOptions.ModelVariant"/> are set.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <see cref="CrossEncoderOptions.MaxLength"/> exceeds what the model takes: its position table
    /// (<c>max_position_embeddings</c> from <c>config.json</c> less the family's position offset, 2 for XLM-RoBERTa, 0 for
    /// BERT; else the rows of the position table in the graph) or <c>model_max_length</c> in <c>tokenizer_config.json</c>.
    /// The default 512 is lowered to a smaller limit instead.
    /// </exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="modelDirectory"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">The ONNX model (the message lists the variants the directory has), its
    /// external data file, <c>config.json</c> or the tokenizer file is missing.</exception>
    /// <exception cref="InvalidDataException">
    /// The ONNX model, <c>config.json</c> or the tokenizer file is malformed (an empty file included); or they do
    /// not fit each other: an id the tokenizer can produce is negative or beyond the rows of the model's
    /// word-embedding table, or <c>config.json</c> declares more <c>max_position_embeddings</c> than the graph's
    /// position table has. The message names both numbers.
    /// </exception>
    /// <exception cref="NotSupportedException">
    /// The model is not a one-label sequence classifier: no <c>logits</c> output, more than one label (the message names
    /// the shape), or inputs other than <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c>; or the
    /// tokenizer uses a component this library does not implement (byte-level BPE, for instance).
    /// </exception>
    public static CrossEncoder Create(string modelDirectory, CrossEncoderOptions? options = null) =>
        CreateWithEncoder(modelDirectory, options, static directory => new TokenizerPairEncoder(CrossEncoderTokenizer.Create(directory)));

    /// <summary>Test seam: <see cref="Create(string, CrossEncoderOptions?)"/> with another source of token ids.</summary>
    internal static CrossEncoder CreateWithEncoder(string modelDirectory, CrossEncoderOptions? options, Func<string, IPairEncoder> createEncoder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        options ??= new CrossEncoderOptions();

        var directory = Path.GetFullPath(modelDirectory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Model directory not found: '{directory}'.");
        }

        var namedFile = options.ModelFileName == CrossEncoderOptions.DefaultModelFileName ? null : options.ModelFileName;
        if (namedFile is not null && options.ModelVariant is not null)
        {
            throw new ArgumentException(
                $"Both ModelFileName ('{options.ModelFileName}') and ModelVariant ('{options.ModelVariant}') are set; set one: the variant picks model_{options.ModelVariant}.onnx at the root or in onnx/.",
                nameof(options));
        }

        var modelPath = OnnxModelFiles.Resolve(directory, namedFile, options.ModelVariant);
        var tokenizerJson = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(tokenizerJson) && !File.Exists(Path.Combine(directory, "sentencepiece.bpe.model")))
        {
            throw new FileNotFoundException($"Tokenizer not found: neither '{tokenizerJson}' nor 'sentencepiece.bpe.model' exists.", tokenizerJson);
        }

        var configPath = Path.Combine(directory, "config.json");
        var config = ModelConfig.Load(configPath);
        var tokenizerConfigPath = Path.Combine(directory, "tokenizer_config.json");
        var maxLength = EffectiveMaxLength(options.MaxLength, config, configPath, ModelConfig.ReadModelMaxLength(tokenizerConfigPath), tokenizerConfigPath);

        // The graph's headers: its external data files must be beside it, and its tables must fit the tokenizer.
        OnnxGraphSummary? graph;
        try
        {
            graph = OnnxGraphSummary.Read(modelPath);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or OverflowException)
        {
            // ONNX Runtime gives its own error for a file it cannot read; an encoding this reader does not follow
            // leaves the tables unknown, and the checks below are skipped.
            graph = null;
        }

        ModelFit.Table? words = null, positions = null;
        if (graph is not null)
        {
            OnnxModelFiles.CheckExternalData(modelPath, graph.ExternalDataFiles);
            (words, positions) = ModelFit.FindEmbeddingTables(graph);
            if (positions is not null && options.MaxLength == CrossEncoderOptions.DefaultMaxLength && config.MaxPositionEmbeddings is null)
            {
                // No config.json limit: the default is lowered to the graph's position table as well.
                maxLength = (int)Math.Min(maxLength, Math.Max(CrossEncoderOptions.MinMaxLength, positions.Rows - config.PositionOffset));
            }
        }

        var started = Stopwatch.GetTimestamp();
        var session = LogitSession.Load(modelPath, options.IntraOpNumThreads, options.RewriteAttention, attentionOnly: options.RewriteAttentionOnly);
        try
        {
            IPairEncoder encoder;
            try
            {
                encoder = createEncoder(directory);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"The tokenizer in '{directory}' is malformed: {e.Message}", e);
            }

            ModelFit.Check(modelPath, words, positions, encoder.ProducibleIds, config, configPath, maxLength);
            if (maxLength != options.MaxLength)
            {
                options = options with { MaxLength = maxLength };
            }

            var info = ModelInfo.Describe(directory, modelPath, session.IsDynamicallyQuantized, encoder);
            var logger = options.LoggerFactory?.CreateLogger("Reranker.CrossEncoder") ?? NullLogger.Instance;
            Log.ModelLoaded(
                logger,
                modelPath,
                (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                string.Join(", ", session.InputNames),
                options.IntraOpNumThreads,
                options.MaxLength);
            if (session.Rewrite is { Changed: true } rewritten)
            {
                Log.AttentionRewritten(logger, modelPath, rewritten.Attention.BlocksRewritten, rewritten.ResidualSums);
            }
            if (session.Attention is { Rewritten: false } notRewritten && !session.RejectsPadding)
            {
                Log.AttentionNotRewritten(logger, modelPath, notRewritten.Reason ?? "no attention block matched");
            }

            return new CrossEncoder(session, encoder, options, info, logger);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The MaxLength to use: the option, checked against what the model takes (its position table from config.json,
    /// and the tokenizer's model_max_length); the default 512 is lowered to a smaller limit instead of refused.
    /// </summary>
    private static int EffectiveMaxLength(int requested, ModelConfig config, string configPath, int? tokenizerLimit, string tokenizerConfigPath)
    {
        var limits = new List<(int Limit, string Why)>();
        if (config.MaxSequenceLength is { } positions)
        {
            limits.Add((positions, $"max_position_embeddings {config.MaxPositionEmbeddings} - {config.PositionOffset} (where {config.Family ?? "the model"} numbers positions from) in '{configPath}'"));
        }

        if (tokenizerLimit is { } own)
        {
            limits.Add((own, $"model_max_length {own} in '{tokenizerConfigPath}'"));
        }

        if (limits.Count == 0)
        {
            return requested;
        }

        var (limit, why) = limits.MinBy(l => l.Limit);
        if (requested <= limit)
        {
            return requested;
        }

        if (requested == CrossEncoderOptions.DefaultMaxLength && limit >= CrossEncoderOptions.MinMaxLength)
        {
            return limit;
        }

        throw new ArgumentOutOfRangeException(
            nameof(CrossEncoderOptions.MaxLength),
            requested,
            $"MaxLength {requested} exceeds the {limit} tokens the model takes ({why}). Set MaxLength to {limit} or less.");
    }

    /// <summary>Scores (query, document) pairs.</summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <returns>One score per pair, in the order of <paramref name="pairs"/>: the sigmoid of the logit, in [0, 1], higher is more relevant. Empty when <paramref name="pairs"/> is empty.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A query or document in <paramref name="pairs"/> is <see langword="null"/>; the message names its index. Or, when chunking (<see cref="CrossEncoderOptions.LongDocuments"/>), a query leaves no room for a document that must be split (see <see cref="ScorePairs"/>).</exception>
    /// <exception cref="InvalidOperationException">
    /// The model computed a non-finite logit (NaN or infinity) for a pair (the message names its index and the start
    /// of its texts), or ONNX Runtime failed to run the model (its exception is the inner exception).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed before or during the call.</exception>
    public float[] Predict(IReadOnlyList<(string Query, string Document)> pairs)
    {
        var scores = PredictLogits(pairs);
        Sigmoid(scores);
        return scores;
    }

    /// <summary>Computes the model's raw relevance logits of (query, document) pairs, before the sigmoid.</summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <returns>One logit per pair, in the order of <paramref name="pairs"/>; <see cref="Predict"/> returns their sigmoid. Empty when <paramref name="pairs"/> is empty.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A query or document in <paramref name="pairs"/> is <see langword="null"/>; the message names its index. Or, when chunking (<see cref="CrossEncoderOptions.LongDocuments"/>), a query leaves no room for a document that must be split (see <see cref="ScorePairs"/>).</exception>
    /// <exception cref="InvalidOperationException">
    /// The model computed a non-finite logit (NaN or infinity) for a pair (the message names its index and the start
    /// of its texts), or ONNX Runtime failed to run the model (its exception is the inner exception).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed before or during the call.</exception>
    public float[] PredictLogits(IReadOnlyList<(string Query, string Document)> pairs)
    {
        ValidatePairs(pairs);
        return Logits(ScoreCore(pairs, Options.LongDocuments, progress: null, CancellationToken.None));
    }

    /// <summary>Scores (query, document) pairs on a thread-pool thread, with progress and cancellation.</summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <param name="progress">Receives how many pairs (with chunking, (query, chunk) pairs) are scored after each batch the model runs; the last report has all of them.</param>
    /// <param name="cancellationToken">
    /// Stops the call: checked between pairs while tokenizing, inside a long text (between words and every 16,384
    /// characters of one word; normalizing one text is not interrupted) and between batches, and a batch already
    /// running in ONNX Runtime is terminated through the call's own <see cref="RunOptions"/>.
    /// </param>
    /// <returns>The same scores as <see cref="Predict"/>, in the order of <paramref name="pairs"/>.</returns>
    /// <remarks>
    /// The work is CPU-bound: it runs on a thread-pool thread so that the caller (a UI thread, say) is not blocked,
    /// but it occupies that thread until done. The instance stays usable after a cancelled call.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A query or document in <paramref name="pairs"/> is <see langword="null"/>; the message names its index. Or, when chunking (<see cref="CrossEncoderOptions.LongDocuments"/>), a query leaves no room for a document that must be split (see <see cref="ScorePairs"/>).</exception>
    /// <exception cref="InvalidOperationException">
    /// The model computed a non-finite logit (NaN or infinity) for a pair (the message names its index and the start
    /// of its texts), or ONNX Runtime failed to run the model (its exception is the inner exception).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed before or during the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the returned task).</exception>
    public Task<float[]> PredictAsync(
        IReadOnlyList<(string Query, string Document)> pairs,
        IProgress<ScoringProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        ScoreAsync(pairs, applySigmoid: true, progress, cancellationToken);

    /// <summary>Computes raw logits of (query, document) pairs on a thread-pool thread, with progress and cancellation.</summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <param name="progress">Receives how many pairs (with chunking, (query, chunk) pairs) are scored after each batch the model runs; the last report has all of them.</param>
    /// <param name="cancellationToken">Stops the call, as for <see cref="PredictAsync"/>.</param>
    /// <returns>The same logits as <see cref="PredictLogits"/>, in the order of <paramref name="pairs"/>.</returns>
    /// <remarks>Runs like <see cref="PredictAsync"/>; only the sigmoid is left out.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A query or document in <paramref name="pairs"/> is <see langword="null"/>; the message names its index. Or, when chunking (<see cref="CrossEncoderOptions.LongDocuments"/>), a query leaves no room for a document that must be split (see <see cref="ScorePairs"/>).</exception>
    /// <exception cref="InvalidOperationException">
    /// The model computed a non-finite logit (NaN or infinity) for a pair (the message names its index and the start
    /// of its texts), or ONNX Runtime failed to run the model (its exception is the inner exception).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed before or during the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the returned task).</exception>
    public Task<float[]> PredictLogitsAsync(
        IReadOnlyList<(string Query, string Document)> pairs,
        IProgress<ScoringProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        ScoreAsync(pairs, applySigmoid: false, progress, cancellationToken);

    private Task<float[]> ScoreAsync(
        IReadOnlyList<(string Query, string Document)> pairs,
        bool applySigmoid,
        IProgress<ScoringProgress>? progress,
        CancellationToken cancellationToken)
    {
        ValidatePairs(pairs);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<float[]>(cancellationToken);
        }

        return Task.Run(
            () =>
            {
                var scores = Logits(ScoreCore(pairs, Options.LongDocuments, progress, cancellationToken));
                if (applySigmoid)
                {
                    Sigmoid(scores);
                }

                return scores;
            },
            cancellationToken);
    }

    /// <summary>Scores documents against one query and sorts them, most relevant first.</summary>
    /// <param name="query">The query; may be empty.</param>
    /// <param name="documents">The candidate documents; strings may be empty.</param>
    /// <param name="topK">How many of the best documents to return; <see langword="null"/> for all.</param>
    /// <returns>
    /// The documents by descending score, each with its index in <paramref name="documents"/>; equal scores keep
    /// the input order. Empty when <paramref name="documents"/> is empty.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> or <paramref name="documents"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A document is <see langword="null"/>; the message names its index. Or, when chunking (<see cref="CrossEncoderOptions.LongDocuments"/>), the query leaves no room for a document that must be split (see <see cref="ScorePairs"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> is zero or negative.</exception>
    /// <exception cref="InvalidOperationException">
    /// The model computed a non-finite logit (NaN or infinity) for a pair (the message names its index and the start
    /// of its texts), or ONNX Runtime failed to run the model (its exception is the inner exception).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed before or during the call.</exception>
    public IReadOnlyList<RankedDocument> Rank(string query, IReadOnlyList<string> documents, int? topK = null)
    {
        ValidateRank(query, documents, topK);
        return RankCore(query, documents, topK, progress: null, CancellationToken.None);
    }

    /// <summary>Scores documents against one query and sorts them, on a thread-pool thread, with progress and cancellation.</summary>
    /// <param name="query">The query; may be empty.</param>
    /// <param name="documents">The candidate documents; strings may be empty.</param>
    /// <param name="topK">How many of the best documents to return; <see langword="null"/> for all.</param>
    /// <param name="progress">Receives how many documents (with chunking, (query, chunk) pairs) are scored after each batch the model runs; the last report has all of them.</param>
    /// <param name="cancellationToken">Stops the call, as for <see cref="PredictAsync"/>.</param>
    /// <returns>The same ranking as <see cref="Rank"/>.</returns>
    /// <remarks>The work runs on a thread-pool thread, as <see cref="PredictAsync"/> describes.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> or <paramref name="documents"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A document is <see langword="null"/>; the message names its index. Or, when chunking (<see cref="CrossEncoderOptions.LongDocuments"/>), the query leaves no room for a document that must be split (see <see cref="ScorePairs"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> is zero or negative.</exception>
    /// <exception cref="InvalidOperationException">
    /// The model computed a non-finite logit (NaN or infinity) for a pair (the message names its index and the start
    /// of its texts), or ONNX Runtime failed to run the model (its exception is the inner exception).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed before or during the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the returned task).</exception>
    public Task<IReadOnlyList<RankedDocument>> RankAsync(
        string query,
        IReadOnlyList<string> documents,
        int? topK = null,
        IProgress<ScoringProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ValidateRank(query, documents, topK);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<IReadOnlyList<RankedDocument>>(cancellationToken);
        }

        return Task.Run<IReadOnlyList<RankedDocument>>(() => RankCore(query, documents, topK, progress, cancellationToken), cancellationToken);
    }

    private void ValidateRank(string query, IReadOnlyList<string> documents, int? topK)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(documents);
        if (topK is { } k)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k, nameof(topK));
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var i = 0; i < documents.Count; i++)
        {
            if (documents[i] is null)
            {
                throw new ArgumentException($"Document {i} is null.", nameof(documents));
            }
        }
    }

    private RankedDocument[] RankCore(string query, IReadOnlyList<string> documents, int? topK, IProgress<ScoringProgress>? progress, CancellationToken cancellationToken)
    {
        var results = ScoreCore(new QueryPairs(query, documents), Options.LongDocuments, progress, cancellationToken);
        var scores = Array.ConvertAll(results, r => r.Score);

        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // Array.Sort is not stable: break ties by index so equal scores keep the input order.
        Array.Sort(order, (a, b) => scores[a] != scores[b] ? scores[b].CompareTo(scores[a]) : a.CompareTo(b));

        var count = Math.Min(topK ?? order.Length, order.Length);
        var ranked = new RankedDocument[count];
        for (var r = 0; r < count; r++)
        {
            var i = order[r];
            ranked[r] = new RankedDocument(i, scores[i], results[i].IsTruncated) { Span = results[i].Span, ChunksScored = results[i].ChunksScored };
        }

        return ranked;
    }

    /// <summary>Tokenizes a pair exactly as <see cref="Predict"/> and <see cref="Rank"/> do, to see what the model reads.</summary>
    /// <param name="query">The query.</param>
    /// <param name="document">The document.</param>
    /// <returns>
    /// The token ids with special tokens, how many query and document tokens were kept, and whether the pair was
    /// truncated to <see cref="CrossEncoderOptions.MaxLength"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> or <paramref name="document"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed before or during the call.</exception>
    public PairEncoding EncodePair(string query, string document)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Encode(query, document);
    }

    /// <summary>
    /// Releases the ONNX Runtime session; safe while calls are in flight, and safe to call more than once.
    /// </summary>
    /// <remarks>
    /// Calls that start afterwards throw <see cref="ObjectDisposedException"/>. Calls in flight are stopped: a running
    /// model run is terminated (it stops at the end of its current operator), callers waiting for their turn at the
    /// model are woken, and each throws <see cref="ObjectDisposedException"/>. The session is released once no run
    /// is inside ONNX Runtime, after waiting at most 10 seconds; if a run is still inside then, this method returns
    /// and the last run to leave releases the session. It never throws.
    /// </remarks>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _session.Dispose();
    }

    private PairEncoding Encode(string query, string document, CancellationToken cancellationToken = default) =>
        _encoder.EncodePair(query, document, Options.MaxLength, Options.Truncation, cancellationToken);

    private void ValidatePairs(IReadOnlyList<(string Query, string Document)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var i = 0; i < pairs.Count; i++)
        {
            if (pairs[i].Query is null)
            {
                throw new ArgumentException($"The query of pair {i} is null.", nameof(pairs));
            }

            if (pairs[i].Document is null)
            {
                throw new ArgumentException($"The document of pair {i} is null.", nameof(pairs));
            }
        }
    }

    /// <summary>Tokenizes every pair, counting (metric and log) the pairs that had to be truncated.</summary>
    private PairEncoding[] EncodeAll(IReadOnlyList<(string Query, string Document)> pairs, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var encodings = new PairEncoding[pairs.Count];
        var truncated = 0;
        for (var i = 0; i < encodings.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (query, document) = pairs[i];
            encodings[i] = Encode(query, document, cancellationToken);
            if (encodings[i].IsTruncated)
            {
                truncated++;
            }
        }

        if (truncated > 0)
        {
            RerankerMetrics.TruncatedPairs.Add(truncated);
            Log.PairsTruncated(_logger, truncated, encodings.Length, Options.MaxLength);
        }

        return encodings;
    }

    /// <summary>
    /// Runs the model over encoded pairs. With a cancellable token the call gets its own <see cref="RunOptions"/>,
    /// which the token's callback terminates, so a long batch stops mid-run; ONNX Runtime's error for the terminated
    /// run becomes an <see cref="OperationCanceledException"/>.
    /// </summary>
    private float[] RunLogits(IReadOnlyList<(string Query, string Document)> pairs, PairEncoding[] encodings, IProgress<ScoringProgress>? progress, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var ids = new int[encodings.Length][];
        var typeIds = _session.TakesTokenTypeIds ? new int[encodings.Length][] : null;
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = encodings[i].InputIds;
            if (typeIds is not null)
            {
                typeIds[i] = encodings[i].TokenTypeIds;
            }
        }

        var total = ids.Length;
        var scored = 0;
        var progressLock = new object();
        void OnBatch(int pairs, int tokens, TimeSpan elapsed)
        {
            RerankerMetrics.ScoredPairs.Add(pairs);
            RerankerMetrics.Tokens.Add(tokens);
            RerankerMetrics.BatchDuration.Record(elapsed.TotalMilliseconds);

            // Batches may finish on several threads at once (intra-op threads below the cores): counts stay in order.
            lock (progressLock)
            {
                scored += pairs;
                progress?.Report(new ScoringProgress(scored, total));
            }
        }

        // A dynamically quantized model takes one activation scale over the whole batch, so batch-mates (and their
        // padding) would move each other's scores: such models run one pair per call, whatever BatchSize says.
        var batchSize = _session.IsDynamicallyQuantized ? 1 : Options.BatchSize;
        if (!cancellationToken.CanBeCanceled)
        {
            var logits = _session.Run(ids, _encoder.PadId, batchSize, Options.MaxBatchTokens, runOptions: null, OnBatch, tokenTypeIds: typeIds);
            EnsureFinite(logits, pairs);
            return logits;
        }

        // Disposal order matters: the registration goes first, which waits for a running callback, so the
        // callback never touches a disposed RunOptions.
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, runOptions);
        try
        {
            var logits = _session.Run(ids, _encoder.PadId, batchSize, Options.MaxBatchTokens, runOptions, OnBatch, BeforeModelRun, cancellationToken, typeIds);
            EnsureFinite(logits, pairs);
            return logits;
        }
        catch (OperationCanceledException)
        {
            Log.ScoringCancelled(_logger, scored, total);
            throw;
        }
    }

    /// <summary>
    /// Refuses a non-finite logit: NaN or infinity is no relevance score (a model with broken weights, or one that
    /// overflows float32 on this input), and it would sort arbitrarily in <see cref="Rank"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A logit is NaN or infinite; the message names the first such pair.</exception>
    private static void EnsureFinite(float[] logits, IReadOnlyList<(string Query, string Document)> pairs)
    {
        for (var i = 0; i < logits.Length; i++)
        {
            if (!float.IsFinite(logits[i]))
            {
                var (query, document) = pairs[i];
                throw new InvalidOperationException(
                    $"The model computed a non-finite logit ({logits[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}) for pair {i} " +
                    $"(query \"{Preview(query)}\", document \"{Preview(document)}\"); expected a finite number. " +
                    "The model's weights are broken, or it overflows float32 on this input.");
            }
        }
    }

    private static string Preview(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");

    /// <summary>One query against many documents, as pairs, without copying.</summary>
    private sealed class QueryPairs(string query, IReadOnlyList<string> documents) : IReadOnlyList<(string Query, string Document)>
    {
        public int Count => documents.Count;

        public (string Query, string Document) this[int index] => (query, documents[index]);

        public IEnumerator<(string Query, string Document)> GetEnumerator()
        {
            foreach (var document in documents)
            {
                yield return (query, document);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private static float[] Logits(PairScore[] results) => Array.ConvertAll(results, r => r.Logit);

    private static void Sigmoid(Span<float> values)
    {
        foreach (ref var value in values)
        {
            value = (float)(1.0 / (1.0 + Math.Exp(-value)));
        }
    }
}

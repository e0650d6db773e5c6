using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Reranker.Export.Onnx;
using Reranker.Graph;

namespace Reranker.Inference;

/// <summary>
/// One ONNX Runtime CPU session of a sequence-classification model with a single <c>logits</c> output. It feeds
/// exactly the inputs the model declares and runs length-sorted, padded batches. <see cref="Run"/> is safe to call
/// from several threads at once: each call rents its own buffers, and ONNX Runtime's <c>Run</c> is thread-safe.
/// </summary>
/// <remarks>
/// <see cref="Dispose"/> may be called while runs are in flight: it terminates them, wakes the callers queued at the
/// run gate (both then throw <see cref="ObjectDisposedException"/>), and releases the native session only once no
/// caller is inside it; see <see cref="DisposeWait"/>.
/// </remarks>
internal sealed class LogitSession : IDisposable
{
    internal const string InputIdsName = "input_ids";
    internal const string AttentionMaskName = "attention_mask";
    internal const string TokenTypeIdsName = "token_type_ids";
    internal const string LogitsName = "logits";

    private static readonly string[] OutputNames = [LogitsName];

    /// <summary>
    /// From this sequence length on, a run gives the memory it took back to the system when it ends. Attention
    /// activations grow with the square of the length (8192 tokens: gigabytes), and ONNX Runtime's arena would
    /// otherwise keep its peak for the life of the session. Below it (the default 512 included) runs keep the arena.
    /// </summary>
    internal const int ShrinkArenaFromLength = 1024;

    /// <summary>Size of a rewritten model (weights inside the file) from which loading collects the managed copies at once.</summary>
    private const int LargeInlineModelBytes = 64 << 20;

    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly string[] _inputNames;
    private readonly InputKind[] _inputKinds;
    private readonly bool _logitsWidthIsSymbolic;
    private readonly SemaphoreSlim _runGate;

    // Lifetime: every run registers here (under _lifetime) before it touches the native session and leaves after
    // its outputs are copied, so Dispose knows whom to terminate and when the session is free to release.
    private readonly object _lifetime = new();
    private readonly Dictionary<RunOptions, int> _activeRunOptions = new(ReferenceEqualityComparer.Instance);
    private readonly CancellationTokenSource _disposing = new();
    private int _activeRuns;
    private bool _disposed;
    private bool _releaseDeferred;

        private LogitSession(InferenceSession session, SessionOptions sessionOptions, string[] inputNames, InputKind[] inputKinds, bool logitsWidthIsSymbolic, bool dynamicallyQuantized, LoadTimeRewriteResult? rewrite, bool rejectsPadding)
    {
        IsDynamicallyQuantized = dynamicallyQuantized;
        Rewrite = rewrite;
        RejectsPadding = rejectsPadding;
        ConcurrentRuns = ConcurrentRunLimit(sessionOptions.IntraOpNumThreads, Environment.ProcessorCount);
        _runGate = new SemaphoreSlim(ConcurrentRuns, ConcurrentRuns);
        _session = session;
        _sessionOptions = sessionOptions;
        _inputNames = inputNames;
        _inputKinds = inputKinds;
        _logitsWidthIsSymbolic = logitsWidthIsSymbolic;
    }

    private enum InputKind
    {
        InputIds,
        AttentionMask,
        TokenTypeIds,
    }

    /// <summary>
    /// Whether the model quantizes activations with a scale computed at run time over the whole input tensor (ONNX
    /// Runtime dynamic int8), so that a pair's logit depends on the other pairs of its batch, padding included.
    /// </summary>
    public bool IsDynamicallyQuantized { get; }

    /// <summary>
    /// What the load-time attention rewrite did (<see cref="AttentionRewrite"/>), or <see langword="null"/> when the
    /// model was loaded exactly as exported.
    /// </summary>
    public AttentionRewriteResult? Attention => Rewrite?.Attention;

    /// <summary>
    /// Everything the load-time rewrite did (<see cref="LoadTimeRewrite"/>), or <see langword="null"/> when the model
    /// was loaded exactly as exported.
    /// </summary>
    public LoadTimeRewriteResult? Rewrite { get; }

    /// <summary>
    /// Whether the model runs attention as <c>MultiHeadAttention</c> that may have no mask (rewritten at load time, or
    /// so in the file), so that it must never see padding: <see cref="Run"/> then batches only pairs of equal length.
    /// </summary>
    public bool RejectsPadding { get; }

    /// <summary>
    /// How many <c>Run</c> calls may execute at once: the cores divided by the threads one call uses (at least 1).
    /// ONNX Runtime's intra-op pool already spreads one call over every core by default; concurrent calls beyond
    /// that would only oversubscribe the cores (each caller's thread computes too) and multiply activation memory,
    /// so further callers wait their turn.
    /// </summary>
    public int ConcurrentRuns { get; }

    /// <summary>Benchmark switch: <see langword="false"/> lets every caller run at once, to measure what the gate saves.</summary>
    internal bool GateRuns { get; set; } = true;

    /// <summary>Most concurrent runs that do not oversubscribe <paramref name="processorCount"/> logical processors.</summary>
    /// <param name="intraOpNumThreads">Threads per run; 0 means ONNX Runtime's default, all cores.</param>
    /// <param name="processorCount">Logical processors available to the process.</param>
    internal static int ConcurrentRunLimit(int intraOpNumThreads, int processorCount) =>
        intraOpNumThreads <= 0 ? 1 : Math.Max(1, processorCount / intraOpNumThreads);

    /// <summary>
    /// How long <see cref="Dispose"/> waits for terminated runs to leave the native session. A terminated run stops
    /// at the end of the operator it is in (milliseconds; one attention operator at 8192 tokens of a large model can
    /// take a second or two). If runs are still inside after this, Dispose returns and the last of them releases the
    /// session as it leaves: never while one is inside.
    /// </summary>
    public static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(10);

    /// <summary>Whether the model outputs float16 logits (an fp16 export without float32 outputs); they are widened to float.</summary>
    public bool LogitsAreFloat16 { get; private init; }

    /// <summary>Whether the model declares a <c>token_type_ids</c> input (BERT); it is fed the tokenizer's segment ids.</summary>
    public bool TakesTokenTypeIds => _inputKinds.Contains(InputKind.TokenTypeIds);

    /// <summary>The model inputs this session feeds, in the model's order.</summary>
    public IReadOnlyList<string> InputNames => _inputNames;

    /// <summary>Loads and checks an ONNX model file.</summary>
    /// <param name="modelPath">Path of the <c>.onnx</c> file; external data (<c>model.onnx.data</c>) is found beside it.</param>
    /// <param name="intraOpNumThreads">Threads for one operator; 0 keeps ONNX Runtime's default (the physical cores).</param>
    /// <param name="rewriteAttention">
    /// Replace the unfused attention blocks by <c>com.microsoft.MultiHeadAttention</c> in memory before ONNX Runtime
    /// sees the model (<see cref="AttentionRewrite"/>), so that one pair runs ONNX Runtime's tiled attention in memory
    /// linear in its length; the file is not changed. A model whose attention is not recognised loads as it is (see
    /// <see cref="Attention"/>). <see langword="false"/> loads the file exactly as exported.
    /// </param>
    /// <param name="configure">Test seam: last changes to the session options (for example an optimized-model path).</param>
    /// <param name="attentionOnly">Benchmark seam: only the attention rewrite, not the passes <see cref="LoadTimeRewrite"/> runs after it.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the file.</exception>
    /// <exception cref="NotSupportedException">The model's inputs or outputs are not those of a one-logit sequence classifier.</exception>
    public static LogitSession Load(string modelPath, int intraOpNumThreads, bool rewriteAttention = true, Action<SessionOptions>? configure = null, bool attentionOnly = false)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"ONNX model not found: '{modelPath}'.", modelPath);
        }

        SessionOptions? sessionOptions = null;
        InferenceSession? session = null;
        try
        {
            sessionOptions = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                InterOpNumThreads = 1,
                IntraOpNumThreads = intraOpNumThreads,
            };

            // Intra-op workers keep ONNX Runtime's default: they spin briefly between operators instead of sleeping.
            // One pair per call means hundreds of short parallel sections, and waking sleeping workers for each was
            // measured 5-22 % slower per pair (512 down to 69 tokens) on this project's 2-core CPU; after a run the
            // spinning stops within milliseconds (31 ms of CPU in the 2 s after a run). docs/BENCHMARKS.md, "Levers".
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "1");

            LoadTimeRewriteResult? attention = null;
            byte[]? rewritten = null;
            if (rewriteAttention)
            {
                (attention, rewritten) = RewriteAttention(modelPath, attentionOnly);
                if (rewritten is not null)
                {
                    // A model given as bytes has no folder of its own: external data (model.onnx.data) is found
                    // through this entry, relative to the original file's folder.
                    var folder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
                    sessionOptions.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", folder);
                }
            }

            configure?.Invoke(sessionOptions);
            try
            {
                session = rewritten is null ? new InferenceSession(modelPath, sessionOptions) : new InferenceSession(rewritten, sessionOptions);
            }
            catch (OnnxRuntimeException e) when (rewritten is not null)
            {
                // The rewritten graph is refused (an operator type ONNX Runtime has no CPU kernel for in this
                // precision, say): run the file as exported instead, which is always correct, and say why.
                rewritten = null;
                attention = new LoadTimeRewriteResult(
                    new AttentionRewriteResult(0, attention!.Attention.SoftmaxCount, "ONNX Runtime could not load the rewritten graph, so the model runs as exported: " + e.Message), 0);
                try
                {
                    session = new InferenceSession(modelPath, sessionOptions);
                }
                catch (OnnxRuntimeException again)
                {
                    throw LoadError(modelPath, again);
                }
            }
            catch (OnnxRuntimeException e)
            {
                throw LoadError(modelPath, e);
            }

            if (rewritten is { Length: >= LargeInlineModelBytes })
            {
                // A model with its weights inside the file (no external data) went through managed memory twice
                // (parsed, then serialised for ONNX Runtime, which keeps its own copy): give those buffers back now
                // rather than whenever the GC next looks at the large-object heap.
                rewritten = null;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            }

            var (names, kinds) = CheckInputs(session, modelPath);
            var symbolicWidth = CheckOutput(session, modelPath);
            var halfLogits = session.OutputMetadata[LogitsName].ElementDataType == TensorElementType.Float16;
            var result = new LogitSession(session, sessionOptions, names, kinds, symbolicWidth, OnnxModelScan.UsesDynamicQuantization(modelPath), attention,
                attention?.Attention.Rewritten == true || OnnxModelScan.UsesMultiHeadAttention(modelPath))
            {
                LogitsAreFloat16 = halfLogits,
            };
            session = null;
            sessionOptions = null;
            return result;
        }
        finally
        {
            session?.Dispose();
            sessionOptions?.Dispose();
        }
    }

    /// <summary>
    /// ONNX Runtime's refusal of a file: malformed (<see cref="InvalidDataException"/>), or valid but using an operator or
    /// precision its CPU provider has no kernel for (<see cref="NotSupportedException"/>, with the variants to try).
    /// </summary>
    private static Exception LoadError(string modelPath, OnnxRuntimeException e) =>
        e.Message.Contains("Could not find an implementation", StringComparison.Ordinal) || e.Message.Contains("NOT_IMPLEMENTED", StringComparison.Ordinal)
            ? new NotSupportedException(
                $"ONNX Runtime's CPU provider cannot run the model '{modelPath}': {e.Message} " +
                "An fp16 or 4-bit variant may use operators ONNX Runtime runs only on GPUs: load the fp32 model.onnx or an int8/quantized variant (CrossEncoderOptions.ModelVariant).",
                e)
            : new InvalidDataException($"ONNX Runtime could not load the model '{modelPath}': {e.Message}", e);

    /// <summary>Parses the model and applies <see cref="LoadTimeRewrite"/>.</summary>
    /// <returns>The result, and the rewritten model's bytes when a block was rewritten (else null: load the file).</returns>
    /// <remarks>
    /// Bytes given to ONNX Runtime have no folder: load them with the session config entry
    /// <c>session.model_external_initializers_file_folder_path</c> set to the file's folder (external data).
    /// </remarks>
    internal static (LoadTimeRewriteResult Result, byte[]? Bytes) RewriteAttention(string modelPath, bool attentionOnly = false)
    {
        ModelProto model;
        try
        {
            using var stream = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            // ONNX Runtime will give its own error for the file; the rewrite just steps aside.
            return (new LoadTimeRewriteResult(new AttentionRewriteResult(0, 0, "the file is not an ONNX model this library can parse: " + e.Message), 0), null);
        }

        var result = LoadTimeRewrite.Apply(model, attentionOnly);
        return (result, result.Changed ? Google.Protobuf.MessageExtensions.ToByteArray(model) : null);
    }

    private static (string[] Names, InputKind[] Kinds) CheckInputs(InferenceSession session, string modelPath)
    {
        var names = new List<string>();
        var kinds = new List<InputKind>();
        var unknown = new List<string>();
        foreach (var (name, metadata) in session.InputMetadata)
        {
            InputKind? kind = name switch
            {
                InputIdsName => InputKind.InputIds,
                AttentionMaskName => InputKind.AttentionMask,
                TokenTypeIdsName => InputKind.TokenTypeIds,
                _ => null,
            };
            if (kind is null)
            {
                unknown.Add(name);
                continue;
            }

            if (!metadata.IsTensor || metadata.ElementDataType != TensorElementType.Int64 || metadata.Dimensions.Length != 2)
            {
                throw new NotSupportedException(
                    $"Model '{modelPath}' declares input '{name}' as {Describe(metadata)}; expected an int64 tensor [batch, sequence].");
            }

            names.Add(name);
            kinds.Add(kind.Value);
        }

        if (unknown.Count > 0)
        {
            throw new NotSupportedException(
                $"Model '{modelPath}' declares inputs this library cannot fill: {string.Join(", ", unknown.Select(n => $"'{n}'"))}. " +
                $"Supported inputs: '{InputIdsName}', '{AttentionMaskName}', '{TokenTypeIdsName}'.");
        }

        if (!kinds.Contains(InputKind.InputIds))
        {
            throw new NotSupportedException($"Model '{modelPath}' has no '{InputIdsName}' input.");
        }

        return (names.ToArray(), kinds.ToArray());
    }

    /// <returns><see langword="true"/> when the width of <c>logits</c> is symbolic and must be checked on each run.</returns>
    private static bool CheckOutput(InferenceSession session, string modelPath)
    {
        if (!session.OutputMetadata.TryGetValue(LogitsName, out var logits))
        {
            throw new NotSupportedException(
                $"Model '{modelPath}' has no '{LogitsName}' output (it has: {string.Join(", ", session.OutputMetadata.Keys.Select(n => $"'{n}'"))}); " +
                "export it as a text-classification model.");
        }

        // float16 logits come from fp16 exports that did not keep float32 outputs; they are widened to float.
        if (!logits.IsTensor || logits.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16) || logits.Dimensions.Length != 2)
        {
            throw new NotSupportedException(
                $"Model '{modelPath}' declares '{LogitsName}' as {Describe(logits)}; expected a float (or float16) tensor [batch, 1]: " +
                "a one-logit sequence classifier.");
        }

        var width = logits.Dimensions[1];
        if (width > 0 && width != 1)
        {
            throw new NotSupportedException(
                $"Model '{modelPath}' outputs {width} logits per pair ('{LogitsName}' [batch, {width}]); a cross-encoder reranker outputs exactly one ([batch, 1]).");
        }

        return width <= 0;
    }

    private static string Describe(NodeMetadata metadata) =>
        metadata.IsTensor
            ? $"a {metadata.ElementDataType} tensor of shape [{string.Join(", ", metadata.Dimensions.Select((d, i) => d > 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : metadata.SymbolicDimensions[i]))}]"
            : $"a {metadata.OnnxValueType} value";

    /// <summary>
    /// Groups sequences into batches: sorted by length (ties in input order), at most <paramref name="batchSize"/>
    /// per batch and at most <paramref name="maxBatchTokens"/> padded tokens (count × longest); a sequence longer
    /// than the budget runs alone.
    /// </summary>
    /// <returns>Batches of indices into <paramref name="lengths"/>, each sorted by length ascending.</returns>
    /// <param name="lengths">Token count of each sequence.</param>
    /// <param name="batchSize">Most sequences in one batch.</param>
    /// <param name="maxBatchTokens">Most padded tokens in one batch.</param>
    /// <param name="equalLengthsOnly">
    /// Put only sequences of the same length in a batch (no padding at all), for a model that must not see padding
    /// (<see cref="RejectsPadding"/>).
    /// </param>
    internal static List<int[]> PlanBatches(IReadOnlyList<int> lengths, int batchSize, int maxBatchTokens, bool equalLengthsOnly = false)
    {
        var order = new int[lengths.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // Stable: equal lengths keep input order, so the plan is deterministic.
        Array.Sort(order, (a, b) => lengths[a] != lengths[b] ? lengths[a].CompareTo(lengths[b]) : a.CompareTo(b));

        var batches = new List<int[]>();
        var start = 0;
        while (start < order.Length)
        {
            var end = start + 1;
            while (end < order.Length
                   && end - start < batchSize
                   && (long)(end - start + 1) * lengths[order[end]] <= maxBatchTokens
                   && (!equalLengthsOnly || lengths[order[end]] == lengths[order[start]]))
            {
                end++;
            }

            batches.Add(order[start..end]);
            start = end;
        }

        return batches;
    }

    /// <summary>Computes the logit of every sequence, in input order.</summary>
    /// <remarks>
    /// When one run leaves cores idle (<see cref="ConcurrentRuns"/> above 1: intra-op threads set below the cores),
    /// up to <see cref="ConcurrentRuns"/> batches of the call run at once, each on its own thread; otherwise one after
    /// the other, shortest first. The logits do not depend on which.
    /// </remarks>
    /// <param name="inputIds">Token ids of each pair, special tokens included; none may be empty.</param>
    /// <param name="padId">The tokenizer's padding id, used to fill shorter rows of a batch.</param>
    /// <param name="batchSize">Most sequences in one batch.</param>
    /// <param name="maxBatchTokens">Most padded tokens in one batch.</param>
    /// <param name="runOptions">
    /// Shared by every batch of this call, so that setting <see cref="RunOptions.Terminate"/> stops the batch in
    /// flight; <see langword="null"/> for a fresh instance per batch. Never share one between calls.
    /// </param>
    /// <param name="onBatch">
    /// Called after each batch with its pair count, its real (unpadded) token count and how long it ran; from several
    /// threads at once when batches run in parallel (<see cref="ConcurrentRuns"/> above 1).
    /// </param>
    /// <param name="beforeBatch">Test seam: called after the cancellation check, right before each batch runs.</param>
    /// <param name="cancellationToken">Checked before each batch.</param>
    /// <param name="tokenTypeIds">
    /// The segment id of every token, one array per sequence of the same length as its ids, for a model that declares
    /// <c>token_type_ids</c>; <see langword="null"/> feeds 0 everywhere. Padding gets type 0, as transformers pads.
    /// </param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled between batches.</exception>
    public float[] Run(
        IReadOnlyList<int[]> inputIds,
        int padId,
        int batchSize,
        int maxBatchTokens,
        RunOptions? runOptions = null,
        Action<int, int, TimeSpan>? onBatch = null,
        Action? beforeBatch = null,
        CancellationToken cancellationToken = default,
        IReadOnlyList<int[]>? tokenTypeIds = null)
    {
        var logits = new float[inputIds.Count];
        if (inputIds.Count == 0)
        {
            return logits;
        }

        var lengths = new int[inputIds.Count];
        for (var i = 0; i < lengths.Length; i++)
        {
            lengths[i] = inputIds[i].Length;
            if (lengths[i] == 0)
            {
                throw new ArgumentException($"Sequence {i} is empty.", nameof(inputIds));
            }

            if (tokenTypeIds is not null && tokenTypeIds[i].Length != lengths[i])
            {
                throw new ArgumentException($"Sequence {i} has {lengths[i]} ids but {tokenTypeIds[i].Length} token type ids.", nameof(tokenTypeIds));
            }
        }

        var plan = PlanBatches(lengths, batchSize, maxBatchTokens, RejectsPadding);
        void RunBatch(int[] batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var sequenceLength = lengths[batch[^1]];
            var size = batch.Length * sequenceLength;
            var ids = ArrayPool<long>.Shared.Rent(size);
            var mask = ArrayPool<long>.Shared.Rent(size);
            var types = tokenTypeIds is null || !TakesTokenTypeIds ? null : ArrayPool<long>.Shared.Rent(size);
            var batchLogits = ArrayPool<float>.Shared.Rent(batch.Length);
            try
            {
                ids.AsSpan(0, size).Fill(padId);
                mask.AsSpan(0, size).Clear();
                types?.AsSpan(0, size).Clear();
                for (var row = 0; row < batch.Length; row++)
                {
                    var source = inputIds[batch[row]];
                    var offset = row * sequenceLength;
                    Widen(source, ids.AsSpan(offset));
                    if (types is not null)
                    {
                        Widen(tokenTypeIds![batch[row]], types.AsSpan(offset));
                    }

                    mask.AsSpan(offset, source.Length).Fill(1);
                }

                beforeBatch?.Invoke();
                var started = Stopwatch.GetTimestamp();
                RunPadded(ids.AsMemory(0, size), mask.AsMemory(0, size), batch.Length, sequenceLength, batchLogits.AsSpan(0, batch.Length), runOptions, cancellationToken,
                    types?.AsMemory(0, size));
                var elapsed = Stopwatch.GetElapsedTime(started);
                var tokens = 0;
                for (var row = 0; row < batch.Length; row++)
                {
                    logits[batch[row]] = batchLogits[row];
                    tokens += lengths[batch[row]];
                }

                onBatch?.Invoke(batch.Length, tokens, elapsed);
            }
            finally
            {
                ArrayPool<long>.Shared.Return(ids);
                ArrayPool<long>.Shared.Return(mask);
                if (types is not null)
                {
                    ArrayPool<long>.Shared.Return(types);
                }

                ArrayPool<float>.Shared.Return(batchLogits);
            }
        }

        // One thread per run leaves cores idle while one batch runs: then as many batches run at once as the run gate
        // lets in (cores / threads per run), each on its own thread, so a call of many pairs keeps every core busy.
        var workers = GateRuns ? Math.Min(ConcurrentRuns, plan.Count) : 1;
        if (workers <= 1)
        {
            foreach (var batch in plan)
            {
                RunBatch(batch);
            }

            return logits;
        }

        var next = -1;
        ExceptionDispatchInfo? failure = null;
        void Worker()
        {
            while (Volatile.Read(ref failure) is null)
            {
                var k = Interlocked.Increment(ref next);
                if (k >= plan.Count)
                {
                    return;
                }

                try
                {
                    RunBatch(plan[k]);
                }
                catch (Exception e)
                {
                    // The first failure wins; the other workers stop after the batch they are in.
                    Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                    return;
                }
            }
        }

        var helpers = new Task[workers - 1];
        for (var w = 0; w < helpers.Length; w++)
        {
            helpers[w] = Task.Factory.StartNew(Worker, CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        }

        Worker();
        Task.WaitAll(helpers);
        failure?.Throw();
        return logits;
    }

    /// <summary>Copies token ids (or segment ids) into the start of a row of the model's int64 input.</summary>
    private static void Widen(ReadOnlySpan<int> source, Span<long> row)
    {
        for (var t = 0; t < source.Length; t++)
        {
            row[t] = source[t];
        }
    }

    /// <summary>Runs one padded batch, given as row-major <c>[batchSize, sequenceLength]</c> ids and mask.</summary>
    /// <param name="inputIds">The token ids, padding included.</param>
    /// <param name="attentionMask">1 over real tokens, 0 over padding.</param>
    /// <param name="batchSize">Rows in the batch.</param>
    /// <param name="sequenceLength">Columns in the batch.</param>
    /// <param name="logits">Receives one logit per row.</param>
    /// <param name="runOptions">The caller's run options (to terminate the run), or <see langword="null"/> for a fresh instance.</param>
    /// <param name="cancellationToken">Stops the wait for a turn at the run gate (see <see cref="ConcurrentRuns"/>).</param>
    /// <param name="tokenTypeIds">Segment ids, row-major like the ids, for a model with <c>token_type_ids</c>; <see langword="null"/> for all 0.</param>
    internal void RunPadded(Memory<long> inputIds, Memory<long> attentionMask, int batchSize, int sequenceLength, Span<float> logits, RunOptions? runOptions = null, CancellationToken cancellationToken = default, Memory<long>? tokenTypeIds = null)
    {
        var size = batchSize * sequenceLength;
        if (inputIds.Length != size || attentionMask.Length != size || logits.Length != batchSize || (tokenTypeIds is { } t && t.Length != size))
        {
            throw new ArgumentException($"Buffers do not match a batch of {batchSize} × {sequenceLength}.");
        }

        if (RejectsPadding && attentionMask.Span.Contains(0L))
        {
            throw new InvalidOperationException(
                "This model runs attention as MultiHeadAttention without a padding mask (rewritten at load time, or so in the file), and the batch has padding. " +
                "Batch only pairs of equal length, or load a torch-layout model as exported (CrossEncoderOptions.RewriteAttention = false) to run padded batches.");
        }

        long[] shape = [batchSize, sequenceLength];
        long[]? zeros = null;
        var values = new OrtValue[_inputNames.Length];
        try
        {
            for (var i = 0; i < values.Length; i++)
            {
                Memory<long> data;
                switch (_inputKinds[i])
                {
                    case InputKind.InputIds:
                        data = inputIds;
                        break;
                    case InputKind.AttentionMask:
                        data = attentionMask;
                        break;
                    default:
                        if (tokenTypeIds is { } given)
                        {
                            data = given;
                            break;
                        }

                        // No segment ids given (XLM-R has a single token type): every position is type 0.
                        zeros ??= ArrayPool<long>.Shared.Rent(size);
                        zeros.AsSpan(0, size).Clear();
                        data = zeros.AsMemory(0, size);
                        break;
                }

                values[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, data, shape);
            }

            using var ownRunOptions = runOptions is null ? new RunOptions() : null;
            if (sequenceLength >= ShrinkArenaFromLength)
            {
                // Batches run shortest first, so once a call reaches this length its later batches are as long. The
                // entry goes on the call's shared options: locked, since parallel batches of one call may add it at once.
                var target = runOptions ?? ownRunOptions!;
                lock (target)
                {
                    target.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
                }
            }
            var activeRunOptions = runOptions ?? ownRunOptions!;
            Enter(activeRunOptions);
            try
            {
                RunEntered(values, batchSize, sequenceLength, logits, activeRunOptions, cancellationToken);
            }
            finally
            {
                Exit(activeRunOptions);
            }
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }

            if (zeros is not null)
            {
                ArrayPool<long>.Shared.Return(zeros);
            }
        }
    }

    /// <summary>The part of <see cref="RunPadded"/> that uses the native session: between <see cref="Enter"/> and <see cref="Exit"/>.</summary>
    private void RunEntered(OrtValue[] values, int batchSize, int sequenceLength, Span<float> logits, RunOptions runOptions, CancellationToken cancellationToken)
    {
        var gated = GateRuns;
        if (gated && !_runGate.Wait(0))
        {
            // Queued behind other callers: a cancelled call or a Dispose takes the caller out of the queue (a
            // started run stops through runOptions).
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
            try
            {
                _runGate.Wait(linked.Token);
            }
            catch (OperationCanceledException)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw Disposed(null);
            }
        }

        IDisposableReadOnlyCollection<OrtValue> outputs;
        try
        {
            outputs = _session.Run(runOptions, _inputNames, values, OutputNames);
        }
        catch (OnnxRuntimeException e)
        {
            // A terminated run fails with ORT's error "Exiting due to terminate flag": say why it was terminated.
            if (Volatile.Read(ref _disposed))
            {
                throw Disposed(e);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("Scoring was cancelled while the model was running.", e, cancellationToken);
            }

            throw new InvalidOperationException(
                $"ONNX Runtime failed to run the model on a batch of {batchSize} × {sequenceLength} tokens: {e.Message} " +
                "Expected the model to accept the token ids of its own tokenizer.",
                e);
        }
        finally
        {
            if (gated)
            {
                _runGate.Release();
            }
        }

        using var disposeOutputs = outputs;
        var output = outputs[0];
        var outputShape = output.GetTensorTypeAndShape().Shape;
        if (outputShape.Length != 2 || outputShape[0] != batchSize || outputShape[1] != 1)
        {
            var message = $"The model's '{LogitsName}' output has shape [{string.Join(", ", outputShape)}] for a batch of {batchSize}; expected [{batchSize}, 1].";
            throw _logitsWidthIsSymbolic && outputShape.Length == 2 && outputShape[0] == batchSize
                ? new NotSupportedException(message + " A cross-encoder reranker outputs exactly one logit per pair.")
                : new InvalidOperationException(message);
        }

        // The span points into native memory owned by 'outputs': copy before it is disposed.
        if (LogitsAreFloat16)
        {
            var half = output.GetTensorDataAsSpan<Float16>();
            for (var i = 0; i < logits.Length; i++)
            {
                logits[i] = (float)half[i];
            }

            return;
        }

        output.GetTensorDataAsSpan<float>().CopyTo(logits);
    }

    /// <summary>Registers a run that is about to use the native session.</summary>
    /// <exception cref="ObjectDisposedException">The session has been disposed.</exception>
    private void Enter(RunOptions runOptions)
    {
        lock (_lifetime)
        {
            if (_disposed)
            {
                throw Disposed(null);
            }

            _activeRuns++;
            _activeRunOptions[runOptions] = _activeRunOptions.GetValueOrDefault(runOptions) + 1;
        }
    }

    /// <summary>Unregisters a run; the last run to leave a disposed session wakes Dispose or releases the session itself.</summary>
    private void Exit(RunOptions runOptions)
    {
        lock (_lifetime)
        {
            _activeRuns--;
            if (--_activeRunOptions[runOptions] == 0)
            {
                _activeRunOptions.Remove(runOptions);
            }
            if (_activeRuns == 0 && _disposed)
            {
                if (_releaseDeferred)
                {
                    _releaseDeferred = false;
                    ReleaseNative();
                }

                Monitor.PulseAll(_lifetime);
            }
        }
    }

    private static ObjectDisposedException Disposed(Exception? inner)
    {
        const string message = "The CrossEncoder has been disposed: create a new instance to score (calls in flight when it was disposed are stopped).";
        return inner is null ? new ObjectDisposedException(nameof(CrossEncoder), message) : new ObjectDisposedException(message, inner);
    }

    /// <summary>Benchmark seam: ends ONNX Runtime's session profiling (enabled through <see cref="Load"/>'s configure) and returns the profile's path.</summary>
    internal string EndProfilingForBenchmark() => _session.EndProfiling();

    /// <summary>Whether <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>
    /// Stops runs in flight (their <see cref="RunOptions"/> are terminated, callers queued at the run gate are
    /// woken; both throw <see cref="ObjectDisposedException"/>) and releases the native session once none is inside
    /// it, waiting at most <see cref="DisposeWait"/>. Later runs throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            Volatile.Write(ref _disposed, true);
            foreach (var runOptions in _activeRunOptions.Keys)
            {
                runOptions.Terminate = true;
            }
        }

        // Outside the lock: cancelling runs the gate waiters' callbacks.
        _disposing.Cancel();
        lock (_lifetime)
        {
            var started = Stopwatch.GetTimestamp();
            while (_activeRuns > 0)
            {
                var left = DisposeWait - Stopwatch.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    // Runs still inside: the last one to leave releases the session (Exit).
                    _releaseDeferred = true;
                    return;
                }

                Monitor.Wait(_lifetime, left);
            }

            ReleaseNative();
        }
    }

    private void ReleaseNative()
    {
        _session.Dispose();
        _sessionOptions.Dispose();
        _runGate.Dispose();
        _disposing.Dispose();
    }
}

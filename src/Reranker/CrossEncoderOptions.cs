using Microsoft.Extensions.Logging;
using Reranker.Chunking;
using Reranker.Tokenization;

namespace Reranker;

/// <summary>Settings of a <see cref="CrossEncoder"/>, read once by <see cref="CrossEncoder.Create(string, CrossEncoderOptions?)"/>.</summary>
/// <remarks>
/// Every property validates its value when set, so an invalid option fails where it is written. Settings that
/// depend on the model (such as <see cref="MaxLength"/> against the model's position table) are checked by
/// <see cref="CrossEncoder.Create(string, CrossEncoderOptions?)"/>. A record, so a variant is one
/// <c>with</c> expression away; the properties can also be bound from configuration.
/// </remarks>
public sealed record CrossEncoderOptions
{
    /// <summary>The default of <see cref="ModelFileName"/>.</summary>
    public const string DefaultModelFileName = "model.onnx";

    /// <summary>The default of <see cref="MaxLength"/>.</summary>
    public const int DefaultMaxLength = 512;

    /// <summary>The smallest accepted <see cref="MaxLength"/>: the four special tokens of a pair plus a few text tokens.</summary>
    public const int MinMaxLength = 8;

    /// <summary>Most tokens of one (query, document) pair, special tokens included. Default 512.</summary>
    /// <remarks>
    /// <para>
    /// Longer pairs are shortened by <see cref="Truncation"/>; <see cref="CrossEncoder.EncodePair"/> and
    /// <see cref="RankedDocument.IsTruncated"/> tell when that happened.
    /// </para>
    /// <para>
    /// 512 is the default of FlagEmbedding's <c>FlagReranker</c> and the length used by the AutoRAG Korean
    /// reranker benchmark this library reproduces, and on a CPU the cost of a pair grows with its length (about
    /// linearly up to 512 tokens, faster beyond, as attention takes over). BAAI suggests 1024 for
    /// bge-reranker-v2-m3, and its tokenizer accepts up to 8192: raise it when long passages matter more than
    /// latency. <see cref="CrossEncoder.Create"/> rejects a value above what the model takes: its position table
    /// (<c>max_position_embeddings</c> less the position offset: 8194 - 2 = 8192 for bge-reranker-v2-m3, 1026 - 2 = 1024
    /// for jina-reranker-v2, 512 for a BERT such as ms-marco-MiniLM) and the tokenizer's <c>model_max_length</c> in
    /// <c>tokenizer_config.json</c>. The default 512 is lowered to that limit for a model that takes fewer tokens
    /// (<see cref="CrossEncoder.Options"/> then says the value used).
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is below <see cref="MinMaxLength"/>.</exception>
    public int MaxLength
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, MinMaxLength, nameof(MaxLength));
            field = value;
        }
    } = DefaultMaxLength;

    /// <summary>How a pair longer than <see cref="MaxLength"/> is shortened. Default <see cref="TruncationStrategy.LongestFirst"/>.</summary>
    /// <remarks>
    /// <see cref="TruncationStrategy.LongestFirst"/> matches transformers and sentence-transformers;
    /// <see cref="TruncationStrategy.QueryCapped"/> matches FlagEmbedding's <c>FlagReranker</c>.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="TruncationStrategy"/>.</exception>
    public TruncationStrategy Truncation
    {
        get;
        init
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(Truncation), value, "Not a defined TruncationStrategy.");
            }

            field = value;
        }
    } = TruncationStrategy.LongestFirst;

    /// <summary>
    /// What happens to a document that does not fit beside its query in <see cref="MaxLength"/> tokens: truncated (the
    /// default, today's scores, those of the Python libraries) or split into chunks that are scored separately, the
    /// document keeping the best. See <see cref="LongDocumentOptions"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    public LongDocumentOptions LongDocuments
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value, nameof(LongDocuments));
            field = value;
        }
    } = new();

    /// <summary>Most pairs the model runs at once. Default 1: each pair runs alone.</summary>
    /// <remarks>
    /// <para>
    /// Batches are length-sorted and padded only to their longest pair, and also capped by
    /// <see cref="MaxBatchTokens"/>. On a CPU batching buys little: the work is proportional to the padded tokens,
    /// and on a 2-core machine one pair per call was measured faster than sorted batches of 8 (no padding at all).
    /// A larger batch can help where one pair does not keep many cores busy.
    /// </para>
    /// <para>
    /// With an fp32 model the scores do not depend on the batch. A dynamically quantized (int8) model computes its
    /// activation scale over the whole batch, padding included, which moved logits by up to about 0.1 on the test
    /// fixture; so <see cref="CrossEncoder"/> runs such a model (one with <c>DynamicQuantizeLinear</c> or
    /// <c>DynamicQuantizeMatMul</c> nodes) one pair per call whatever this option says, and a pair's score never
    /// depends on its batch-mates. On a CPU that costs nothing measurable above about 128 tokens per pair.
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int BatchSize
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(BatchSize));
            field = value;
        }
    } = 1;

    /// <summary>Most tokens in one batch, counting padding (pairs × longest pair). Default 8192.</summary>
    /// <remarks>
    /// On a CPU, time and memory grow with the padded token count, so this caps both: at the default it allows 16
    /// pairs of 512 tokens or 64 pairs of 128 (still capped by <see cref="BatchSize"/>). A pair longer than the
    /// budget runs alone. Used only when <see cref="BatchSize"/> is above 1.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int MaxBatchTokens
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(MaxBatchTokens));
            field = value;
        }
    } = 8192;

    /// <summary>Threads ONNX Runtime uses inside one operator; 0 (the default) keeps ONNX Runtime's default, the number of physical cores.</summary>
    /// <remarks>
    /// <para>
    /// Set it to the cores this process may really use (for example under a container CPU quota): more threads than
    /// cores makes inference several times slower.
    /// </para>
    /// <para>
    /// Below the number of cores, several model runs go at once (cores ÷ this value): concurrent callers share the
    /// cores, and one call of many pairs (a <see cref="CrossEncoder.Rank"/> of many documents, chunked documents) runs
    /// that many batches at once, each on its own threads. <c>1</c> scores one pair per core: a single pair then takes
    /// up to cores times longer (on 2 cores: 1.4 times in int8, 1.8 times in fp32), but a call of many pairs finishes sooner, and runs of one thread do not stall when
    /// other processes take a core now and then (docs/BENCHMARKS.md, "pairs in flight"). The logits do not change.
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int IntraOpNumThreads
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(IntraOpNumThreads));
            field = value;
        }
    }

    /// <summary>File name of the ONNX model inside the model directory. Default <c>model.onnx</c>, looked for at the root, then in <c>onnx/</c>.</summary>
    /// <remarks>
    /// <para>
    /// With the default, <see cref="CrossEncoder.Create(string, CrossEncoderOptions?)"/> looks for <c>model.onnx</c> (or
    /// <c>model_{variant}.onnx</c> with <see cref="ModelVariant"/>) at the root of the directory, then in its
    /// <c>onnx/</c> folder, where optimum and Transformers.js repositories keep it. Any other value names one file,
    /// relative to the directory (for example <c>onnx/model_qint8_avx512.onnx</c>).
    /// </para>
    /// <para>
    /// Use for example <c>model_int8.onnx</c> for a dynamically quantized export, which is several times faster on
    /// CPUs with int8 dot-product instructions, at a small cost in accuracy (see <see cref="BatchSize"/> about int8
    /// and batching). External weights
    /// (<c>model.onnx.data</c>) are found beside the file.
    /// </para>
    /// <para>
    /// With <see cref="CrossEncoder.FromPretrainedAsync"/>, a value other than the default names the ONNX file to
    /// download from the repository (like <see cref="Hub.HubDownloadOptions.OnnxFile"/>, which wins when both are set).
    /// The encoder it returns has this property set to the file it loaded: the repository path of the snapshot's ONNX
    /// model (<c>model.onnx</c> or <c>onnx/model.onnx</c>, relative to the snapshot folder), or <c>model.onnx</c> of the
    /// export folder when the model was exported from <c>model.safetensors</c> (see <see cref="Quantize"/>).
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentException">The value is empty or white space.</exception>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    public string ModelFileName
    {
        get;
        init
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(ModelFileName));
            field = value;
        }
    } = DefaultModelFileName;

    /// <summary>
    /// Which ONNX variant to load: <see langword="null"/> (the default) for fp32 <c>model.onnx</c>; otherwise the
    /// <c>{variant}</c> of <c>model_{variant}.onnx</c>, as repositories name them: <c>int8</c> (this library's export),
    /// <c>quantized</c>, <c>uint8</c>, <c>fp16</c>, <c>q4</c>, <c>bnb4</c> (Transformers.js), <c>qint8_avx512</c>,
    /// <c>O3</c> (sentence-transformers).
    /// </summary>
    /// <remarks>
    /// The file is looked for at the root of the model directory, then in <c>onnx/</c>; when it is in neither, the
    /// error lists the variants that exist. With <see cref="CrossEncoder.FromPretrainedAsync"/> it also picks the file
    /// to download. Leave <see cref="ModelFileName"/> at its default when setting this. Quantized variants
    /// (dynamic int8 with <c>DynamicQuantizeLinear</c>, or 4-bit <c>MatMulNBits</c>) run on ONNX Runtime's CPU kernels;
    /// an fp16 variant runs if ONNX Runtime has CPU kernels for its operators, and its float16 logits are widened
    /// to float.
    /// </remarks>
    /// <exception cref="ArgumentException">The value is empty or has characters other than letters, digits and underscores.</exception>
    public string? ModelVariant
    {
        get;
        init
        {
            if (value is not null && !Inference.OnnxModelFiles.IsValidVariant(value))
            {
                throw new ArgumentException(
                    $"ModelVariant '{value}' is not a variant name: expected letters, digits and underscores, the part X of model_X.onnx (int8, quantized, fp16, ...).",
                    nameof(ModelVariant));
            }

            field = value;
        }
    }

    /// <summary>
    /// Whether the model's attention is rewritten, in memory at load time, to ONNX Runtime's
    /// <c>com.microsoft.MultiHeadAttention</c> without a mask, the one CPU operator with tiled ("flash") attention.
    /// Default <see langword="true"/>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The unfused attention of an exported model (this library's exporter, torch.onnx, optimum) holds two
    /// [heads, S, S] float tensors per layer: memory grows with the square of the pair's length (about 5.4 GB for one
    /// 8192-token pair even on a 2-layer test model). The rewritten graph needs memory linear in the length, and is
    /// as fast at 512 tokens and faster from about 2048. The file on disk is not changed; fp32 and int8 models are
    /// rewritten alike. A graph whose attention is not recognised runs as it is (logged as
    /// <see cref="CrossEncoderLogEvents.AttentionNotRewritten"/>).
    /// </para>
    /// <para>
    /// A rewritten model has no padding mask, so the encoder puts only pairs of the same token length in one batch
    /// (<see cref="BatchSize"/> above 1); with the default <see cref="BatchSize"/> of 1 nothing changes. Logits
    /// differ from those of the model as exported by rounding only (about 1e-6 in fp32). Set it to
    /// <see langword="false"/> to run the file exactly as exported, the graph Python ONNX Runtime runs (for parity
    /// with it, which matters most for int8: dynamic quantization turns any rounding difference into a logit
    /// difference of up to int8's own error against fp32, though no less accurate; see docs/CONFIGURATION.md,
    /// "Memory at long lengths"), or to batch pairs of different lengths with padding.
    /// </para>
    /// <para>
    /// On a graph that runs <c>MultiHeadAttention</c>, one more in-memory change follows, for speed: a residual addition
    /// that feeds a layer normalization is kept apart from it, so that ONNX Runtime does not fuse the pair into its
    /// slower <c>SkipLayerNormalization</c> kernel (fp32 logits move by float rounding at most; bit-identical on this
    /// library's exports, where ONNX Runtime does not fuse them in fp32 anyway).
    /// </para>
    /// </remarks>
    public bool RewriteAttention { get; init; } = true;

    /// <summary>
    /// Benchmark seam: only the attention rewrite at load time, without the passes that follow it (the default path
    /// before they were added), so that a benchmark can time both in one process.
    /// </summary>
    internal bool RewriteAttentionOnly { get; init; }

    /// <summary>
    /// Whether <see cref="CrossEncoder.FromPretrainedAsync"/> exports int8 instead of fp32 when a repository has only
    /// <c>model.safetensors</c>. Default <see langword="false"/> (fp32).
    /// </summary>
    /// <remarks>
    /// The int8 export uses dynamic quantization with per-channel int8 weights (the scheme of ONNX Runtime's
    /// <c>quantize_dynamic</c>; see docs/EXPORT.md): about a quarter of the size and faster on CPUs with int8
    /// dot-product instructions, at a small cost in accuracy. The export is written once per commit and precision,
    /// into <c>{cache}/models--{org}--{name}/onnx/{commit}/int8/</c> (or <c>fp32/</c>), and reused afterwards.
    /// <see cref="CrossEncoder.Create(string, CrossEncoderOptions?)"/> and repositories that ship an ONNX model ignore it.
    /// </remarks>
    public bool Quantize { get; init; }

    /// <summary>
    /// Creates the logger of the encoder (category <c>Reranker.CrossEncoder</c>); <see langword="null"/> (the default)
    /// logs nothing.
    /// </summary>
    /// <remarks>
    /// Events: model loaded (path, load time, inputs, threads; Information), pairs truncated (count per call; Debug),
    /// scoring cancelled (Debug), and for <see cref="CrossEncoder.FromPretrainedAsync"/> the ONNX export of a snapshot
    /// (Information) or its reuse (Debug). The event ids are those of <see cref="CrossEncoderLogEvents"/>.
    /// </remarks>
    public ILoggerFactory? LoggerFactory { get; init; }
}

namespace Reranker.Hub;

/// <summary>Settings for <see cref="HubSnapshot.DownloadAsync"/>. Every property is optional; unset ones fall back to the
/// same environment variables <c>huggingface_hub</c> reads, so Python and .NET share one cache.</summary>
public sealed class HubDownloadOptions
{
    /// <summary>Branch, tag or full 40-character commit hash to download. Defaults to <c>main</c>.</summary>
    public string Revision { get; init; } = "main";

    /// <summary>
    /// Glob patterns (<c>*</c>, <c>?</c>, <c>[...]</c>, matched against the whole repository path, as Python's
    /// <c>fnmatch</c> does) choosing which files to download. When <see langword="null"/> (the default) the files a
    /// cross-encoder needs are chosen: <c>config.json</c>, <c>tokenizer.json</c>, <c>tokenizer_config.json</c>,
    /// <c>special_tokens_map.json</c>, <c>sentencepiece.bpe.model</c>, one ONNX model with its external data file, or
    /// <c>model.safetensors</c> when the repository has no ONNX model.
    /// </summary>
    public IReadOnlyList<string>? AllowPatterns { get; init; }

    /// <summary>Repository path of the ONNX model to use, for example <c>onnx/model_quantized.onnx</c>. When
    /// <see langword="null"/>, <c>model.onnx</c> is preferred, then <c>onnx/model.onnx</c>.</summary>
    public string? OnnxFile { get; init; }

    /// <summary>
    /// The ONNX variant to download when <see cref="OnnxFile"/> is not set: <c>model_{variant}.onnx</c>, else
    /// <c>onnx/model_{variant}.onnx</c> (<c>quantized</c>, <c>int8</c>, <c>fp16</c>, ...; see
    /// <see cref="CrossEncoderOptions.ModelVariant"/>). <see langword="null"/> (the default) takes fp32 <c>model.onnx</c>.
    /// When the repository has ONNX files but not this one, the download fails with <see cref="HubErrorKind.NotFound"/>
    /// naming the variants it has; a repository without ONNX files selects <c>model.safetensors</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The value is not a variant name (letters, digits, underscores).</exception>
    public string? OnnxVariant
    {
        get;
        init
        {
            if (value is not null && !Inference.OnnxModelFiles.IsValidVariant(value))
            {
                throw new ArgumentException($"OnnxVariant '{value}' is not a variant name: expected letters, digits and underscores.", nameof(OnnxVariant));
            }

            field = value;
        }
    }

    /// <summary>The hub cache folder. Defaults to <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
    /// <c>~/.cache/huggingface/hub</c>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The hub's base address. Defaults to <c>HF_ENDPOINT</c>, else <c>https://huggingface.co</c>.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>Access token sent as <c>Authorization: Bearer</c> to the hub (never to the storage host a large file is
    /// redirected to). Defaults to <c>HF_TOKEN</c>, else the token file written by <c>hf auth login</c>.</summary>
    public string? Token { get; init; }

    /// <summary>When <see langword="true"/>, no request is made and the cached snapshot is used. Defaults to
    /// <c>HF_HUB_OFFLINE</c> (<c>1</c>, <c>ON</c>, <c>YES</c> or <c>TRUE</c>).</summary>
    public bool? Offline { get; init; }

    /// <summary>
    /// Handler for all HTTP traffic (proxies, tests). It must not follow redirects itself (for
    /// <see cref="HttpClientHandler"/> or <see cref="SocketsHttpHandler"/>, set <c>AllowAutoRedirect = false</c>):
    /// the downloader follows them so that it can read the hub's metadata on the redirect and keep the token away
    /// from other hosts. The handler is not disposed.
    /// </summary>
    public HttpMessageHandler? HttpMessageHandler { get; init; }

    /// <summary>Replaces the process environment (tests).</summary>
    internal Func<string, string?>? Environment { get; init; }

    /// <summary>Copies blobs into the snapshot instead of linking them, as on a file system without symlinks (tests).</summary>
    internal bool DisableSymlinks { get; init; }

    /// <summary>How long one read may wait for data before the transfer counts as broken and is resumed.</summary>
    internal TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How many times in a row a transfer may break without making progress before the download fails.</summary>
    internal int MaxRetries { get; init; } = 5;

    /// <summary>Pause before resuming a broken transfer.</summary>
    internal TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A copy with another <see cref="OnnxFile"/> and <see cref="OnnxVariant"/> (every other setting, internal ones included, kept).</summary>
    internal HubDownloadOptions WithOnnxFile(string? onnxFile, string? onnxVariant = null) => new()
    {
        Revision = Revision,
        AllowPatterns = AllowPatterns,
        OnnxFile = onnxFile,
        OnnxVariant = onnxVariant ?? OnnxVariant,
        CacheDirectory = CacheDirectory,
        Endpoint = Endpoint,
        Token = Token,
        Offline = Offline,
        HttpMessageHandler = HttpMessageHandler,
        Environment = Environment,
        DisableSymlinks = DisableSymlinks,
        ReadTimeout = ReadTimeout,
        MaxRetries = MaxRetries,
        RetryDelay = RetryDelay,
    };
}

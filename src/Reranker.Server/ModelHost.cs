using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Reranker.Hub;

namespace Reranker.Server;

/// <summary>
/// Owns the service's one <see cref="CrossEncoder"/>: loads it in the background once the server listens (so liveness
/// answers during a long download or export), says whether the service is ready, and on shutdown stops admitting
/// work, lets admitted requests finish, then disposes the encoder.
/// </summary>
public sealed class ModelHost : IHostedLifecycleService, IDisposable
{
    private readonly ModelSource _source;
    private readonly CrossEncoderOptions _encoderOptions;
    private readonly RerankServerOptions _settings;
    private readonly RequestGate _gate;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ModelHost> _logger;
    private readonly TextWriter? _progress;
    private readonly Func<CancellationToken, Task>? _beforeLoad;
    private readonly CancellationTokenSource _stopLoading = new();
    private Task _loading = Task.CompletedTask;
    private volatile CrossEncoder? _encoder;
    private volatile bool _draining;
    private int _disposed;

    internal ModelHost(
        ModelSource source,
        CrossEncoderOptions encoderOptions,
        RerankServerOptions settings,
        RequestGate gate,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggerFactory,
        ServeHooks hooks)
    {
        _source = source;
        _encoderOptions = encoderOptions.LoggerFactory is null ? encoderOptions with { LoggerFactory = loggerFactory } : encoderOptions;
        _settings = settings;
        _gate = gate;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger<ModelHost>();
        _progress = hooks.Progress;
        _beforeLoad = hooks.BeforeLoad;
    }

    /// <summary>The loaded encoder; <see langword="null"/> until the model is loaded.</summary>
    public CrossEncoder? Encoder => _encoder;

    /// <summary>Whether requests are scored: the model is loaded and the service is not shutting down.</summary>
    public bool IsReady => _encoder is not null && !_draining;

    /// <summary>Whether the service is shutting down: new requests are refused.</summary>
    public bool IsDraining => _draining;

    /// <summary>Why the model could not be loaded; <see langword="null"/> while loading and after success.</summary>
    public ServerStartupException? Failure { get; private set; }

    /// <summary>The model directory or hub id being served.</summary>
    public string Model => _source.Value;

    /// <summary>The state reported by the readiness probe: <c>ok</c>, <c>loading</c>, <c>draining</c> or <c>failed</c>.</summary>
    public string Status => _draining ? "draining" : Failure is not null ? "failed" : _encoder is null ? "loading" : "ok";

    /// <inheritdoc />
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _lifetime.ApplicationStopping.Register(() => _draining = true);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        // The server listens now: load in the background.
        _loading = Task.Run(() => LoadAsync(_stopLoading.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Runs before the server stops listening: readiness and new requests answer 503 from here on.
        _draining = true;
        await _stopLoading.CancelAsync().ConfigureAwait(false);
        if (_settings.DrainDelaySeconds > 0 && Failure is null)
        {
            Log.DrainDelay(_logger, _settings.DrainDelaySeconds);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(_settings.DrainDelaySeconds), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Disposes the encoder once no admitted request uses it (waiting a few seconds at most: after the drain timeout
    /// the server has cancelled them). An encoder still in use then is left to the process exit instead of being
    /// disposed under a running call.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _draining = true;
        _stopLoading.Cancel();
        _loading.Wait(TimeSpan.FromSeconds(10));
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;
        while (_gate.Admitted > 0 && Stopwatch.GetTimestamp() < deadline)
        {
            Thread.Sleep(10);
        }

        if (_gate.Admitted > 0)
        {
            Log.EncoderLeftUndisposed(_logger, _gate.Admitted);
        }
        else
        {
            Interlocked.Exchange(ref _encoder, null)?.Dispose();
        }

        _stopLoading.Dispose();
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        CrossEncoder? encoder = null;
        try
        {
            if (_beforeLoad is not null)
            {
                await _beforeLoad(cancellationToken).ConfigureAwait(false);
            }

            encoder = _source.IsDirectory
                ? await Task.Run(() => LoadDirectory(), cancellationToken).ConfigureAwait(false)
                : await LoadFromHubAsync(cancellationToken).ConfigureAwait(false);

            // As TEI: ready once a forward pass has run, so the first request does not pay for ONNX Runtime's warm-up.
            await encoder.PredictAsync([("warm-up", "warm-up")], cancellationToken: cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (Volatile.Read(ref _disposed) != 0)
            {
                encoder.Dispose();
                return;
            }

            _encoder = encoder;
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            Log.Ready(_logger, _source.Value, elapsed);
            _progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reranker serve: model {_source.Value} ready in {elapsed:F1} s"));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            encoder?.Dispose();
        }
        catch (Exception e)
        {
            encoder?.Dispose();
            Failure = e as ServerStartupException ?? new ServerStartupException(OneLine(Describe(e)), ServerStartupException.ExitFailure, e);
            Log.LoadFailed(_logger, Failure.Message);
            _lifetime.StopApplication();
        }
    }

    private CrossEncoder LoadDirectory()
    {
        var options = _encoderOptions;
        if (options.Quantize && options.ModelFileName == CrossEncoderOptions.DefaultModelFileName && options.ModelVariant is null)
        {
            // For a directory, --quantize picks the int8 file that 'reranker export --int8' writes beside the fp32 one
            // (model_int8.onnx, at the root or in onnx/).
            const string int8 = "model_int8.onnx";
            if (!File.Exists(Path.Combine(_source.Value, int8)) && !File.Exists(Path.Combine(_source.Value, "onnx", int8)))
            {
                throw new ServerStartupException(
                    $"--quantize: '{_source.Value}' has no {int8}; export one with 'reranker export --int8', pick another variant with --variant, or leave out --quantize.");
            }

            options = options with { ModelVariant = "int8" };
        }

        _progress?.WriteLine($"reranker serve: loading {(options.ModelVariant is { } variant ? $"the {variant} variant of " : "")}{_source.Value}");
        return CrossEncoder.Create(_source.Value, options);
    }

    private async Task<CrossEncoder> LoadFromHubAsync(CancellationToken cancellationToken)
    {
        var hubOptions = _source.Revision is null ? new HubDownloadOptions() : new HubDownloadOptions { Revision = _source.Revision };
        _progress?.WriteLine($"reranker serve: fetching {_source.Value}{(_source.Revision is null ? "" : "@" + _source.Revision)} into the hub cache (a repository without ONNX is exported once, which takes minutes for a full-size model)");
        try
        {
            return await CrossEncoder.FromPretrainedAsync(
                _source.Value, _encoderOptions, hubOptions, _progress is null ? null : new DownloadProgressWriter(_progress), cancellationToken).ConfigureAwait(false);
        }
        catch (HubException e)
        {
            throw new ServerStartupException(OneLine(HubHint(e)), ServerStartupException.ExitFailure, e);
        }
    }

    private string HubHint(HubException e) => e.Kind switch
    {
        HubErrorKind.NotFound or HubErrorKind.Unauthorized =>
            $"'{_source.Value}' is not a local directory, and the hub does not serve it: {e.Message} Check the id (and --revision), set HF_TOKEN for a private or gated model, or pass an existing directory.",
        HubErrorKind.NotCached or HubErrorKind.Unreachable => $"'{_source.Value}' is not a local directory, and {Lower(e.Message)}",
        _ => $"downloading '{_source.Value}' failed: {e.Message}",
    };

    private static string Lower(string message) => message.Length > 0 ? char.ToLowerInvariant(message[0]) + message[1..] : message;

    private string Describe(Exception e) => e switch
    {
        DirectoryNotFoundException or FileNotFoundException or InvalidDataException or NotSupportedException or IOException or UnauthorizedAccessException =>
            $"cannot load the model '{_source.Value}': {e.Message}",
        ArgumentException => $"invalid model setting: {e.Message} Check the Reranker:CrossEncoder settings.",
        _ => $"loading the model '{_source.Value}' failed: {e.GetType().Name}: {e.Message}",
    };

    private static string OneLine(string message) => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Writes download progress to stderr: at most once a second per file, and when a file is complete.</summary>
    private sealed class DownloadProgressWriter(TextWriter output) : IProgress<HubDownloadProgress>
    {
        private readonly Lock _lock = new();
        private string? _file;
        private long _lastWrite;

        public void Report(HubDownloadProgress value)
        {
            lock (_lock)
            {
                var now = Stopwatch.GetTimestamp();
                var done = value.BytesDownloaded >= value.TotalBytes;
                if (!done && value.File == _file && Stopwatch.GetElapsedTime(_lastWrite, now) < TimeSpan.FromSeconds(1))
                {
                    return;
                }

                _file = value.File;
                _lastWrite = now;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"reranker serve: download {value.FileIndex + 1}/{value.FileCount} {value.File}: {value.BytesDownloaded / 1048576.0:F1}/{value.TotalBytes / 1048576.0:F1} MiB, {value.BytesPerSecond / 1048576.0:F1} MiB/s"));
            }
        }
    }
}

/// <summary>What the command line gives the service beyond configuration.</summary>
public sealed class ServeHooks
{
    /// <summary>Where load progress (downloads, export, ready) is written, typically standard error; <see langword="null"/> for none.</summary>
    public TextWriter? Progress { get; init; }

    /// <summary>For tests: awaited before the model loads.</summary>
    internal Func<CancellationToken, Task>? BeforeLoad { get; init; }

    /// <summary>For tests: more services (a capturing logger provider).</summary>
    internal Action<IServiceCollection>? ConfigureServices { get; init; }
}

/// <summary>The log messages of the service.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Model {Model} loaded and warmed up in {Seconds:F1} s; ready")]
    public static partial void Ready(ILogger logger, string model, double seconds);

    [LoggerMessage(EventId = 101, Level = LogLevel.Critical, Message = "{Message}")]
    public static partial void LoadFailed(ILogger logger, string message);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Shutting down: refusing new requests for {Seconds} s before closing the port")]
    public static partial void DrainDelay(ILogger logger, double seconds);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "{Count} requests still running after the drain; the model is released with the process")]
    public static partial void EncoderLeftUndisposed(ILogger logger, int count);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Request refused on {Path}: {Status} {Message}")]
    public static partial void BadRequest(ILogger logger, string path, int status, string message);

    [LoggerMessage(EventId = 111, Level = LogLevel.Error, Message = "Scoring failed on {Path}")]
    public static partial void ScoringFailed(ILogger logger, Exception exception, string path);
}

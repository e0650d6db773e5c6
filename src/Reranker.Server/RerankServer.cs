using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using Reranker.Chunking;
using Reranker.Tokenization;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Reranker.Server;

/// <summary>
/// Builds the reranking web application: one <see cref="CrossEncoder"/> per process (loaded in the background by
/// <see cref="ModelHost"/>) behind a bounded request gate, with probes and Prometheus metrics.
/// </summary>
public static class RerankServer
{
    /// <summary>Where the service listens when no URL is configured (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, ...).</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>Liveness: 200 while the process answers, during a model download too.</summary>
    public const string LivenessPath = "/alive";

    /// <summary>Readiness (as TEI's <c>/health</c>): 200 once the model is loaded, 503 while loading and while shutting down.</summary>
    public const string ReadinessPath = "/health";

    /// <summary>The Prometheus scraping endpoint.</summary>
    public const string MetricsPath = "/metrics";

    private const string ReadyTag = "ready";

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        // Texts go back as UTF-8 instead of \uXXXX escapes; the responses are JSON, never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Builds the application from command-line arguments and the usual ASP.NET Core configuration sources. Settings
    /// are checked here; the model loads in the background once the application has started, so liveness answers
    /// during a long download or export (readiness says when it is loaded).
    /// </summary>
    /// <param name="args">
    /// Command-line arguments: <c>--urls</c>, <c>--model DIR_OR_HUB_ID</c>, <c>--revision R</c>, <c>--quantize true</c>,
    /// <c>--Reranker:Setting value</c> (see <see cref="RerankServerOptions"/>).
    /// </param>
    /// <param name="hooks">Where load progress goes; <see langword="null"/> for nowhere.</param>
    /// <returns>The application, not started: call <see cref="StartAsync"/> (or <c>RunAsync</c>).</returns>
    /// <exception cref="ServerStartupException">A setting is invalid, or the model directory does not exist.</exception>
    public static WebApplication CreateApp(string[] args, ServeHooks? hooks = null)
    {
        hooks ??= new ServeHooks();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        // Defaults below every other source: the hosting lifetime's "Now listening on" and warnings of ASP.NET Core.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                // The host logs a failed start with a stack trace; the service reports it as one line instead.
                ["Logging:LogLevel:Microsoft.Extensions.Hosting.Internal.Host"] = "Critical",
                // Not ready while loading or draining is expected, not an error to log on every probe.
                ["Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService"] = "Critical",
            },
        });
        var configuration = builder.Configuration;
        var (options, encoderOptions) = ReadOptions(configuration);
        if (encoderOptions.IntraOpNumThreads == 0 && CpuLimit.Threads() is { } limited)
        {
            // A container's CPU quota (or an affinity mask): ONNX Runtime's default counts the machine's cores, so
            // more threads than the quota would spin against each other. .NET's ProcessorCount follows the quota.
            encoderOptions = encoderOptions with { IntraOpNumThreads = limited };
        }
        var source = ModelSource.Resolve(options.ModelSetting, options.Revision);
        options.Model = source.Value;
        options.ModelName ??= source.DefaultName;

        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["http_ports"]) &&
            string.IsNullOrEmpty(configuration["https_ports"]) && !configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        else if (configuration["urls"] is { Length: > 0 } urls)
        {
            CheckUrls(urls);
        }

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes);
        // The whole stop: the drain delay, then Kestrel waits this long for requests in flight before closing them.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(options.DrainDelaySeconds + options.DrainTimeoutSeconds));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(_ => new RequestGate(options.MaxConcurrentRequests, options.MaxQueuedRequests));
        builder.Services.AddSingleton(provider => new ModelHost(
            source,
            encoderOptions,
            options,
            provider.GetRequiredService<RequestGate>(),
            provider.GetRequiredService<IHostApplicationLifetime>(),
            provider.GetRequiredService<ILoggerFactory>(),
            hooks));
        builder.Services.AddHostedService(provider => provider.GetRequiredService<ModelHost>());
        builder.Services.AddSingleton(provider => new ServerMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), provider.GetRequiredService<RequestGate>()));
        builder.Services.AddHealthChecks().AddCheck<ModelHealthCheck>("model", tags: [ReadyTag]);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("reranker", serviceVersion: typeof(RerankServer).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics => metrics
            .AddMeter(CrossEncoder.MeterName, ServerMetrics.MeterName)
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

        hooks.ConfigureServices?.Invoke(builder.Services);
        var app = builder.Build();
        // The instruments exist from the start, so the gauges are scraped before the first request.
        app.Services.GetRequiredService<ServerMetrics>();
        app.UseExceptionHandler(error => error.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return context.Response.WriteAsJsonAsync(new ErrorBody("Internal error while scoring.", ErrorTypes.Backend), JsonOptions);
        }));

        if (options.ApiKeys.Count > 0)
        {
            // Before every endpoint: routing has already chosen one (WebApplication runs UseRouting first), so the
            // probes are recognised by their AllowAnonymous metadata.
            var authentication = new ApiKeyAuthentication(options.ApiKeys, app.Services.GetRequiredService<ServerMetrics>(), app.Services.GetRequiredService<ILoggerFactory>());
            app.Use(authentication.InvokeAsync);
        }

        app.MapPost("/rerank", (HttpContext context, ModelHost host, RequestGate gate, ServerMetrics metrics, RerankServerOptions settings) =>
            HandleAsync(context, host, gate, metrics, settings, "rerank", root => RequestParser.ParseTei(root, settings), (encoder, request, cancel) => ScoreTeiAsync(encoder, settings, metrics, request, cancel)));
        app.MapPost("/v1/rerank", (HttpContext context, ModelHost host, RequestGate gate, ServerMetrics metrics, RerankServerOptions settings) =>
            HandleAsync(context, host, gate, metrics, settings, "v1/rerank", root => RequestParser.ParseCohere(root, settings), (encoder, request, cancel) => ScoreCohereAsync(encoder, settings, metrics, request, cancel)));

        var ready = new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag), ResponseWriter = WriteHealthAsync };
        // Not ready is reported as Degraded (logged as a warning, not an error, by the health check service) and answered 503.
        ready.ResultStatusCodes[HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable;
        // The probes answer without an API key: a kubelet or load balancer has none to send.
        app.MapHealthChecks(ReadinessPath, ready).AllowAnonymous();
        app.MapHealthChecks("/ping", ready).AllowAnonymous();
        app.MapHealthChecks(LivenessPath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = (context, _) => context.Response.WriteAsJsonAsync(new { Status = "alive" }, JsonOptions) }).AllowAnonymous();
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        app.MapGet("/info", (ModelHost host, RerankServerOptions settings) => Results.Json(
            new
            {
                Model = settings.ModelName,
                Source = settings.Model,
                settings.Revision,
                host.Status,
                ModelFile = host.Encoder?.Options.ModelFileName,
                host.Encoder?.Model.ModelPath,
                Precision = host.Encoder is null ? null : host.Encoder.Model.Precision == ModelPrecision.Int8 ? "int8" : "float",
                Tokenizer = host.Encoder?.Model.TokenizerPath,
                TokenizerMatchesHuggingFace = host.Encoder?.Model.TokenizerMatchesHuggingFace,
                host.Encoder?.Options.MaxLength,
                Truncation = host.Encoder?.Options.Truncation.ToString(),
                host.Encoder?.Options.BatchSize,
                host.Encoder?.Options.MaxBatchTokens,
                LongDocumentStrategy = host.Encoder?.Options.LongDocuments.Strategy.ToString(),
                host.Encoder?.Options.LongDocuments.MaxChunksPerDocument,
                host.Encoder?.Options.LongDocuments.ChunkOverlap,
                host.Encoder?.Options.IntraOpNumThreads,
                Environment.ProcessorCount,
                settings.AutoTruncate,
                ApiKeyRequired = settings.ApiKeys.Count > 0,
                settings.MaxDocuments,
                settings.MaxTextCharacters,
                settings.MaxRequestCharacters,
                settings.MaxRequestBytes,
                settings.MaxConcurrentRequests,
                settings.MaxQueuedRequests,
                settings.DrainTimeoutSeconds,
                settings.DrainDelaySeconds,
                Version = typeof(CrossEncoder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
            },
            JsonOptions));
        return app;
    }

    /// <summary>
    /// Starts the application: binds its addresses and starts loading the model. A failure to bind (a port in use, an
    /// address of another machine) becomes a <see cref="ServerStartupException"/>.
    /// </summary>
    /// <param name="app">An application from <see cref="CreateApp"/>.</param>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <returns>A task that completes when the server listens.</returns>
    /// <exception cref="ServerStartupException">The server cannot listen on its addresses.</exception>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException or FormatException)
        {
            var urls = app.Configuration["urls"] ?? string.Join(';', app.Urls);
            var certificate = app.Configuration.GetSection("Kestrel:Certificates").Exists() ||
                (urls.Contains("https:", StringComparison.OrdinalIgnoreCase) && e.GetBaseException().Message.Contains("certificate", StringComparison.OrdinalIgnoreCase));
            var hint = certificate
                ? "Give a readable certificate for HTTPS: --Kestrel:Certificates:Default:Path cert.pem --Kestrel:Certificates:Default:KeyPath key.pem (PEM), or Path and Password for a .pfx."
                : "Pick a free port on an address of this machine with --urls (e.g. --urls http://0.0.0.0:8080).";
            throw new ServerStartupException(
                $"cannot listen on {urls}: {FirstLine(e.GetBaseException().Message)} {hint}",
                ServerStartupException.ExitFailure,
                e);
        }
    }

    private static (RerankServerOptions Options, CrossEncoderOptions EncoderOptions) ReadOptions(IConfiguration configuration)
    {
        RerankServerOptions options;
        CrossEncoderOptions encoderOptions;
        var section = configuration.GetSection(RerankServerOptions.SectionName);
        try
        {
            options = section.Get<RerankServerOptions>() ?? new RerankServerOptions();
            encoderOptions = section.GetSection("CrossEncoder").Get<CrossEncoderOptions>() ?? new CrossEncoderOptions();
            if (configuration["quantize"] is { } quantize)
            {
                encoderOptions = encoderOptions with { Quantize = bool.Parse(quantize) };
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or TargetInvocationException)
        {
            throw new ServerStartupException($"invalid setting: {FirstLine(e.GetBaseException().Message)}", ServerStartupException.ExitUsage, e);
        }

        if (configuration["model"] is { Length: > 0 } model)
        {
            options.Model = model;
        }

        if (configuration["revision"] is { } revision)
        {
            options.Revision = revision;
        }

        options.Validate();
        return (options, encoderOptions);
    }

    private static void CheckUrls(string urls)
    {
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress address;
            try
            {
                address = BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                throw BadUrl(url);
            }

            if (address.IsUnixPipe || address.IsNamedPipe)
            {
                continue;
            }

            if (address.Scheme is not ("http" or "https") || address.Port is < 0 or > 65535 || string.IsNullOrEmpty(address.Host))
            {
                throw BadUrl(url);
            }
        }
    }

    private static ServerStartupException BadUrl(string url) => new(
        $"--urls: '{url}' is not a listening address; give scheme, host and a port from 0 to 65535, e.g. http://0.0.0.0:8080 (several separated by ';').",
        ServerStartupException.ExitUsage);

    private static string FirstLine(string message) => message.Split(['\r', '\n'], 2)[0].Trim();

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var host = context.RequestServices.GetRequiredService<ModelHost>();
        if (report.Status != HealthStatus.Healthy)
        {
            context.Response.Headers.RetryAfter = context.RequestServices.GetRequiredService<RerankServerOptions>().RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }

        return context.Response.WriteAsJsonAsync(new { Status = report.Status == HealthStatus.Healthy ? "ok" : host.Status }, JsonOptions);
    }

    private static async Task<IResult> HandleAsync<TRequest>(
        HttpContext context,
        ModelHost host,
        RequestGate gate,
        ServerMetrics metrics,
        RerankServerOptions settings,
        string endpoint,
        Func<JsonElement, TRequest> parse,
        Func<CrossEncoder, TRequest, CancellationToken, Task<object>> score)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = ErrorTypes.Success;
        try
        {
            if (!host.IsReady || host.Encoder is not { } encoder)
            {
                throw host.IsDraining
                    ? new ApiError(StatusCodes.Status503ServiceUnavailable, ErrorTypes.Draining, "The server is shutting down. Retry on another replica.") { RetryAfterSeconds = settings.RetryAfterSeconds }
                    : new ApiError(StatusCodes.Status503ServiceUnavailable, ErrorTypes.Loading, $"The model is {host.Status}. Retry when /health answers 200.") { RetryAfterSeconds = settings.RetryAfterSeconds };
            }

            TRequest request;
            using (var document = await ReadJsonAsync(context, settings))
            {
                request = parse(document.RootElement);
            }

            using var lease = await gate.TryEnterAsync(context.RequestAborted);
            if (lease is null)
            {
                throw new ApiError(StatusCodes.Status503ServiceUnavailable, ErrorTypes.Overloaded, $"The server is busy: {gate.MaxConcurrent} requests are scoring and {gate.MaxQueued} waiting. Retry later.")
                {
                    RetryAfterSeconds = settings.RetryAfterSeconds,
                };
            }

            var admitted = Stopwatch.GetTimestamp();
            metrics.QueueDuration.Record(Stopwatch.GetElapsedTime(started, admitted).TotalSeconds, new KeyValuePair<string, object?>("endpoint", endpoint));

            // A client that goes away stops its scoring (RankAsync passes the token to ONNX Runtime).
            var result = await score(encoder, request, context.RequestAborted);
            metrics.InferenceDuration.Record(Stopwatch.GetElapsedTime(admitted).TotalSeconds, new KeyValuePair<string, object?>("endpoint", endpoint));
            return Results.Json(result, JsonOptions);
        }
        catch (ApiError e)
        {
            outcome = e.Type;
            Log.BadRequest(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RerankServer)), context.Request.Path, e.Status, e.Message);
            if (e.RetryAfterSeconds is { } seconds)
            {
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            return Error(e.Status, e.Type, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            outcome = ErrorTypes.Cancelled;
            return Results.Empty;
        }
        catch (Exception e)
        {
            outcome = ErrorTypes.Backend;
            Log.ScoringFailed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RerankServer)), e, context.Request.Path);
            return Error(StatusCodes.Status500InternalServerError, ErrorTypes.Backend, "Internal error while scoring.");
        }
        finally
        {
            var endpointTag = new KeyValuePair<string, object?>("endpoint", endpoint);
            var outcomeTag = new KeyValuePair<string, object?>("outcome", outcome);
            metrics.Requests.Add(1, endpointTag, outcomeTag);
            metrics.RequestDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, endpointTag, outcomeTag);
        }
    }

    /// <summary>
    /// Reads the body as JSON. Every way a client can send a broken body is a 4xx: malformed JSON, broken chunked
    /// framing, a body shorter than its Content-Length or a connection that ends before the body does (400), a body
    /// slower than Kestrel's minimum data rate (408), a body over the size limit (413).
    /// </summary>
    private static async Task<JsonDocument> ReadJsonAsync(HttpContext context, RerankServerOptions settings)
    {
        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e)
        {
            throw e.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => ApiError.TooLarge($"The request body is larger than {settings.MaxRequestBytes} bytes."),
                StatusCodes.Status408RequestTimeout => new ApiError(StatusCodes.Status408RequestTimeout, ErrorTypes.Timeout, $"The request body arrived too slowly: {e.Message} Send it at once."),
                _ => new ApiError(e.StatusCode is >= 400 and < 500 ? e.StatusCode : StatusCodes.Status400BadRequest, ErrorTypes.InvalidRequest, $"The request body is malformed: {e.Message}"),
            };
        }
        catch (IOException e)
        {
            throw ApiError.BadRequest($"The request body ended early: {e.Message}");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The connection ended while the body was being read: the body did not arrive whole. Kestrel reports a client
            // that closes its side as an aborted request, or as an early end of the body when a read was already waiting
            // (a race of milliseconds); both are the same client mistake, so both are 400 invalid_request (counted so even
            // when nobody is left to read the answer). 'cancelled' is for a client that leaves after its request arrived.
            throw ApiError.BadRequest("The request body ended early: the connection closed before the body was complete.");
        }
    }

    private static PairEncoding[] EncodeAndCount(CrossEncoder encoder, ServerMetrics metrics, string query, string[] texts, string endpoint)
    {
        var encodings = new PairEncoding[texts.Length];
        var endpointTag = new KeyValuePair<string, object?>("endpoint", endpoint);
        long tokens = 0;
        for (var i = 0; i < texts.Length; i++)
        {
            encodings[i] = encoder.EncodePair(query, texts[i]);
            tokens += encodings[i].InputIds.Length;
            metrics.PairTokens.Record(encodings[i].InputIds.Length, endpointTag);
        }

        metrics.RequestPairs.Record(texts.Length, endpointTag);
        metrics.RequestTokens.Record(tokens, endpointTag);
        return encodings;
    }

    private static async Task<object> ScoreTeiAsync(CrossEncoder encoder, RerankServerOptions settings, ServerMetrics metrics, TeiRerankRequest request, CancellationToken cancellationToken)
    {
        var longDocuments = LongDocuments(encoder, request.MaxChunksPerDoc);
        var truncate = request.Truncate ?? settings.AutoTruncate;
        var encodings = EncodeAndCount(encoder, metrics, request.Query, request.Texts, "rerank");

        // With chunking no pair is cut (every chunk fits), so TEI's over-length checks do not apply.
        if (longDocuments.Strategy == LongDocumentStrategy.Truncate && (!truncate || request.TruncateLeft))
        {
            for (var i = 0; i < encodings.Length; i++)
            {
                if (!encodings[i].IsTruncated)
                {
                    continue;
                }

                throw ApiError.Unprocessable(truncate
                    ? $"The query and 'texts[{i}]' exceed {encoder.Options.MaxLength} tokens and only \"right\" truncation is supported."
                    : $"The query and 'texts[{i}]' exceed {encoder.Options.MaxLength} tokens and 'truncate' is false.");
            }
        }

        var results = await ScoreAsync(encoder, request.Query, request.Texts, longDocuments, cancellationToken);
        var ranks = new List<TeiRank>(results.Length);
        for (var i = 0; i < results.Length; i++)
        {
            var r = results[i];
            ranks.Add(new TeiRank(
                i,
                request.RawScores ? r.Logit : r.Score,
                request.ReturnText ? request.Texts[i] : null,
                request.ReturnSpan ? SpanBody.Of(request.Texts[i], r) : null));
        }

        // Best first; equal scores keep the input order, as CrossEncoder.Rank does.
        ranks.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Index.CompareTo(b.Index));
        return ranks;
    }

    private static async Task<object> ScoreCohereAsync(CrossEncoder encoder, RerankServerOptions settings, ServerMetrics metrics, CohereRerankRequest request, CancellationToken cancellationToken)
    {
        EncodeAndCount(encoder, metrics, request.Query, request.Documents, "v1/rerank");
        var scores = await ScoreAsync(encoder, request.Query, request.Documents, LongDocuments(encoder, request.MaxChunksPerDoc), cancellationToken);
        var order = Enumerable.Range(0, scores.Length).ToArray();

        // Best first; equal scores keep the input order, as CrossEncoder.Rank does.
        Array.Sort(order, (a, b) => scores[a].Score != scores[b].Score ? scores[b].Score.CompareTo(scores[a].Score) : a.CompareTo(b));
        var count = Math.Min(request.TopN ?? order.Length, order.Length);
        var results = new List<CohereResult>(count);
        foreach (var i in order.Take(count))
        {
            results.Add(new CohereResult(
                i,
                scores[i].Score,
                request.ReturnDocuments ? new CohereDocument(request.Documents[i]) : null,
                request.ReturnSpan ? SpanBody.Of(request.Documents[i], scores[i]) : null));
        }

        return new CohereResponse(request.Model ?? settings.ModelName, results);
    }

    /// <summary>The encoder's long-document setting, or chunking with the request's <c>max_chunks_per_doc</c>.</summary>
    private static LongDocumentOptions LongDocuments(CrossEncoder encoder, int? maxChunksPerDoc) =>
        maxChunksPerDoc is { } cap
            ? encoder.Options.LongDocuments with { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = cap }
            : encoder.Options.LongDocuments;

    private static async Task<PairScore[]> ScoreAsync(CrossEncoder encoder, string query, string[] documents, LongDocumentOptions longDocuments, CancellationToken cancellationToken)
    {
        var pairs = new (string Query, string Document)[documents.Length];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = (query, documents[i]);
        }

        try
        {
            return await encoder.ScorePairsAsync(pairs, longDocuments, cancellationToken: cancellationToken);
        }
        catch (ArgumentException e) when (longDocuments.Strategy == LongDocumentStrategy.Chunk)
        {
            // The query leaves no room for document tokens: the request cannot be chunked as asked.
            throw ApiError.Unprocessable(e.Message);
        }
    }

    /// <summary>Writes an error response in the service's shape, <c>{"error": ..., "error_type": ...}</c>, from middleware.</summary>
    internal static Task WriteErrorAsync(HttpContext context, int status, string type, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ErrorBody(message, type), JsonOptions);
    }

    private static IResult Error(int status, string type, string message) =>
        Results.Json(new ErrorBody(message, type), JsonOptions, statusCode: status);

    private sealed record ErrorBody(string Error, string ErrorType);

    private sealed record TeiRank(int Index, float Score, string? Text, SpanBody? Span);

    private sealed record CohereResponse(string? Model, List<CohereResult> Results);

    private sealed record CohereResult(int Index, float RelevanceScore, CohereDocument? Document, SpanBody? Span);

    /// <summary>
    /// The part of a document that produced its score (<c>return_span</c>): <c>start</c>/<c>end</c> in UTF-16 code units
    /// (JavaScript and .NET string indices; Python indexes code points, so use <c>text</c> there), the chunk's text, and
    /// how many chunks were scored.
    /// </summary>
    private sealed record SpanBody(int Start, int End, string Text, int ChunksScored)
    {
        public static SpanBody Of(string document, PairScore score) =>
            new(score.Span.Start, score.Span.End, document.Substring(score.Span.Start, score.Span.Length), score.ChunksScored);
    }

    private sealed record CohereDocument(string Text);

    /// <summary>Readiness: healthy when the model is loaded and the service is not shutting down.</summary>
    private sealed class ModelHealthCheck(ModelHost host) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(host.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Degraded(host.Status));
    }
}

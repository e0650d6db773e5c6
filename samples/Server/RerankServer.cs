using System.Globalization;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Reranker.Server;

/// <summary>Builds the reranking web application: one <see cref="CrossEncoder"/> per process behind a bounded request gate.</summary>
public static class RerankServer
{
    /// <summary>Where the service listens when no URL is configured (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, ...).</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        // Texts go back as UTF-8 instead of \uXXXX escapes; the responses are JSON, never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Builds the application from command-line arguments and the usual ASP.NET Core configuration sources, and
    /// loads the model (so a bad model directory fails here, before anything listens).
    /// </summary>
    /// <param name="args">
    /// Command-line arguments: <c>--urls</c>, <c>--model DIR</c>, <c>--Reranker:Setting value</c> (see <see cref="RerankServerOptions"/>).
    /// </param>
    /// <returns>The application, not started: call <c>RunAsync</c> or <c>StartAsync</c>.</returns>
    public static WebApplication CreateApp(string[] args)
    {
        // appsettings.json (logging levels) is read from the program's folder, wherever it is started from.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var options = builder.Configuration.GetSection(RerankServerOptions.SectionName).Get<RerankServerOptions>() ?? new RerankServerOptions();
        options.ModelDirectory = Path.GetFullPath(builder.Configuration["model"] ?? options.ModelDirectory ?? FindBundledModel());
        options.ModelName ??= new DirectoryInfo(options.ModelDirectory).Name;
        options.Validate();

        var configuration = builder.Configuration;
        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["http_ports"]) &&
            string.IsNullOrEmpty(configuration["https_ports"]) && !configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes);
        builder.Services.AddSingleton(options);
        // One CrossEncoder per process, owned by the container; its settings come from Reranker:CrossEncoder:*.
        var modelDirectory = options.ModelDirectory;
        builder.Services.AddCrossEncoder(configuration.GetSection(RerankServerOptions.SectionName));
        builder.Services.Configure<CrossEncoderServiceOptions>(o => o.ModelDirectory = modelDirectory);
        builder.Services.AddSingleton(_ => new RequestGate(options.MaxConcurrentRequests, options.MaxQueuedRequests));

        var app = builder.Build();
        try
        {
            app.Services.GetRequiredService<CrossEncoder>();
        }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }

        app.UseExceptionHandler(error => error.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return context.Response.WriteAsJsonAsync(new ErrorBody("Internal error while scoring.", "backend"), JsonOptions);
        }));

        app.MapPost("/rerank", (HttpContext context, CrossEncoder encoder, RequestGate gate, RerankServerOptions settings) =>
            HandleAsync(context, gate, settings, root => RequestParser.ParseTei(root, settings), (request, cancel) => ScoreTeiAsync(encoder, settings, request, cancel)));
        app.MapPost("/v1/rerank", (HttpContext context, CrossEncoder encoder, RequestGate gate, RerankServerOptions settings) =>
            HandleAsync(context, gate, settings, root => RequestParser.ParseCohere(root, settings), (request, cancel) => ScoreCohereAsync(encoder, settings, request, cancel)));
        app.MapGet("/health", () => Results.Json(new { Status = "ok" }, JsonOptions));
        app.MapGet("/info", (CrossEncoder encoder, RerankServerOptions settings) => Results.Json(
            new
            {
                Model = settings.ModelName,
                settings.ModelDirectory,
                ModelFile = encoder.Options.ModelFileName,
                ModelPath = encoder.Model.ModelPath,
                Precision = encoder.Model.Precision == ModelPrecision.Int8 ? "int8" : "float",
                Tokenizer = encoder.Model.TokenizerPath,
                TokenizerMatchesHuggingFace = encoder.Model.TokenizerMatchesHuggingFace,
                encoder.Options.MaxLength,
                Truncation = encoder.Options.Truncation.ToString(),
                encoder.Options.BatchSize,
                encoder.Options.MaxBatchTokens,
                settings.AutoTruncate,
                settings.MaxDocuments,
                settings.MaxTextCharacters,
                settings.MaxRequestCharacters,
                settings.MaxRequestBytes,
                settings.MaxConcurrentRequests,
                settings.MaxQueuedRequests,
                Version = typeof(CrossEncoder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
            },
            JsonOptions));
        return app;
    }

    private static async Task<IResult> HandleAsync<TRequest>(
        HttpContext context,
        RequestGate gate,
        RerankServerOptions settings,
        Func<JsonElement, TRequest> parse,
        Func<TRequest, CancellationToken, Task<object>> score)
    {
        try
        {
            TRequest request;
            using (var document = await ReadJsonAsync(context, settings))
            {
                request = parse(document.RootElement);
            }

            using var lease = await gate.TryEnterAsync(context.RequestAborted);
            if (lease is null)
            {
                context.Response.Headers.RetryAfter = settings.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                return Error(StatusCodes.Status503ServiceUnavailable, "overloaded", $"The server is busy: {gate.MaxConcurrent} requests are scoring and {gate.MaxQueued} waiting. Retry later.");
            }

            // A client that goes away stops its scoring (RankAsync passes the token to ONNX Runtime).
            return Results.Json(await score(request, context.RequestAborted), JsonOptions);
        }
        catch (ApiError e)
        {
            return Error(e.Status, e.Type, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return Results.Empty;
        }
    }

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
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw ApiError.TooLarge($"The request body is larger than {settings.MaxRequestBytes} bytes.");
        }
    }

    private static async Task<object> ScoreTeiAsync(CrossEncoder encoder, RerankServerOptions settings, TeiRerankRequest request, CancellationToken cancellationToken)
    {
        var truncate = request.Truncate ?? settings.AutoTruncate;
        if (!truncate || request.TruncateLeft)
        {
            for (var i = 0; i < request.Texts.Length; i++)
            {
                if (!encoder.EncodePair(request.Query, request.Texts[i]).IsTruncated)
                {
                    continue;
                }

                throw ApiError.Unprocessable(truncate
                    ? $"The query and 'texts[{i}]' exceed {encoder.Options.MaxLength} tokens and only \"right\" truncation is supported."
                    : $"The query and 'texts[{i}]' exceed {encoder.Options.MaxLength} tokens and 'truncate' is false.");
            }
        }

        var ranks = new List<TeiRank>(request.Texts.Length);
        if (request.RawScores)
        {
            var pairs = new (string Query, string Document)[request.Texts.Length];
            for (var i = 0; i < pairs.Length; i++)
            {
                pairs[i] = (request.Query, request.Texts[i]);
            }

            var logits = await encoder.PredictLogitsAsync(pairs, cancellationToken: cancellationToken);
            for (var i = 0; i < logits.Length; i++)
            {
                ranks.Add(new TeiRank(i, logits[i], request.ReturnText ? request.Texts[i] : null));
            }

            // Best first; equal logits keep the input order, as CrossEncoder.Rank does for scores.
            ranks.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Index.CompareTo(b.Index));
        }
        else
        {
            foreach (var ranked in await encoder.RankAsync(request.Query, request.Texts, cancellationToken: cancellationToken))
            {
                ranks.Add(new TeiRank(ranked.Index, ranked.Score, request.ReturnText ? request.Texts[ranked.Index] : null));
            }
        }

        return ranks;
    }

    private static async Task<object> ScoreCohereAsync(CrossEncoder encoder, RerankServerOptions settings, CohereRerankRequest request, CancellationToken cancellationToken)
    {
        var ranked = await encoder.RankAsync(request.Query, request.Documents, request.TopN, cancellationToken: cancellationToken);
        var results = new List<CohereResult>(ranked.Count);
        foreach (var r in ranked)
        {
            results.Add(new CohereResult(r.Index, r.Score, request.ReturnDocuments ? new CohereDocument(request.Documents[r.Index]) : null));
        }

        return new CohereResponse(request.Model ?? settings.ModelName, results);
    }

    private static IResult Error(int status, string type, string message) =>
        Results.Json(new ErrorBody(message, type), JsonOptions, statusCode: status);

    /// <summary>The bundled tiny model, found from the program's folder or the working directory up to the repository root.</summary>
    private static string FindBundledModel()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "models", "tiny-xlmr-reranker");
                if (File.Exists(Path.Combine(dir.FullName, "Reranker.sln")) && Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException("Bundled model 'models/tiny-xlmr-reranker' not found; pass --model DIR or set Reranker__ModelDirectory.");
    }

    private sealed record ErrorBody(string Error, string ErrorType);

    private sealed record TeiRank(int Index, float Score, string? Text);

    private sealed record CohereResponse(string? Model, List<CohereResult> Results);

    private sealed record CohereResult(int Index, float RelevanceScore, CohereDocument? Document);

    private sealed record CohereDocument(string Text);
}

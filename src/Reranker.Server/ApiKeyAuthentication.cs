using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authorization;

namespace Reranker.Server;

/// <summary>
/// Bearer API keys (<c>--api-key</c>, <c>Reranker:ApiKey</c>): every request but the probes must carry
/// <c>Authorization: Bearer KEY</c> with one of the configured keys, or is answered 401 in the service's JSON error shape.
/// </summary>
/// <remarks>
/// The presented key and every configured key are compared as SHA-256 hashes with
/// <see cref="CryptographicOperations.FixedTimeEquals"/>, against all keys every time, so neither the time of a refusal
/// nor its answer tells how much of a key was right, or how long the keys are. Several keys may be valid at once, so a
/// key can be rotated without downtime. No key, presented or configured, is ever written to a log or a metric label.
/// </remarks>
internal sealed class ApiKeyAuthentication
{
    private const string Scheme = "Bearer";

    private readonly byte[][] _keyHashes;
    private readonly ServerMetrics _metrics;
    private readonly ILogger _logger;

    public ApiKeyAuthentication(IReadOnlyList<string> keys, ServerMetrics metrics, ILoggerFactory loggerFactory)
    {
        _keyHashes = [.. keys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];
        _metrics = metrics;
        _logger = loggerFactory.CreateLogger(typeof(RerankServer));
    }

    /// <summary>The middleware: lets through probes (endpoints with <see cref="IAllowAnonymous"/>) and requests with a valid key.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            await next(context);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var presented = Presented(context.Request);
        if (presented is not null && IsValid(presented))
        {
            await next(context);
            return;
        }

        var message = presented is null
            ? "This server needs an API key: send the header 'Authorization: Bearer <key>'."
            : "The API key is not valid.";
        // RFC 6750: a request without credentials gets the bare challenge, a wrong key error="invalid_token".
        context.Response.Headers.WWWAuthenticate = presented is null ? Scheme : $"{Scheme} error=\"invalid_token\"";
        Log.BadRequest(_logger, context.Request.Path, StatusCodes.Status401Unauthorized, message);
        if (RerankEndpoint(context) is { } endpoint)
        {
            var endpointTag = new KeyValuePair<string, object?>("endpoint", endpoint);
            var outcomeTag = new KeyValuePair<string, object?>("outcome", ErrorTypes.Unauthorized);
            _metrics.Requests.Add(1, endpointTag, outcomeTag);
            _metrics.RequestDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, endpointTag, outcomeTag);
        }

        await RerankServer.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, ErrorTypes.Unauthorized, message);
    }

    /// <summary>The key of an <c>Authorization: Bearer KEY</c> header (scheme case-insensitive); <see langword="null"/> when there is none.</summary>
    private static string? Presented(HttpRequest request)
    {
        var headers = request.Headers.Authorization;
        if (headers.Count != 1 || headers[0] is not { } value)
        {
            return null;
        }

        var space = value.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || !value.AsSpan(0, space).Equals(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var key = value[(space + 1)..].Trim();
        return key.Length == 0 ? null : key;
    }

    private bool IsValid(string presented)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        var valid = false;
        foreach (var key in _keyHashes)
        {
            // Every key is compared, in constant time each: no early exit on the first match either.
            valid |= CryptographicOperations.FixedTimeEquals(hash, key);
        }

        return valid;
    }

    /// <summary>The <c>endpoint</c> tag of the request metrics for the rerank routes; <see langword="null"/> for the others.</summary>
    private static string? RerankEndpoint(HttpContext context) =>
        (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText switch
        {
            "/rerank" => "rerank",
            "/v1/rerank" => "v1/rerank",
            _ => null,
        };
}

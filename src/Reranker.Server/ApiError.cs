namespace Reranker.Server;

/// <summary>A request the service refuses: the HTTP status and the message sent back as <c>{"error": ..., "error_type": ...}</c>.</summary>
internal sealed class ApiError(int status, string type, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    /// <summary>Seconds for a <c>Retry-After</c> header, when the client may try again later.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiError BadRequest(string message) => new(StatusCodes.Status400BadRequest, ErrorTypes.InvalidRequest, message);

    public static ApiError TooLarge(string message) => new(StatusCodes.Status413PayloadTooLarge, ErrorTypes.TooLarge, message);

    public static ApiError Unprocessable(string message) => new(StatusCodes.Status422UnprocessableEntity, ErrorTypes.Validation, message);
}

/// <summary>The <c>error_type</c> values of error responses, also the <c>outcome</c> tag of the request metrics.</summary>
internal static class ErrorTypes
{
    public const string Success = "success";
    public const string InvalidRequest = "invalid_request";
    public const string TooLarge = "too_large";
    public const string Validation = "validation";
    public const string Timeout = "timeout";
    public const string Overloaded = "overloaded";
    public const string Loading = "loading";
    public const string Draining = "draining";
    public const string Cancelled = "cancelled";
    public const string Unauthorized = "unauthorized";
    public const string Backend = "backend";
}

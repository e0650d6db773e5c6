namespace Reranker.Server;

/// <summary>A request the service refuses: the HTTP status and the message sent back as <c>{"error": ..., "error_type": ...}</c>.</summary>
internal sealed class ApiError(int status, string type, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public static ApiError BadRequest(string message) => new(StatusCodes.Status400BadRequest, "invalid_request", message);

    public static ApiError TooLarge(string message) => new(StatusCodes.Status413PayloadTooLarge, "too_large", message);

    public static ApiError Unprocessable(string message) => new(StatusCodes.Status422UnprocessableEntity, "validation", message);
}

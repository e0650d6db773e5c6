using System.Net;

namespace Reranker.Hub;

/// <summary>Why a hub download failed.</summary>
public enum HubErrorKind
{
    /// <summary>The hub answered in a way the client does not understand (missing headers, bad listing).</summary>
    InvalidResponse,

    /// <summary>The hub refused access (401/403): the repository is private or gated, the token is missing or
    /// wrong, or the repository does not exist (the hub answers 401 then too).</summary>
    Unauthorized,

    /// <summary>The repository, the revision or a file does not exist (404).</summary>
    NotFound,

    /// <summary>Offline, and the cache holds no snapshot for the revision.</summary>
    NotCached,

    /// <summary>A downloaded file has the wrong size or SHA-256.</summary>
    IntegrityCheckFailed,

    /// <summary>A file name would land outside the cache folder.</summary>
    UnsafePath,

    /// <summary>The hub could not be reached, answered with a server error, or a transfer kept breaking.</summary>
    Unreachable,
}

/// <summary>A hub download failed; <see cref="Kind"/> says why.</summary>
public sealed class HubException : Exception
{
    /// <summary>Creates an exception of kind <see cref="HubErrorKind.InvalidResponse"/>.</summary>
    public HubException()
    {
    }

    /// <summary>Creates an exception of kind <see cref="HubErrorKind.InvalidResponse"/> with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public HubException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception of kind <see cref="HubErrorKind.InvalidResponse"/> with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public HubException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception of a given kind.</summary>
    /// <param name="kind">Why the download failed.</param>
    /// <param name="message">What went wrong, and what to do about it.</param>
    /// <param name="statusCode">The HTTP status the hub answered with, if any.</param>
    /// <param name="innerException">The cause, if any.</param>
    public HubException(HubErrorKind kind, string message, HttpStatusCode? statusCode = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
        StatusCode = statusCode;
    }

    /// <summary>Why the download failed.</summary>
    public HubErrorKind Kind { get; }

    /// <summary>The HTTP status the hub answered with, when the failure came from an HTTP answer.</summary>
    public HttpStatusCode? StatusCode { get; }
}

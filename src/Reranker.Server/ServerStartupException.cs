namespace Reranker.Server;

/// <summary>
/// The service cannot start: a bad setting, a model that cannot be found or loaded, an address it cannot listen on.
/// <see cref="Exception.Message"/> is one line that says what is wrong and how to fix it.
/// </summary>
public sealed class ServerStartupException : Exception
{
    /// <summary>Exit code of a failure of the environment: the model, the hub, the network address.</summary>
    public const int ExitFailure = 1;

    /// <summary>Exit code of a bad command line or setting.</summary>
    public const int ExitUsage = 2;

    /// <summary>Creates an exception with exit code <see cref="ExitFailure"/>.</summary>
    public ServerStartupException()
    {
    }

    /// <summary>Creates an exception with exit code <see cref="ExitFailure"/>.</summary>
    /// <param name="message">What is wrong and how to fix it, on one line.</param>
    public ServerStartupException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with exit code <see cref="ExitFailure"/> and a cause.</summary>
    /// <param name="message">What is wrong and how to fix it, on one line.</param>
    /// <param name="innerException">The cause.</param>
    public ServerStartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with a given exit code.</summary>
    /// <param name="message">What is wrong and how to fix it, on one line.</param>
    /// <param name="exitCode">The process exit code the command returns.</param>
    /// <param name="innerException">The cause, if any.</param>
    public ServerStartupException(string message, int exitCode, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    /// <summary>The process exit code for this failure: <see cref="ExitFailure"/> or <see cref="ExitUsage"/>.</summary>
    public int ExitCode { get; } = ExitFailure;
}

using Reranker.Hub;

namespace Reranker.Tests.Hub;

/// <summary>An <see cref="IProgress{T}"/> that runs its callback inline, so tests see every report in order.</summary>
internal sealed class InlineProgress<T>(Action<T> onReport) : IProgress<T>
{
    public void Report(T value) => onReport(value);
}

/// <summary>A temporary folder holding the cache, deleted after the test.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("reranker-hub-").FullName;

    public string Cache => Path.Combine(Root, "cache");

    public void Dispose() => Directory.Delete(Root, recursive: true);

    /// <summary>An environment with nothing set except HOME (so no real token file or cache is ever read).</summary>
    public Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value ?? (name == "HOME" ? Root : null);

    public HubDownloadOptions Options(FakeHubServer server) => new()
    {
        Endpoint = server.Endpoint,
        CacheDirectory = Cache,
        Environment = Environment(),
        RetryDelay = TimeSpan.Zero,
    };
}

internal static class Bounded
{
    /// <summary>A safety net only: a hung download fails the test instead of hanging the run.</summary>
    public static Task<T> Run<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromMinutes(2));
}

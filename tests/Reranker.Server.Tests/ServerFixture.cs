namespace Reranker.Server.Tests;

/// <summary>
/// One server shared by <see cref="RerankEndpointTests"/> and <see cref="RequestErrorTests"/>, with small limits so
/// that every 413 is reachable with small requests, and the in-process reference it is compared with.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const int MaxLength = 128;
    public const int MaxDocuments = 20;
    public const int MaxTextCharacters = 2000;
    public const int MaxRequestCharacters = 6000;
    public const int MaxRequestBytes = 24 * 1024;

    internal TestServer Server { get; private set; } = null!;

    /// <summary>The library called directly, with the options the server was given.</summary>
    public CrossEncoder Reference { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync(
            $"Reranker:CrossEncoder:MaxLength={MaxLength}",
            $"Reranker:MaxDocuments={MaxDocuments}",
            $"Reranker:MaxTextCharacters={MaxTextCharacters}",
            $"Reranker:MaxRequestCharacters={MaxRequestCharacters}",
            $"Reranker:MaxRequestBytes={MaxRequestBytes}",
            "Reranker:MaxConcurrentRequests=4",
            "Reranker:MaxQueuedRequests=32");
        Reference = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = MaxLength });
    }

    public async Task DisposeAsync()
    {
        Reference.Dispose();
        await Server.DisposeAsync();
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Reranker.Server.Tests;

/// <summary>The real server (Kestrel) built by <see cref="RerankServer.CreateApp"/>, listening on a free loopback port.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(2) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public RequestGate Gate => App.Services.GetRequiredService<RequestGate>();

    /// <summary>Starts a server on the tiny model with extra settings such as <c>Reranker:MaxDocuments=4</c>, and waits until it is ready.</summary>
    public static Task<TestServer> StartAsync(params string[] settings) => StartAsync(new ServeHooks(), settings);

    /// <summary>Starts a server with test hooks and extra settings, and waits until it is ready.</summary>
    public static async Task<TestServer> StartAsync(ServeHooks hooks, params string[] settings)
    {
        var server = await StartLoadingAsync(hooks, settings);
        await server.WaitUntilReadyAsync();
        return server;
    }

    /// <summary>Starts a server without waiting for its model; <paramref name="beforeLoad"/> runs before the model loads.</summary>
    public static Task<TestServer> StartLoadingAsync(Func<CancellationToken, Task>? beforeLoad, params string[] settings) =>
        StartLoadingAsync(new ServeHooks { BeforeLoad = beforeLoad }, settings);

    /// <summary>Starts a server with test hooks without waiting for its model.</summary>
    public static async Task<TestServer> StartLoadingAsync(ServeHooks hooks, params string[] settings)
    {
        var args = new List<string>
        {
            "--urls", "http://127.0.0.1:0",
            "--model", TestPaths.TinyModel,
            "--Logging:LogLevel:Default=Warning",
        };
        args.AddRange(settings.Select(s => "--" + s));
        var app = RerankServer.CreateApp([.. args], hooks);
        await RerankServer.StartAsync(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var uri = new Uri(address);
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(uri.Host)), address);
        Assert.NotEqual(0, uri.Port);
        return new TestServer(app, uri);
    }

    /// <summary>Polls the readiness probe until it answers 200; the deadline only stops a broken server from hanging the test.</summary>
    public async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await Client.GetAsync(RerankServer.ReadinessPath);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            var host = App.Services.GetRequiredService<ModelHost>();
            Assert.True(host.Failure is null, host.Failure?.Message);
            Assert.True(DateTime.UtcNow < deadline, "the server did not become ready");
            await Task.Delay(20);
        }
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, CancellationToken cancellationToken = default) =>
        Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), cancellationToken);

    public static string Json(object value) => JsonSerializer.Serialize(value);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Locates the repository's bundled model from the test output folder.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string TinyModel => Path.Combine(RepoRoot, "models", "tiny-xlmr-reranker");

    /// <summary>The 'reranker' command's assembly, copied beside the tests by the project reference.</summary>
    public static string CliAssembly => Path.Combine(AppContext.BaseDirectory, "Reranker.Cli.dll");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Reranker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Reranker.sln not found above " + AppContext.BaseDirectory);
    }
}

using Microsoft.Extensions.DependencyInjection;

namespace Reranker.Server.Tests;

/// <summary>How the server finds its address and model. Runs its tests one at a time (one class): one sets an environment variable.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task Without_urls_it_listens_on_loopback_8080_and_uses_the_bundled_model()
    {
        await using var app = RerankServer.CreateApp([]);

        Assert.Equal(RerankServer.DefaultUrl, app.Configuration["urls"]);
        Assert.Equal("http://127.0.0.1:8080", RerankServer.DefaultUrl);
        var options = app.Services.GetRequiredService<RerankServerOptions>();
        Assert.Equal(Path.GetFullPath(TestPaths.TinyModel), options.Model);
        Assert.Equal("tiny-xlmr-reranker", options.ModelName);
    }

    [Fact]
    public async Task Urls_argument_wins_over_the_default()
    {
        await using var app = RerankServer.CreateApp(["--urls", "http://127.0.0.1:0"]);

        Assert.Equal("http://127.0.0.1:0", app.Configuration["urls"]);
    }

    [Fact]
    public void The_model_directory_comes_from_model_argument_configuration_or_environment()
    {
        var missing = Path.Combine(Path.GetTempPath(), "reranker-no-such-model-" + Guid.NewGuid().ToString("N"));

        var e = Assert.Throws<ServerStartupException>(() => RerankServer.CreateApp(["--model", missing]));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Equal(ServerStartupException.ExitFailure, e.ExitCode);

        e = Assert.Throws<ServerStartupException>(() => RerankServer.CreateApp(["--Reranker:ModelDirectory", missing]));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ServerStartupException>(() => RerankServer.CreateApp(["--Reranker:Model", missing]));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);

        Environment.SetEnvironmentVariable("Reranker__Model", missing);
        try
        {
            e = Assert.Throws<ServerStartupException>(() => RerankServer.CreateApp([]));
            Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("Reranker__Model", null);
        }
    }

    [Theory]
    [InlineData("Reranker:MaxDocuments=0", "MaxDocuments")]
    [InlineData("Reranker:MaxConcurrentRequests=0", "MaxConcurrentRequests")]
    [InlineData("Reranker:MaxQueuedRequests=-1", "MaxQueuedRequests")]
    [InlineData("Reranker:MaxRequestBytes=0", "MaxRequestBytes")]
    [InlineData("Reranker:DrainTimeoutSeconds=-1", "DrainTimeoutSeconds")]
    [InlineData("Reranker:MaxDocuments=many", "many")]
    [InlineData("Reranker:CrossEncoder:MaxLength=-3", "MaxLength")]
    [InlineData("urls=http://127.0.0.1:99999", "99999")]
    [InlineData("urls=localhost", "localhost")]
    public void Invalid_settings_stop_the_server_at_startup_as_usage_errors(string setting, string name)
    {
        var e = Assert.Throws<ServerStartupException>(() => RerankServer.CreateApp(["--model", TestPaths.TinyModel, "--" + setting]));
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(ServerStartupException.ExitUsage, e.ExitCode);
    }

    [Fact]
    public async Task Auto_truncate_false_makes_a_missing_truncate_mean_false()
    {
        await using var server = await TestServer.StartAsync("Reranker:CrossEncoder:MaxLength=64", "Reranker:AutoTruncate=false");

        var response = await server.PostAsync("/rerank", TestServer.Json(new { query = TestTexts.Query, texts = new[] { TestTexts.Long } }));

        var error = await RerankEndpointTests.ReadErrorAsync(response, System.Net.HttpStatusCode.UnprocessableEntity);
        Assert.Contains("64 tokens", error, StringComparison.Ordinal);
    }
}

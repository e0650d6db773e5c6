using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Reranker.Server.Tests;

/// <summary>Probes around the model load: liveness at once, readiness only once the model is loaded and warmed up.</summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task Before_the_model_is_loaded_only_liveness_answers_200_and_after_it_everything_does()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartLoadingAsync(cancel => release.Task.WaitAsync(cancel));

        using (var alive = await server.Client.GetAsync(RerankServer.LivenessPath))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }

        foreach (var probe in new[] { RerankServer.ReadinessPath, "/ping" })
        {
            using var notReady = await server.Client.GetAsync(probe);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), notReady.Headers.RetryAfter?.Delta);
            using var json = JsonDocument.Parse(await notReady.Content.ReadAsStringAsync());
            Assert.Equal("loading", json.RootElement.GetProperty("status").GetString());
        }

        var refused = await server.PostAsync("/rerank", TestServer.Json(new { query = TestTexts.Query, texts = TestTexts.Passages }));
        var error = await RerankEndpointTests.ReadErrorAsync(refused, HttpStatusCode.ServiceUnavailable);
        Assert.Contains("loading", error, StringComparison.Ordinal);
        Assert.NotNull(refused.Headers.RetryAfter);
        using (var info = JsonDocument.Parse(await server.Client.GetStringAsync("/info")))
        {
            Assert.Equal("loading", info.RootElement.GetProperty("status").GetString());
        }

        Assert.Null(server.App.Services.GetRequiredService<ModelHost>().Encoder);

        release.SetResult();
        await server.WaitUntilReadyAsync();

        using (var ping = await server.Client.GetAsync("/ping"))
        {
            Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        }

        var ranks = await RerankEndpointTests.ReadArrayAsync(await server.PostAsync("/rerank", TestServer.Json(new { query = TestTexts.Query, texts = TestTexts.Passages })), HttpStatusCode.OK);
        Assert.Equal(TestTexts.Passages.Length, ranks.Length);
    }

    [Fact]
    public async Task Stopping_before_the_model_is_loaded_ends_the_load_without_a_failure()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TestServer.StartLoadingAsync(async cancel =>
        {
            entered.SetResult();
            await Task.Delay(Timeout.Infinite, cancel);
        });
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var host = server.App.Services.GetRequiredService<ModelHost>();

        await server.DisposeAsync();

        Assert.Null(host.Failure);
        Assert.Null(host.Encoder);
        Assert.True(host.IsDraining);
    }
}

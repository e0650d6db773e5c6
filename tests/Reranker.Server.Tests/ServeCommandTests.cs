using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Reranker.Tests.Hub;
using static Reranker.Server.Tests.PrometheusText;

namespace Reranker.Server.Tests;

/// <summary><c>reranker serve</c> as a real process: startup errors and exit codes, serving by hub id, metrics, drain on SIGTERM.</summary>
[Collection(nameof(MetricsCollection))]
public sealed class ServeCommandTests
{
    private static readonly string[] Loopback = ["--urls", "http://127.0.0.1:0"];

    public static TheoryData<string[], int, string> StartupErrors()
    {
        var missing = Path.Combine(Path.GetTempPath(), "reranker-no-such-model-" + Guid.NewGuid().ToString("N"));
        return new TheoryData<string[], int, string>
        {
            { ["--model", missing], 1, missing },
            { ["--model", Path.Combine(TestPaths.TinyModel, "model.onnx")], 1, "is a file" },
            { ["--model", TestPaths.TinyModel, "--urls", "http://127.0.0.1:99999"], 2, "99999" },
            { ["--model", TestPaths.TinyModel, "--frobnicate"], 2, "unknown option '--frobnicate'" },
            { ["--model"], 2, "--model needs a value" },
            { ["--model", TestPaths.TinyModel, "--Reranker:MaxConcurrentRequests=0"], 2, "MaxConcurrentRequests" },
            { ["--model", TestPaths.TinyModel, "--revision", "v1"], 2, "--revision applies to a hub model id" },
            { ["--model", TestPaths.TinyModel, "--Reranker:CrossEncoder:ModelFileName=nope.onnx"], 1, "nope.onnx" },
        };
    }

    [Theory]
    [MemberData(nameof(StartupErrors))]
    public async Task A_startup_failure_is_one_line_and_a_non_zero_exit_code(string[] args, int exitCode, string expected)
    {
        await using var serve = ServeProcess.Start(args.Contains("--urls") ? args : [.. Loopback, .. args]);

        Assert.Equal(exitCode, await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        AssertOneErrorLine(serve, expected);
    }

    [Fact]
    public async Task A_port_in_use_is_one_line_and_exit_code_1()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using var serve = ServeProcess.Start(["--model", TestPaths.TinyModel, "--urls", $"http://127.0.0.1:{port}"]);

        Assert.Equal(1, await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        AssertOneErrorLine(serve, $"cannot listen on http://127.0.0.1:{port}");
    }

    [Fact]
    public async Task An_unknown_hub_id_and_an_uncached_offline_id_are_one_line_and_exit_code_1()
    {
        await using var hub = new FakeHubServer().WithTinyModel();
        var cache = TempDirectory();
        try
        {
            await using (var unknown = ServeProcess.Start([.. Loopback, "--model", "org/no-such-model"], HubEnvironment(hub, cache)))
            {
                Assert.Equal(1, await unknown.WaitForExitAsync(TimeSpan.FromSeconds(60)));
                AssertOneErrorLine(unknown, "'org/no-such-model' is not a local directory");
            }

            var offline = new Dictionary<string, string?>(HubEnvironment(hub, cache)) { ["HF_HUB_OFFLINE"] = "1" };
            await using (var notCached = ServeProcess.Start([.. Loopback, "--model", hub.RepoId], offline))
            {
                Assert.Equal(1, await notCached.WaitForExitAsync(TimeSpan.FromSeconds(60)));
                AssertOneErrorLine(notCached, "HF_HUB_OFFLINE");
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task Serves_a_hub_id_from_the_fake_hub_then_offline_from_the_cache_and_stops_with_exit_code_0()
    {
        var cache = TempDirectory();
        using var reference = CrossEncoder.Create(TestPaths.TinyModel);
        var expected = reference.Rank(TestTexts.Query, TestTexts.Passages);
        try
        {
            await using (var hub = new FakeHubServer().WithTinyModel())
            await using (var serve = ServeProcess.Start([.. Loopback, "--model", hub.RepoId], HubEnvironment(hub, cache)))
            {
                await serve.WaitUntilReadyAsync();
                Assert.Contains("download", serve.Stderr, StringComparison.Ordinal);
                Assert.Contains("model.onnx", serve.Stderr, StringComparison.Ordinal);
                await AssertRanksAsync(serve, expected);
                using var info = JsonDocument.Parse(await serve.Client.GetStringAsync("/info"));
                Assert.Equal(hub.RepoId, info.RootElement.GetProperty("model").GetString());

                serve.Terminate();
                Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            }

            // The hub is gone: offline, the cached snapshot serves.
            var offline = new Dictionary<string, string?> { ["HF_HUB_CACHE"] = cache, ["HF_HUB_OFFLINE"] = "1", ["HF_ENDPOINT"] = "http://127.0.0.1:9" };
            await using (var serve = ServeProcess.Start([.. Loopback, "--model", "org/tiny-reranker"], offline))
            {
                await serve.WaitUntilReadyAsync();
                await AssertRanksAsync(serve, expected);
                serve.Terminate();
                Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task Liveness_answers_during_a_stalled_download_readiness_does_not_and_SIGTERM_stops_it()
    {
        var cache = TempDirectory();
        try
        {
            await using var hub = new FakeHubServer().WithTinyModel();
            hub.StallAfterBytes["model.onnx"] = 1000;
            await using var serve = ServeProcess.Start([.. Loopback, "--model", hub.RepoId], HubEnvironment(hub, cache));
            await serve.AddressAsync();
            await WaitUntilAsync(() => hub.Requests.Any(r => r.Host == "storage"));

            using (var alive = await serve.Client.GetAsync(RerankServer.LivenessPath))
            {
                Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
            }

            using (var health = await serve.Client.GetAsync(RerankServer.ReadinessPath))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
                Assert.Contains("loading", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            using (var rerank = await serve.Client.PostAsync("/rerank", new StringContent(TestServer.Json(new { query = "q", texts = new[] { "a" } }), System.Text.Encoding.UTF8, "application/json")))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, rerank.StatusCode);
                Assert.NotNull(rerank.Headers.RetryAfter);
            }

            serve.Terminate();
            Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task Metrics_count_each_request_once()
    {
        using var reference = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 128 });
        await using var serve = ServeProcess.Start([.. Loopback, "--model", TestPaths.TinyModel, "--Reranker:CrossEncoder:MaxLength=128"]);
        await serve.WaitUntilReadyAsync();

        const int tei = 3, cohere = 2, bad = 4;
        long pairs = 0, tokens = 0;
        for (var i = 0; i < tei + cohere; i++)
        {
            var texts = TestTexts.Passages.Take(2 + i).ToArray();
            pairs += texts.Length;
            tokens += texts.Sum(t => reference.EncodePair(TestTexts.Query, t).InputIds.Length);
            var (path, body) = i < tei
                ? ("/rerank", TestServer.Json(new { query = TestTexts.Query, texts }))
                : ("/v1/rerank", TestServer.Json(new { query = TestTexts.Query, documents = texts }));
            using var response = await serve.Client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        for (var i = 0; i < bad; i++)
        {
            using var response = await serve.Client.PostAsync("/rerank", new StringContent("{\"query\": 1}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        var metrics = await serve.Client.GetStringAsync(RerankServer.MetricsPath);

        Assert.Equal(tei, Value(metrics, "reranker_server_requests_total", "endpoint=\"rerank\"", "outcome=\"success\""));
        Assert.Equal(cohere, Value(metrics, "reranker_server_requests_total", "endpoint=\"v1/rerank\"", "outcome=\"success\""));
        Assert.Equal(bad, Value(metrics, "reranker_server_requests_total", "endpoint=\"rerank\"", "outcome=\"invalid_request\""));
        Assert.Equal(tei, Value(metrics, "reranker_server_request_duration_seconds_count", "endpoint=\"rerank\"", "outcome=\"success\""));
        Assert.Equal(tei, Value(metrics, "reranker_server_queue_duration_seconds_count", "endpoint=\"rerank\""));
        Assert.Equal(cohere, Value(metrics, "reranker_server_inference_duration_seconds_count", "endpoint=\"v1/rerank\""));
        Assert.Equal(pairs, Sum(metrics, "reranker_server_request_pairs_sum"));
        Assert.Equal(tei + cohere, Sum(metrics, "reranker_server_request_pairs_count"));
        Assert.Equal(tokens, Sum(metrics, "reranker_server_request_tokens_sum"));
        Assert.Equal(pairs, Sum(metrics, "reranker_server_pair_tokens_count"));
        Assert.Equal(0, Value(metrics, "reranker_server_queue_size"));
        // The library's meter: the pairs of the requests plus the one pair of the warm-up run before readiness.
        Assert.Equal(pairs + 1, Value(metrics, "reranker_scored_pairs_total"));
        // ASP.NET Core's own.
        Assert.Equal(tei, Value(metrics, "http_server_request_duration_seconds_count", "http_route=\"/rerank\"", "http_response_status_code=\"200\""));
        Assert.Equal(bad, Value(metrics, "http_server_request_duration_seconds_count", "http_route=\"/rerank\"", "http_response_status_code=\"400\""));
    }

    [Fact]
    public async Task SIGTERM_lets_the_request_in_flight_finish_refuses_new_ones_with_503_and_exits_0()
    {
        // The tiny model at 4096 tokens takes seconds per pair on this machine: long enough to be in flight.
        await using var serve = ServeProcess.Start(
        [
            .. Loopback, "--model", TestPaths.TinyModel, "--Reranker:CrossEncoder:MaxLength=4096",
            "--Reranker:MaxTextCharacters=100000", "--Reranker:DrainDelaySeconds=3", "--Reranker:DrainTimeoutSeconds=120",
        ]);
        await serve.WaitUntilReadyAsync();
        var address = await serve.AddressAsync();
        var longText = string.Concat(Enumerable.Repeat("머신러닝은 데이터에서 규칙을 배우는 방법입니다. ", 600));
        using var slowClient = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(3) };
        var inFlight = slowClient.PostAsync("/rerank", new StringContent(TestServer.Json(new { query = TestTexts.Query, texts = new[] { longText, TestTexts.Passages[1] } }), System.Text.Encoding.UTF8, "application/json"));
        await WaitUntilAsync(async () => Samples(await serve.Client.GetStringAsync(RerankServer.MetricsPath), "reranker_server_active_requests").Any(s => s.Value == 1));

        serve.Terminate();

        // Draining: not ready, and new work is refused with 503 and Retry-After while the port is still open.
        await WaitUntilAsync(async () => (await serve.Client.GetAsync(RerankServer.ReadinessPath)).StatusCode == HttpStatusCode.ServiceUnavailable);
        using (var refused = await serve.Client.PostAsync("/v1/rerank", new StringContent(TestServer.Json(new { query = "q", documents = new[] { "a" } }), System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Contains("draining", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.False(inFlight.IsCompleted, "the slow request should still be scoring");
        using var response = await inFlight;
        var ranks = await RerankEndpointTests.ReadArrayAsync(response, HttpStatusCode.OK);
        Assert.Equal(2, ranks.Length);
        Assert.Equal([0, 1], ranks.Select(r => r.GetProperty("index").GetInt32()).Order());

        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.False(serve.Stdout.Contains("fail:", StringComparison.Ordinal), serve.Stdout);
        await Assert.ThrowsAsync<HttpRequestException>(() => slowClient.GetAsync(RerankServer.LivenessPath));
    }

    private static async Task AssertRanksAsync(ServeProcess serve, IReadOnlyList<RankedDocument> expected)
    {
        using var response = await serve.Client.PostAsync("/rerank", new StringContent(TestServer.Json(new { query = TestTexts.Query, texts = TestTexts.Passages }), System.Text.Encoding.UTF8, "application/json"));
        var ranks = await RerankEndpointTests.ReadArrayAsync(response, HttpStatusCode.OK);
        Assert.Equal(expected.Select(r => r.Index), ranks.Select(r => r.GetProperty("index").GetInt32()));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Score, ranks[i].GetProperty("score").GetDouble(), 1e-6);
        }
    }

    private static void AssertOneErrorLine(ServeProcess serve, string expected)
    {
        var errors = serve.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("reranker serve: fetching", StringComparison.Ordinal) && !l.StartsWith("reranker serve: download", StringComparison.Ordinal) && !l.StartsWith("reranker serve: loading", StringComparison.Ordinal)
                && !l.StartsWith("run 'reranker serve --help'", StringComparison.Ordinal))
            .ToArray();
        var line = Assert.Single(errors);
        Assert.StartsWith("reranker serve: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", serve.Stdout + serve.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", serve.Stdout + serve.Stderr, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> HubEnvironment(FakeHubServer hub, string cache) => new()
    {
        ["HF_ENDPOINT"] = hub.Endpoint.ToString(),
        ["HF_HUB_CACHE"] = cache,
        ["HF_HOME"] = cache,
    };

    private static string TempDirectory() => Directory.CreateTempSubdirectory("reranker-serve-test-").FullName;

    /// <summary>The value of the one sample of <paramref name="name"/> whose labels contain all of <paramref name="labels"/>.</summary>
    private static Task WaitUntilAsync(Func<bool> condition) => WaitUntilAsync(() => Task.FromResult(condition()));

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        // The deadline only stops a broken server from hanging the test.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached");
            await Task.Delay(20);
        }
    }
}

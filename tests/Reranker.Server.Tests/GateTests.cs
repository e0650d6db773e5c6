using System.Net;

namespace Reranker.Server.Tests;

/// <summary>
/// The bounded queue: with every slot and queue place taken a request is answered 503 with Retry-After at once.
/// The tests take the scoring slot through the server's own <see cref="RequestGate"/>, so the server is saturated for
/// exactly as long as the test decides, without depending on how long scoring takes.
/// </summary>
public sealed class GateTests
{
    private static readonly string Body = TestServer.Json(new { query = TestTexts.Query, texts = TestTexts.Passages });

    [Fact]
    public async Task A_full_queue_answers_503_with_Retry_After_and_the_queued_request_completes_later()
    {
        await using var server = await TestServer.StartAsync("Reranker:MaxConcurrentRequests=1", "Reranker:MaxQueuedRequests=1", "Reranker:RetryAfterSeconds=7");
        Task<HttpResponseMessage> queued;
        using (await server.Gate.TryEnterAsync(CancellationToken.None))
        {
            queued = server.PostAsync("/rerank", Body);
            await WaitUntilAsync(() => server.Gate.Admitted == 2);

            var rejected = await server.PostAsync("/v1/rerank", TestServer.Json(new { query = TestTexts.Query, documents = TestTexts.Passages }), NoHang());
            var error = await RerankEndpointTests.ReadErrorAsync(rejected, HttpStatusCode.ServiceUnavailable);
            Assert.Contains("busy", error, StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(7), rejected.Headers.RetryAfter?.Delta);
            Assert.False(queued.IsCompleted, "the queued request cannot finish while the only slot is held");
        }

        var ranks = await RerankEndpointTests.ReadArrayAsync(await queued, HttpStatusCode.OK);
        Assert.Equal(TestTexts.Passages.Length, ranks.Length);
        Assert.Equal(0, server.Gate.Admitted);
    }

    [Fact]
    public async Task With_no_queue_a_busy_server_refuses_at_once_and_serves_again_when_free()
    {
        await using var server = await TestServer.StartAsync("Reranker:MaxConcurrentRequests=1", "Reranker:MaxQueuedRequests=0");
        using (await server.Gate.TryEnterAsync(CancellationToken.None))
        {
            var rejected = await server.PostAsync("/rerank", Body, NoHang());
            await RerankEndpointTests.ReadErrorAsync(rejected, HttpStatusCode.ServiceUnavailable);
            Assert.Equal(TimeSpan.FromSeconds(1), rejected.Headers.RetryAfter?.Delta);
        }

        using var ok = await RerankEndpointTests.ReadJsonAsync(await server.PostAsync("/rerank", Body), HttpStatusCode.OK);
        Assert.Equal(0, server.Gate.Admitted);
    }

    [Fact]
    public async Task A_client_that_gives_up_leaves_the_queue()
    {
        await using var server = await TestServer.StartAsync("Reranker:MaxConcurrentRequests=1", "Reranker:MaxQueuedRequests=1");
        Task<HttpResponseMessage> queued;
        using (await server.Gate.TryEnterAsync(CancellationToken.None))
        {
            using var giveUp = new CancellationTokenSource();
            var abandoned = server.PostAsync("/rerank", Body, giveUp.Token);
            await WaitUntilAsync(() => server.Gate.Admitted == 2);

            await giveUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
            await WaitUntilAsync(() => server.Gate.Admitted == 1);

            // Its place in the queue is free again.
            queued = server.PostAsync("/rerank", Body);
            await WaitUntilAsync(() => server.Gate.Admitted == 2);
            await RerankEndpointTests.ReadErrorAsync(await server.PostAsync("/rerank", Body, NoHang()), HttpStatusCode.ServiceUnavailable);
            Assert.False(queued.IsCompleted);
        }

        await RerankEndpointTests.ReadArrayAsync(await queued, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Bad_requests_are_answered_even_when_the_server_is_busy()
    {
        await using var server = await TestServer.StartAsync("Reranker:MaxConcurrentRequests=1", "Reranker:MaxQueuedRequests=0");
        using (await server.Gate.TryEnterAsync(CancellationToken.None))
        {
            await RerankEndpointTests.ReadErrorAsync(await server.PostAsync("/rerank", "{\"query\": \"q\"}", NoHang()), HttpStatusCode.BadRequest);
            using var health = await RerankEndpointTests.ReadJsonAsync(await server.Client.GetAsync("/health"), HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task The_gate_admits_concurrent_plus_queued_and_no_more()
    {
        using var gate = new RequestGate(maxConcurrent: 2, maxQueued: 1);
        var first = await gate.TryEnterAsync(CancellationToken.None);
        var second = await gate.TryEnterAsync(CancellationToken.None);
        Assert.NotNull(first);
        Assert.NotNull(second);

        var third = gate.TryEnterAsync(CancellationToken.None);
        Assert.False(third.IsCompleted);
        Assert.Null(await gate.TryEnterAsync(CancellationToken.None));

        first!.Dispose();
        first.Dispose(); // a second dispose gives nothing back twice
        var thirdLease = await third;
        Assert.NotNull(thirdLease);
        Assert.Equal(2, gate.Admitted);

        using var cancel = new CancellationTokenSource();
        second!.Dispose();
        thirdLease!.Dispose();
        Assert.Equal(0, gate.Admitted);

        // A cancelled wait leaves its place.
        var a = await gate.TryEnterAsync(CancellationToken.None);
        var b = await gate.TryEnterAsync(CancellationToken.None);
        var waiting = gate.TryEnterAsync(cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(2, gate.Admitted);
        a!.Dispose();
        b!.Dispose();
        Assert.Equal(0, gate.Admitted);
    }

    /// <summary>For a request that must be answered without waiting for the held slot: fail instead of hanging if it waits.</summary>
    private static CancellationToken NoHang() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        // Polls a state change caused by a request in flight; the deadline only stops a broken server from hanging.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached");
            await Task.Delay(10);
        }
    }
}

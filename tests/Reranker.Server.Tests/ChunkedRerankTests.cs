using System.Net;
using System.Text.Json;
using Reranker.Chunking;

namespace Reranker.Server.Tests;

/// <summary>
/// <c>max_chunks_per_doc</c> and <c>return_span</c> on both endpoints over real HTTP, compared with
/// <see cref="CrossEncoder.ScorePairs"/> called in-process with the same settings.
/// </summary>
public sealed class ChunkedRerankTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const double Tolerance = 1e-6;

    /// <summary>Long texts, each many chunks at the fixture's 128 tokens, with the relevant sentence late in one of them.</summary>
    private static readonly string[] Documents =
    [
        TestTexts.Passages[0],
        string.Concat(Enumerable.Repeat("오늘 서울은 맑고 낮 최고 기온은 25도로 예상됩니다. ", 20)) + TestTexts.Passages[1],
        TestTexts.Long,
        string.Concat(Enumerable.Repeat("김치찌개는 김치와 돼지고기를 넣고 끓인 한국 요리입니다. ", 18)),
    ];

    private TestServer Server => fixture.Server;

    private PairScore[] Expected(int maxChunks) =>
        fixture.Reference.ScorePairs(
            Documents.Select(d => (TestTexts.Query, d)).ToArray(),
            new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = maxChunks });

    [Fact]
    public async Task Cohere_max_chunks_per_doc_chunks_and_return_span_names_the_winning_chunk()
    {
        var expected = Expected(maxChunks: 10);
        Assert.Contains(expected, e => e.ChunksScored > 1);

        using var json = await PostAsync("/v1/rerank", new { query = TestTexts.Query, documents = Documents, max_chunks_per_doc = 10, return_span = true });
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();

        Assert.Equal(Documents.Length, results.Length);
        Assert.Equal(Order(expected.Select(e => e.Score)), results.Select(r => r.GetProperty("index").GetInt32()));
        foreach (var result in results)
        {
            var index = result.GetProperty("index").GetInt32();
            Assert.Equal(expected[index].Score, result.GetProperty("relevance_score").GetDouble(), Tolerance);
            AssertSpan(Documents[index], expected[index], result.GetProperty("span"));
        }
    }

    [Fact]
    public async Task Cohere_without_the_fields_truncates_and_sends_no_span()
    {
        var truncated = fixture.Reference.Predict(Documents.Select(d => (TestTexts.Query, d)).ToArray());

        using var json = await PostAsync("/v1/rerank", new { query = TestTexts.Query, documents = Documents });
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();

        foreach (var result in results)
        {
            Assert.Equal(truncated[result.GetProperty("index").GetInt32()], result.GetProperty("relevance_score").GetDouble(), Tolerance);
            Assert.False(result.TryGetProperty("span", out _));
        }

        // return_span alone reports the whole document, the part that was scored (cut to MaxLength).
        using var spans = await PostAsync("/v1/rerank", new { query = TestTexts.Query, documents = Documents, return_span = true, top_n = 2 });
        var top = spans.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(2, top.Length);
        Assert.All(top, r =>
        {
            var span = r.GetProperty("span");
            Assert.Equal(0, span.GetProperty("start").GetInt32());
            Assert.Equal(Documents[r.GetProperty("index").GetInt32()].Length, span.GetProperty("end").GetInt32());
            Assert.Equal(1, span.GetProperty("chunks_scored").GetInt32());
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tei_max_chunks_per_doc_chunks_scores_and_raw_logits(bool rawScores)
    {
        var expected = Expected(maxChunks: 3);
        Assert.Contains(expected, e => e.ChunksScored == 3 && e.IsTruncated);

        var ranks = await PostArrayAsync("/rerank", new { query = TestTexts.Query, texts = Documents, max_chunks_per_doc = 3, return_span = true, raw_scores = rawScores });

        var values = expected.Select(e => rawScores ? e.Logit : e.Score).ToArray();
        Assert.Equal(Order(values), ranks.Select(r => r.GetProperty("index").GetInt32()));
        foreach (var rank in ranks)
        {
            var index = rank.GetProperty("index").GetInt32();
            Assert.Equal(values[index], rank.GetProperty("score").GetDouble(), Tolerance);
            AssertSpan(Documents[index], expected[index], rank.GetProperty("span"));
        }
    }

    [Fact]
    public async Task Tei_chunking_never_cuts_a_pair_so_truncate_false_is_accepted()
    {
        var response = await Server.PostAsync("/rerank", TestServer.Json(new { query = TestTexts.Query, texts = Documents, truncate = false }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);

        var ranks = await PostArrayAsync("/rerank", new { query = TestTexts.Query, texts = Documents, truncate = false, max_chunks_per_doc = 50 });
        Assert.Equal(Documents.Length, ranks.Length);
    }

    [Fact]
    public async Task A_server_configured_to_chunk_chunks_by_default()
    {
        await using var server = await TestServer.StartAsync(
            "Reranker:CrossEncoder:MaxLength=64",
            "Reranker:CrossEncoder:LongDocuments:Strategy=Chunk",
            "Reranker:CrossEncoder:LongDocuments:MaxChunksPerDocument=4",
            "Reranker:CrossEncoder:LongDocuments:ChunkOverlap=8");
        using var reference = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions
        {
            MaxLength = 64,
            LongDocuments = new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = 4, ChunkOverlap = 8 },
        });
        var expected = reference.ScorePairs(Documents.Select(d => (TestTexts.Query, d)).ToArray());

        var response = await server.PostAsync("/v1/rerank", TestServer.Json(new { query = TestTexts.Query, documents = Documents, return_span = true }));
        using var json = await RerankEndpointTests.ReadJsonAsync(response, HttpStatusCode.OK);

        foreach (var result in json.RootElement.GetProperty("results").EnumerateArray())
        {
            var index = result.GetProperty("index").GetInt32();
            AssertSpan(Documents[index], expected[index], result.GetProperty("span"));
        }

        using var info = await RerankEndpointTests.ReadJsonAsync(await server.Client.GetAsync("/info"), HttpStatusCode.OK);
        Assert.Equal("Chunk", info.RootElement.GetProperty("long_document_strategy").GetString());
        Assert.Equal(4, info.RootElement.GetProperty("max_chunks_per_document").GetInt32());
        Assert.Equal(8, info.RootElement.GetProperty("chunk_overlap").GetInt32());
    }

    [Fact]
    public async Task A_query_that_leaves_no_room_for_chunks_is_answered_422()
    {
        await using var server = await TestServer.StartAsync("Reranker:CrossEncoder:MaxLength=16", "Reranker:CrossEncoder:Truncation=QueryCapped");
        var query = string.Join(' ', Enumerable.Repeat("검색 질문", 20));

        var response = await server.PostAsync("/v1/rerank", TestServer.Json(new { query, documents = Documents, max_chunks_per_doc = 5 }));

        var error = await RerankEndpointTests.ReadErrorAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Contains("no room", error, StringComparison.Ordinal);
    }

    private static void AssertSpan(string document, PairScore expected, JsonElement span)
    {
        var start = span.GetProperty("start").GetInt32();
        var end = span.GetProperty("end").GetInt32();
        Assert.Equal((expected.Span.Start, expected.Span.End), (start, end));
        Assert.Equal(document[start..end], span.GetProperty("text").GetString());
        Assert.Equal(expected.ChunksScored, span.GetProperty("chunks_scored").GetInt32());
    }

    private static int[] Order(IEnumerable<float> values)
    {
        var array = values.ToArray();
        return [.. Enumerable.Range(0, array.Length).OrderByDescending(i => array[i]).ThenBy(i => i)];
    }

    private async Task<JsonDocument> PostAsync(string path, object body) =>
        await RerankEndpointTests.ReadJsonAsync(await Server.PostAsync(path, TestServer.Json(body)), HttpStatusCode.OK);

    private async Task<JsonElement[]> PostArrayAsync(string path, object body) =>
        await RerankEndpointTests.ReadArrayAsync(await Server.PostAsync(path, TestServer.Json(body)), HttpStatusCode.OK);
}

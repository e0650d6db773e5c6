using System.Net;
using System.Text.Json;

namespace Reranker.Server.Tests;

/// <summary>Both endpoints over real HTTP, compared with the same <see cref="CrossEncoder"/> called in-process.</summary>
public sealed class RerankEndpointTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const double Tolerance = 1e-6;

    private TestServer Server => fixture.Server;

    private CrossEncoder Reference => fixture.Reference;

    [Fact]
    public async Task Tei_rerank_returns_sigmoid_scores_sorted_like_CrossEncoder_Rank()
    {
        var expected = Reference.Rank(TestTexts.Query, TestTexts.Passages);

        var ranks = await PostOkAsync("/rerank", new { query = TestTexts.Query, texts = TestTexts.Passages });

        Assert.Equal(expected.Select(r => r.Index), ranks.Select(r => r.GetProperty("index").GetInt32()));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Score, ranks[i].GetProperty("score").GetDouble(), Tolerance);
            Assert.False(ranks[i].TryGetProperty("text", out _), "text is sent only with return_text");
        }

        Assert.InRange(ranks.Select(r => r.GetProperty("score").GetDouble()).Min(), 0, 1);
    }

    [Fact]
    public async Task Tei_raw_scores_returns_the_logits_sorted_by_logit()
    {
        var pairs = TestTexts.Passages.Select(p => (TestTexts.Query, p)).ToArray();
        var logits = Reference.PredictLogits(pairs);
        var expectedOrder = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).ToArray();
        var sigmoids = Reference.Predict(pairs);

        var ranks = await PostOkAsync("/rerank", new { query = TestTexts.Query, texts = TestTexts.Passages, raw_scores = true });

        Assert.Equal(expectedOrder, ranks.Select(r => r.GetProperty("index").GetInt32()));
        foreach (var rank in ranks)
        {
            var index = rank.GetProperty("index").GetInt32();
            var score = rank.GetProperty("score").GetDouble();
            Assert.Equal(logits[index], score, Tolerance);
            Assert.True(Math.Abs(sigmoids[index] - score) > 0.01, $"raw score {score} of {index} looks like the sigmoid {sigmoids[index]}");
        }
    }

    [Fact]
    public async Task Tei_return_text_returns_each_text_with_its_index()
    {
        var ranks = await PostOkAsync("/rerank", new { query = TestTexts.Query, texts = TestTexts.Passages, return_text = true });

        Assert.Equal(TestTexts.Passages.Length, ranks.Length);
        foreach (var rank in ranks)
        {
            Assert.Equal(TestTexts.Passages[rank.GetProperty("index").GetInt32()], rank.GetProperty("text").GetString());
        }
    }

    [Theory]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData(null)]
    public async Task Tei_truncates_over_long_pairs_unless_truncate_is_false(string? truncate)
    {
        string[] texts = [TestTexts.Passages[0], TestTexts.Long, TestTexts.Passages[3]];
        Assert.True(Reference.EncodePair(TestTexts.Query, TestTexts.Long).IsTruncated);
        var expected = Reference.Rank(TestTexts.Query, texts);
        var body = "{\"query\":" + TestServer.Json(TestTexts.Query) + ",\"texts\":" + TestServer.Json(texts) +
                   (truncate is null ? string.Empty : ",\"truncate\":" + truncate) + "}";

        var response = await Server.PostAsync("/rerank", body);
        var ranks = await ReadArrayAsync(response, HttpStatusCode.OK);

        Assert.Equal(expected.Select(r => r.Index), ranks.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(expected.Select(r => (double)r.Score), ranks.Select(r => r.GetProperty("score").GetDouble()), new Near(Tolerance));
    }

    [Fact]
    public async Task Tei_truncate_false_refuses_an_over_long_pair_with_422()
    {
        var response = await Server.PostAsync("/rerank", TestServer.Json(new { query = TestTexts.Query, texts = new[] { "짧은 글", TestTexts.Long }, truncate = false }));

        var error = await ReadErrorAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Contains("'texts[1]'", error, StringComparison.Ordinal);
        Assert.Contains("'truncate' is false", error, StringComparison.Ordinal);

        // Pairs that fit are scored with truncate=false.
        var fits = await PostOkAsync("/rerank", new { query = TestTexts.Query, texts = TestTexts.Passages, truncate = false });
        Assert.Equal(TestTexts.Passages.Length, fits.Length);
    }

    [Fact]
    public async Task Tei_left_truncation_is_refused_only_when_a_pair_must_be_cut()
    {
        var response = await Server.PostAsync("/rerank", TestServer.Json(new { query = TestTexts.Query, texts = new[] { TestTexts.Long }, truncation_direction = "left" }));
        var error = await ReadErrorAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Contains("\"right\"", error, StringComparison.Ordinal);

        var fits = await PostOkAsync("/rerank", new { query = TestTexts.Query, texts = TestTexts.Passages, truncation_direction = "Left" });
        Assert.Equal(Reference.Rank(TestTexts.Query, TestTexts.Passages).Select(r => r.Index), fits.Select(r => r.GetProperty("index").GetInt32()));
    }

    [Fact]
    public async Task Cohere_rerank_returns_relevance_scores_sorted_like_CrossEncoder_Rank()
    {
        var expected = Reference.Rank(TestTexts.Query, TestTexts.Passages);

        var response = await Server.PostAsync("/v1/rerank", TestServer.Json(new { query = TestTexts.Query, documents = TestTexts.Passages }));
        using var json = await ReadJsonAsync(response, HttpStatusCode.OK);

        Assert.Equal("tiny-xlmr-reranker", json.RootElement.GetProperty("model").GetString());
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(expected.Select(r => r.Index), results.Select(r => r.GetProperty("index").GetInt32()));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Score, results[i].GetProperty("relevance_score").GetDouble(), Tolerance);
            Assert.False(results[i].TryGetProperty("document", out _), "document is sent only with return_documents");
        }
    }

    [Fact]
    public async Task Cohere_top_n_return_documents_object_documents_and_model()
    {
        var expected = Reference.Rank(TestTexts.Query, TestTexts.Passages, topK: 3);
        var documents = TestTexts.Passages.Select((p, i) => i % 2 == 0 ? (object)p : new { text = p, id = i }).ToArray();

        var response = await Server.PostAsync("/v1/rerank", TestServer.Json(new { model = "my-reranker", query = TestTexts.Query, documents, top_n = 3, return_documents = true }));
        using var json = await ReadJsonAsync(response, HttpStatusCode.OK);

        Assert.Equal("my-reranker", json.RootElement.GetProperty("model").GetString());
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(expected.Select(r => r.Index), results.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(expected.Select(r => (double)r.Score), results.Select(r => r.GetProperty("relevance_score").GetDouble()), new Near(Tolerance));
        foreach (var result in results)
        {
            Assert.Equal(TestTexts.Passages[result.GetProperty("index").GetInt32()], result.GetProperty("document").GetProperty("text").GetString());
        }
    }

    [Fact]
    public async Task Cohere_top_n_beyond_the_documents_returns_them_all()
    {
        var response = await Server.PostAsync("/v1/rerank", TestServer.Json(new { query = TestTexts.Query, documents = TestTexts.Passages[..3], top_n = 10 }));
        using var json = await ReadJsonAsync(response, HttpStatusCode.OK);

        Assert.Equal(3, json.RootElement.GetProperty("results").GetArrayLength());
    }

    [Fact]
    public async Task Sixteen_concurrent_requests_equal_sequential_in_process_calls()
    {
        var cases = Enumerable.Range(0, 16).Select(i =>
        {
            var query = TestTexts.Queries[i % TestTexts.Queries.Length];
            var texts = TestTexts.Passages.Skip(i % 4).Take(3 + (i % 5)).ToArray();
            return (Cohere: i % 2 == 1, Query: query, Texts: texts, Expected: Reference.Rank(query, texts));
        }).ToArray();

        var responses = await Task.WhenAll(cases.Select(c => c.Cohere
            ? Server.PostAsync("/v1/rerank", TestServer.Json(new { query = c.Query, documents = c.Texts }))
            : Server.PostAsync("/rerank", TestServer.Json(new { query = c.Query, texts = c.Texts }))));

        for (var i = 0; i < cases.Length; i++)
        {
            using var json = await ReadJsonAsync(responses[i], HttpStatusCode.OK);
            var items = cases[i].Cohere ? json.RootElement.GetProperty("results") : json.RootElement;
            var scoreName = cases[i].Cohere ? "relevance_score" : "score";
            Assert.Equal(cases[i].Expected.Select(r => r.Index), items.EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
            Assert.Equal(cases[i].Expected.Select(r => (double)r.Score), items.EnumerateArray().Select(r => r.GetProperty(scoreName).GetDouble()), new Near(Tolerance));
        }

        Assert.Equal(0, Server.Gate.Admitted);
    }

    [Fact]
    public async Task Health_and_info()
    {
        using var health = await ReadJsonAsync(await Server.Client.GetAsync("/health"), HttpStatusCode.OK);
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());

        using var info = await ReadJsonAsync(await Server.Client.GetAsync("/info"), HttpStatusCode.OK);
        Assert.Equal(Path.GetFullPath(TestPaths.TinyModel), info.RootElement.GetProperty("source").GetString());
        Assert.Equal("ok", info.RootElement.GetProperty("status").GetString());
        Assert.Equal(ServerFixture.MaxLength, info.RootElement.GetProperty("max_length").GetInt32());
        Assert.Equal(ServerFixture.MaxDocuments, info.RootElement.GetProperty("max_documents").GetInt32());
        Assert.Equal("model.onnx", info.RootElement.GetProperty("model_file").GetString());
        Assert.Equal(Path.Combine(Path.GetFullPath(TestPaths.TinyModel), "model.onnx"), info.RootElement.GetProperty("model_path").GetString());
        Assert.Equal("float", info.RootElement.GetProperty("precision").GetString());
        Assert.Equal(Path.Combine(Path.GetFullPath(TestPaths.TinyModel), "tokenizer.json"), info.RootElement.GetProperty("tokenizer").GetString());
        Assert.True(info.RootElement.GetProperty("tokenizer_matches_hugging_face").GetBoolean());
    }

    private async Task<JsonElement[]> PostOkAsync(string path, object body) =>
        await ReadArrayAsync(await Server.PostAsync(path, TestServer.Json(body)), HttpStatusCode.OK);

    internal static async Task<JsonElement[]> ReadArrayAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        using var json = await ReadJsonAsync(response, status);
        Assert.Equal(JsonValueKind.Array, json.RootElement.ValueKind);
        return json.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    internal static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body);
    }

    internal static async Task<string> ReadErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        using var json = await ReadJsonAsync(response, status);
        return json.RootElement.GetProperty("error").GetString()!;
    }

    private sealed class Near(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}

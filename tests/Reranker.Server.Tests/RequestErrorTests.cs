using System.Net;
using System.Text;

namespace Reranker.Server.Tests;

/// <summary>Every malformed or oversized request gets its status and a JSON error naming the problem.</summary>
public sealed class RequestErrorTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    public static TheoryData<string, string, string> BadRequests() => new()
    {
        // Not JSON, or not an object.
        { "/rerank", "{", "not valid JSON" },
        { "/rerank", "", "not valid JSON" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"],}", "not valid JSON" },
        { "/rerank", "[]", "must be a JSON object" },
        { "/v1/rerank", "\"text\"", "must be a JSON object" },

        // TEI /rerank.
        { "/rerank", "{\"texts\": [\"a\"]}", "'query' is required" },
        { "/rerank", "{\"query\": null, \"texts\": [\"a\"]}", "'query' is required" },
        { "/rerank", "{\"query\": \"\", \"texts\": [\"a\"]}", "'query' must not be empty" },
        { "/rerank", "{\"query\": 5, \"texts\": [\"a\"]}", "'query' must be a string" },
        { "/rerank", "{\"query\": \"q\"}", "'texts' is required" },
        { "/rerank", "{\"query\": \"q\", \"texts\": []}", "'texts' must not be empty" },
        { "/rerank", "{\"query\": \"q\", \"texts\": \"a\"}", "'texts' must be an array" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\", 1]}", "'texts[1]' must be a string" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\", null]}", "'texts[1]' must be a string" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"raw_scores\": \"yes\"}", "'raw_scores' must be true or false" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"return_text\": 1}", "'return_text' must be true or false" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"truncate\": \"no\"}", "'truncate' must be true or false" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"truncation_direction\": \"up\"}", "'truncation_direction'" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"max_chunks_per_doc\": 0}", "'max_chunks_per_doc' must be 1 or more" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"max_chunks_per_doc\": 2.5}", "'max_chunks_per_doc' must be an integer" },
        { "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"return_span\": \"yes\"}", "'return_span' must be true or false" },

        // Cohere/Jina /v1/rerank.
        { "/v1/rerank", "{\"documents\": [\"a\"]}", "'query' is required" },
        { "/v1/rerank", "{\"query\": \"\", \"documents\": [\"a\"]}", "'query' must not be empty" },
        { "/v1/rerank", "{\"query\": [\"q\"], \"documents\": [\"a\"]}", "'query' must be a string" },
        { "/v1/rerank", "{\"query\": \"q\"}", "'documents' is required" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": []}", "'documents' must not be empty" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": {\"text\": \"a\"}}", "'documents' must be an array" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\", {\"txt\": \"b\"}]}", "'documents[1]'" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"max_chunks_per_doc\": -3}", "'max_chunks_per_doc' must be 1 or more" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"max_chunks_per_doc\": \"10\"}", "'max_chunks_per_doc' must be an integer" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"return_span\": 1}", "'return_span' must be true or false" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\", {\"text\": 2}]}", "'documents[1]'" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [3]}", "'documents[0]'" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"top_n\": -1}", "'top_n' must be 1 or more" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"top_n\": 0}", "'top_n' must be 1 or more" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"top_n\": 1.5}", "'top_n' must be an integer" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"top_n\": \"2\"}", "'top_n' must be an integer" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"model\": 5}", "'model' must be a string" },
        { "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"return_documents\": \"true\"}", "'return_documents' must be true or false" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Malformed_requests_get_400_naming_the_problem(string path, string body, string expected)
    {
        var response = await fixture.Server.PostAsync(path, body);

        var error = await RerankEndpointTests.ReadErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> TooLargeRequests()
    {
        var a = new string('a', ServerFixture.MaxTextCharacters);
        var tooLong = new string('a', ServerFixture.MaxTextCharacters + 1);
        var tooMany = Enumerable.Repeat("a", ServerFixture.MaxDocuments + 1).ToArray();
        var tooMuchTogether = Enumerable.Repeat(a, (ServerFixture.MaxRequestCharacters / ServerFixture.MaxTextCharacters) + 1).ToArray();
        return new TheoryData<string, string, string>
        {
            { "/rerank", TestServer.Json(new { query = "q", texts = tooMany }), $"at most {ServerFixture.MaxDocuments}" },
            { "/v1/rerank", TestServer.Json(new { query = "q", documents = tooMany }), $"at most {ServerFixture.MaxDocuments}" },
            { "/rerank", TestServer.Json(new { query = "q", texts = new[] { "a", tooLong } }), $"'texts[1]' has {ServerFixture.MaxTextCharacters + 1} characters" },
            { "/v1/rerank", TestServer.Json(new { query = tooLong, documents = new[] { "a" } }), $"'query' has {ServerFixture.MaxTextCharacters + 1} characters" },
            { "/v1/rerank", TestServer.Json(new { query = "q", documents = new object[] { new { text = tooLong } } }), "'documents[0]' has" },
            { "/rerank", TestServer.Json(new { query = "q", texts = tooMuchTogether }), $"at most {ServerFixture.MaxRequestCharacters} are accepted per request" },
            { "/v1/rerank", TestServer.Json(new { query = "q", documents = tooMuchTogether }), $"at most {ServerFixture.MaxRequestCharacters} are accepted per request" },
        };
    }

    [Theory]
    [MemberData(nameof(TooLargeRequests))]
    public async Task Requests_beyond_the_limits_get_413(string path, string body, string expected)
    {
        var response = await fixture.Server.PostAsync(path, body);

        var error = await RerankEndpointTests.ReadErrorAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/rerank")]
    [InlineData("/v1/rerank")]
    public async Task A_body_beyond_the_byte_limit_gets_413(string path)
    {
        // Valid JSON within the character limits (each character written as a 6-byte \u escape), but more bytes
        // than the server reads.
        const int characters = 1500;
        var text = string.Concat(Enumerable.Repeat("\\u00e9", characters));
        var field = path == "/rerank" ? "texts" : "documents";
        var body = "{\"query\":\"q\",\"" + field + "\":[\"" + text + "\",\"" + text + "\",\"" + text + "\"]}";
        Assert.True(Encoding.UTF8.GetByteCount(body) > ServerFixture.MaxRequestBytes);
        Assert.True(3 * characters < ServerFixture.MaxRequestCharacters && characters < ServerFixture.MaxTextCharacters);

        var response = await fixture.Server.PostAsync(path, body);

        var error = await RerankEndpointTests.ReadErrorAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains($"larger than {ServerFixture.MaxRequestBytes} bytes", error, StringComparison.Ordinal);

        // Two of the three texts fit in the byte limit and are scored.
        var smaller = "{\"query\":\"q\",\"" + field + "\":[\"" + text + "\",\"" + text + "\"]}";
        using var ok = await RerankEndpointTests.ReadJsonAsync(await fixture.Server.PostAsync(path, smaller), HttpStatusCode.OK);
    }
}

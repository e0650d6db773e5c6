using System.Text.Json;

namespace Reranker.Server;

/// <summary>A parsed, validated <c>POST /rerank</c> request (Hugging Face Text Embeddings Inference format).</summary>
/// <remarks>
/// <c>MaxChunksPerDoc</c> is this service's extension <c>max_chunks_per_doc</c>: chunk long texts, at most this many
/// chunks each (<see langword="null"/> for the server's setting); <c>ReturnSpan</c>, the extension <c>return_span</c>,
/// adds the winning chunk of each text to the response.
/// </remarks>
internal sealed record TeiRerankRequest(
    string Query,
    string[] Texts,
    bool RawScores,
    bool ReturnText,
    bool? Truncate,
    bool TruncateLeft,
    int? MaxChunksPerDoc = null,
    bool ReturnSpan = false);

/// <summary>A parsed, validated <c>POST /v1/rerank</c> request (Cohere/Jina format).</summary>
/// <remarks>
/// <c>MaxChunksPerDoc</c> is Cohere's <c>max_chunks_per_doc</c>: chunk long documents, at most this many chunks each
/// (<see langword="null"/> for the server's setting); <c>ReturnSpan</c>, this service's extension <c>return_span</c>,
/// adds the winning chunk of each document to the response.
/// </remarks>
internal sealed record CohereRerankRequest(
    string? Model,
    string Query,
    string[] Documents,
    int? TopN,
    bool ReturnDocuments,
    int? MaxChunksPerDoc = null,
    bool ReturnSpan = false);

/// <summary>Reads request bodies by hand, so that every malformed field gets a 400 that names it.</summary>
internal static class RequestParser
{
    public static TeiRerankRequest ParseTei(JsonElement root, RerankServerOptions limits)
    {
        RequireObject(root);
        var query = RequiredQuery(root);
        var texts = RequiredStrings(root, "texts");
        var rawScores = OptionalBool(root, "raw_scores") ?? false;
        var returnText = OptionalBool(root, "return_text") ?? false;
        var truncate = OptionalBool(root, "truncate");
        var left = false;
        if (Optional(root, "truncation_direction") is { } direction)
        {
            // TEI accepts both spellings of each direction.
            left = (direction.ValueKind == JsonValueKind.String ? Text(direction, "truncation_direction") : null) switch
            {
                "right" or "Right" => false,
                "left" or "Left" => true,
                _ => throw ApiError.BadRequest("'truncation_direction' must be \"right\" or \"left\"."),
            };
        }

        var maxChunks = OptionalPositiveInt(root, "max_chunks_per_doc");
        var returnSpan = OptionalBool(root, "return_span") ?? false;
        CheckLimits(query, texts, "texts", limits);
        return new TeiRerankRequest(query, texts, rawScores, returnText, truncate, left, maxChunks, returnSpan);
    }

    public static CohereRerankRequest ParseCohere(JsonElement root, RerankServerOptions limits)
    {
        RequireObject(root);
        string? model = null;
        if (Optional(root, "model") is { } modelElement)
        {
            model = modelElement.ValueKind == JsonValueKind.String
                ? Text(modelElement, "model")
                : throw ApiError.BadRequest("'model' must be a string.");
        }

        var query = RequiredQuery(root);
        var documentsElement = Optional(root, "documents") ?? throw ApiError.BadRequest("'documents' is required: an array of strings or of objects with a 'text' string.");
        if (documentsElement.ValueKind != JsonValueKind.Array)
        {
            throw ApiError.BadRequest("'documents' must be an array of strings or of objects with a 'text' string.");
        }

        var documents = new string[documentsElement.GetArrayLength()];
        var i = 0;
        foreach (var item in documentsElement.EnumerateArray())
        {
            documents[i] = item.ValueKind switch
            {
                JsonValueKind.String => Text(item, $"documents[{i}]"),
                JsonValueKind.Object when item.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String => Text(text, $"documents[{i}].text"),
                _ => throw ApiError.BadRequest($"'documents[{i}]' must be a string or an object with a 'text' string."),
            };
            i++;
        }

        if (documents.Length == 0)
        {
            throw ApiError.BadRequest("'documents' must not be empty.");
        }

        int? topN = null;
        if (Optional(root, "top_n") is { } topNElement)
        {
            if (topNElement.ValueKind != JsonValueKind.Number || !topNElement.TryGetInt32(out var n))
            {
                throw ApiError.BadRequest("'top_n' must be an integer.");
            }

            topN = n > 0 ? n : throw ApiError.BadRequest($"'top_n' must be 1 or more, not {n}.");
        }

        var returnDocuments = OptionalBool(root, "return_documents") ?? false;
        var maxChunks = OptionalPositiveInt(root, "max_chunks_per_doc");
        var returnSpan = OptionalBool(root, "return_span") ?? false;
        CheckLimits(query, documents, "documents", limits);
        return new CohereRerankRequest(model, query, documents, topN, returnDocuments, maxChunks, returnSpan);
    }

    private static void RequireObject(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw ApiError.BadRequest($"The request body must be a JSON object, not {Describe(root.ValueKind)}.");
        }
    }

    /// <summary>A member that is present and not <c>null</c>; <c>null</c> counts as left out.</summary>
    private static JsonElement? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string RequiredQuery(JsonElement root)
    {
        var element = Optional(root, "query") ?? throw ApiError.BadRequest("'query' is required: a non-empty string.");
        if (element.ValueKind != JsonValueKind.String)
        {
            throw ApiError.BadRequest($"'query' must be a string, not {Describe(element.ValueKind)}.");
        }

        var query = Text(element, "query");
        return query.Length > 0 ? query : throw ApiError.BadRequest("'query' must not be empty.");
    }

    private static string[] RequiredStrings(JsonElement root, string name)
    {
        var element = Optional(root, name) ?? throw ApiError.BadRequest($"'{name}' is required: a non-empty array of strings.");
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw ApiError.BadRequest($"'{name}' must be an array of strings, not {Describe(element.ValueKind)}.");
        }

        var values = new string[element.GetArrayLength()];
        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            values[i] = item.ValueKind == JsonValueKind.String
                ? Text(item, $"{name}[{i}]")
                : throw ApiError.BadRequest($"'{name}[{i}]' must be a string, not {Describe(item.ValueKind)}.");
            i++;
        }

        return values.Length > 0 ? values : throw ApiError.BadRequest($"'{name}' must not be empty.");
    }

    private static int? OptionalPositiveInt(JsonElement root, string name)
    {
        if (Optional(root, name) is not { } element)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var value))
        {
            throw ApiError.BadRequest($"'{name}' must be an integer, not {(element.ValueKind == JsonValueKind.Number ? element.GetRawText() : Describe(element.ValueKind))}.");
        }

        return value > 0 ? value : throw ApiError.BadRequest($"'{name}' must be 1 or more, not {value}.");
    }

    /// <summary>
    /// A JSON string's value. Invalid UTF-8 (overlong, surrogate or out-of-range sequences, a truncated sequence) or
    /// an escaped lone surrogate such as <c>\ud800</c> is the client's mistake: a 400 naming the field, never a 500.
    /// </summary>
    private static string Text(JsonElement element, string name)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw ApiError.BadRequest($"'{name}' is not valid text: {e.Message} Send UTF-8 without lone surrogates.");
        }
    }

    private static bool? OptionalBool(JsonElement root, string name) => Optional(root, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { } other => throw ApiError.BadRequest($"'{name}' must be true or false, not {Describe(other.ValueKind)}."),
    };

    private static void CheckLimits(string query, string[] texts, string name, RerankServerOptions limits)
    {
        if (texts.Length > limits.MaxDocuments)
        {
            throw ApiError.TooLarge($"'{name}' has {texts.Length} items; at most {limits.MaxDocuments} are accepted per request.");
        }

        if (query.Length > limits.MaxTextCharacters)
        {
            throw ApiError.TooLarge($"'query' has {query.Length} characters; at most {limits.MaxTextCharacters} are accepted.");
        }

        long total = query.Length;
        for (var i = 0; i < texts.Length; i++)
        {
            if (texts[i].Length > limits.MaxTextCharacters)
            {
                throw ApiError.TooLarge($"'{name}[{i}]' has {texts[i].Length} characters; at most {limits.MaxTextCharacters} are accepted per text.");
            }

            total += texts[i].Length;
        }

        if (total > limits.MaxRequestCharacters)
        {
            throw ApiError.TooLarge($"The query and '{name}' have {total} characters together; at most {limits.MaxRequestCharacters} are accepted per request.");
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}

namespace Reranker.Server;

/// <summary>
/// Settings of the service, bound from the configuration section <c>Reranker</c>: command-line
/// <c>--Reranker:MaxDocuments 64</c>, environment <c>Reranker__MaxDocuments=64</c>, or any other configuration source.
/// The model's own settings (<see cref="CrossEncoderOptions"/>) are in the subsection <c>Reranker:CrossEncoder</c>,
/// as <c>AddCrossEncoder(configuration.GetSection("Reranker"))</c> reads them: <c>Reranker__CrossEncoder__MaxLength=1024</c>.
/// </summary>
public sealed class RerankServerOptions
{
    /// <summary>The configuration section the options are read from.</summary>
    public const string SectionName = "Reranker";

    /// <summary>The exported model directory; <c>--model DIR</c> on the command line overrides it. Default: the bundled tiny model.</summary>
    public string? ModelDirectory { get; set; }

    /// <summary>The name reported in <c>/v1/rerank</c> responses (when the request names none) and <c>/info</c>. Default: the directory's name.</summary>
    public string? ModelName { get; set; }

    /// <summary>What <c>/rerank</c> does when a request leaves <c>truncate</c> out: true cuts over-long pairs (as TEI's default <c>--auto-truncate</c>).</summary>
    public bool AutoTruncate { get; set; } = true;

    /// <summary>Most texts/documents in one request; more is answered 413.</summary>
    public int MaxDocuments { get; set; } = 128;

    /// <summary>Most characters (UTF-16 code units) in the query or in one text; more is answered 413.</summary>
    public int MaxTextCharacters { get; set; } = 32_768;

    /// <summary>Most characters in one request, query and texts together; more is answered 413.</summary>
    public int MaxRequestCharacters { get; set; } = 1_000_000;

    /// <summary>Most bytes in one request body; more is answered 413.</summary>
    public long MaxRequestBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Most requests scoring at the same time.</summary>
    public int MaxConcurrentRequests { get; set; } = 2;

    /// <summary>Most requests waiting for a scoring slot; beyond that a request is answered 503 at once.</summary>
    public int MaxQueuedRequests { get; set; } = 64;

    /// <summary>The <c>Retry-After</c> seconds sent with a 503.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    internal void Validate()
    {
        Positive(MaxDocuments, nameof(MaxDocuments));
        Positive(MaxTextCharacters, nameof(MaxTextCharacters));
        Positive(MaxRequestCharacters, nameof(MaxRequestCharacters));
        Positive(MaxRequestBytes, nameof(MaxRequestBytes));
        Positive(MaxConcurrentRequests, nameof(MaxConcurrentRequests));
        Positive(RetryAfterSeconds, nameof(RetryAfterSeconds));
        if (MaxQueuedRequests < 0)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxQueuedRequests)} must be 0 or more, not {MaxQueuedRequests}.");
        }
    }

    private static void Positive(long value, string name)
    {
        if (value <= 0)
        {
            throw new InvalidOperationException($"{SectionName}:{name} must be positive, not {value}.");
        }
    }
}

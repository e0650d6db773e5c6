namespace Reranker.Server;

/// <summary>
/// Settings of the service, bound from the configuration section <c>Reranker</c>: command-line
/// <c>--Reranker:MaxDocuments 64</c>, environment <c>Reranker__MaxDocuments=64</c>, or any other configuration source.
/// The model's own settings (<see cref="CrossEncoderOptions"/>) are in the subsection <c>Reranker:CrossEncoder</c>:
/// <c>Reranker__CrossEncoder__MaxLength=1024</c>.
/// </summary>
public sealed class RerankServerOptions
{
    /// <summary>The configuration section the options are read from.</summary>
    public const string SectionName = "Reranker";

    /// <summary>
    /// The model: an exported model directory, or a Hugging Face model id such as <c>dragonkue/bge-reranker-v2-m3-ko</c>
    /// (downloaded into the hub cache, and exported to ONNX there when the repository has none). <c>--model</c> on the
    /// command line sets it. Default: <see cref="ModelDirectory"/>, else the bundled tiny model when run from the repository.
    /// </summary>
    public string? Model { get; set; }

    /// <summary>The older name of <see cref="Model"/>, for a directory; used when <see cref="Model"/> is not set.</summary>
    public string? ModelDirectory { get; set; }

    /// <summary>The hub revision (branch, tag or commit) of a model id; <c>--revision</c>. Default <c>main</c>.</summary>
    public string? Revision { get; set; }

    /// <summary>The name reported in <c>/v1/rerank</c> responses (when the request names none) and <c>/info</c>. Default: the model id or the directory's name.</summary>
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

    /// <summary>
    /// On shutdown (SIGTERM, Ctrl+C), how long requests already admitted may take to finish before their connections
    /// are closed. Default 30 seconds.
    /// </summary>
    public double DrainTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// On shutdown, how long the server keeps listening before it closes its port, answering readiness probes and new
    /// requests with 503, so that a load balancer stops sending traffic first. Default 0 (Kubernetes: use a
    /// <c>preStop</c> sleep or set this a few seconds).
    /// </summary>
    public double DrainDelaySeconds { get; set; }

    /// <summary>
    /// API keys: when set, every request except the probes (<c>/alive</c>, <c>/health</c>, <c>/ping</c>) must send
    /// <c>Authorization: Bearer KEY</c> with one of them, or is answered 401. Several keys, separated by commas, are all
    /// valid, so that a key can be rotated: add the new one, move the clients, remove the old one. <c>--api-key</c> on
    /// the command line (repeatable), <c>Reranker__ApiKey</c> in the environment. Each key is visible ASCII without
    /// commas or spaces (as <c>openssl rand -hex 32</c> prints). Default: none, no authentication.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>The keys of <see cref="ApiKey"/>, parsed by <see cref="Validate"/>; empty without authentication.</summary>
    internal IReadOnlyList<string> ApiKeys { get; private set; } = [];

    /// <summary>The model setting in effect: <see cref="Model"/>, else <see cref="ModelDirectory"/>.</summary>
    internal string? ModelSetting => string.IsNullOrWhiteSpace(Model) ? ModelDirectory : Model;

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
            throw Invalid($"{SectionName}:{nameof(MaxQueuedRequests)} must be 0 or more, not {MaxQueuedRequests}.");
        }

        if (!(DrainTimeoutSeconds >= 0 && DrainTimeoutSeconds <= 3600))
        {
            throw Invalid($"{SectionName}:{nameof(DrainTimeoutSeconds)} must be between 0 and 3600, not {DrainTimeoutSeconds}.");
        }

        if (!(DrainDelaySeconds >= 0 && DrainDelaySeconds <= 3600))
        {
            throw Invalid($"{SectionName}:{nameof(DrainDelaySeconds)} must be between 0 and 3600, not {DrainDelaySeconds}.");
        }

        ApiKeys = ParseApiKeys(ApiKey);
    }

    /// <summary>Splits <see cref="ApiKey"/> at commas; a message never shows a key, only its position.</summary>
    private static string[] ParseApiKeys(string? setting)
    {
        if (setting is null)
        {
            return [];
        }

        var keys = setting.Split(',').Select(k => k.Trim()).ToArray();
        for (var i = 0; i < keys.Length; i++)
        {
            var which = keys.Length == 1 ? "the API key" : $"API key {i + 1} of {keys.Length}";
            if (keys[i].Length == 0)
            {
                throw Invalid($"{SectionName}:{nameof(ApiKey)} (--api-key): {which} is empty; give keys separated by commas, e.g. the output of 'openssl rand -hex 32'.");
            }

            if (keys[i].Any(c => c is <= ' ' or > '~'))
            {
                throw Invalid($"{SectionName}:{nameof(ApiKey)} (--api-key): {which} has a character other than visible ASCII (a space, a control character or a non-ASCII letter), which an Authorization header cannot carry as sent.");
            }
        }

        return keys;
    }

    private static void Positive(long value, string name)
    {
        if (value <= 0)
        {
            throw Invalid($"{SectionName}:{name} must be positive, not {value}.");
        }
    }

    private static ServerStartupException Invalid(string message) => new(message, ServerStartupException.ExitUsage);
}

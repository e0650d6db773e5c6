namespace Reranker.Hub;

/// <summary>Reads the environment variables huggingface_hub reads, with the same precedence.</summary>
internal sealed class HubEnvironment(Func<string, string?> read)
{
    /// <summary>The default hub address.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The real process environment.</summary>
    public static HubEnvironment Process { get; } = new(System.Environment.GetEnvironmentVariable);

    /// <summary>A variable's value, or <see langword="null"/> when unset or blank.</summary>
    public string? Get(string name)
    {
        var value = read(name);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    /// <summary><c>HF_HUB_CACHE</c> (or the legacy <c>HUGGINGFACE_HUB_CACHE</c>), else <c>{HF_HOME}/hub</c>.</summary>
    public string CacheDirectory()
    {
        var hub = Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE");
        return hub is not null ? ExpandHome(hub) : Path.Combine(HfHome(), "hub");
    }

    /// <summary><c>HF_HOME</c>, else <c>{XDG_CACHE_HOME or ~/.cache}/huggingface</c>.</summary>
    public string HfHome()
    {
        var home = Get("HF_HOME");
        if (home is not null)
        {
            return ExpandHome(home);
        }

        var cache = Get("XDG_CACHE_HOME") is { } xdg ? ExpandHome(xdg) : Path.Combine(UserHome(), ".cache");
        return Path.Combine(cache, "huggingface");
    }

    /// <summary><c>HF_ENDPOINT</c> without a trailing slash, else the public hub.</summary>
    public string Endpoint() => (Get("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/');

    /// <summary><c>HF_HUB_OFFLINE</c> (or the legacy <c>TRANSFORMERS_OFFLINE</c>) set to 1, ON, YES or TRUE.</summary>
    public bool Offline()
    {
        var value = Get("HF_HUB_OFFLINE") ?? Get("TRANSFORMERS_OFFLINE");
        return value is not null && (value == "1"
            || value.Equals("ON", StringComparison.OrdinalIgnoreCase)
            || value.Equals("YES", StringComparison.OrdinalIgnoreCase)
            || value.Equals("TRUE", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary><c>HF_TOKEN</c> (or the legacy <c>HUGGING_FACE_HUB_TOKEN</c>), else the token file that
    /// <c>hf auth login</c> writes (<c>HF_TOKEN_PATH</c>, else <c>{HF_HOME}/token</c>).</summary>
    public string? Token()
    {
        var token = Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN");
        if (token is not null)
        {
            return token;
        }

        var path = Get("HF_TOKEN_PATH") is { } p ? ExpandHome(p) : Path.Combine(HfHome(), "token");
        try
        {
            var fromFile = File.Exists(path) ? File.ReadAllText(path).Trim() : null;
            return string.IsNullOrEmpty(fromFile) ? null : fromFile;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string UserHome() =>
        Get("HOME") ?? Get("USERPROFILE") ?? System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);

    private string ExpandHome(string path)
    {
        if (path == "~")
        {
            return UserHome();
        }

        return path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal)
            ? Path.Combine(UserHome(), path[2..])
            : path;
    }
}

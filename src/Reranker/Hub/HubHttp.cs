using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Reranker.Hub;

/// <summary>What the hub says about a repository at a revision: the commit and the file names.</summary>
internal sealed record HubListing(string CommitHash, IReadOnlyList<string> Files);

/// <summary>What a HEAD on a resolve URL says about one file.</summary>
/// <param name="CommitHash">The <c>X-Repo-Commit</c> header.</param>
/// <param name="Etag"><c>X-Linked-Etag</c> (LFS files) or <c>ETag</c>, without quotes: the blob's name in the cache.</param>
/// <param name="Size"><c>X-Linked-Size</c> (LFS files) or the <c>Content-Length</c> of a direct answer.</param>
/// <param name="DownloadUrl">The resolve URL, or the storage URL the hub redirects to.</param>
internal sealed record HubFileMetadata(string CommitHash, string Etag, long Size, Uri DownloadUrl);

/// <summary>The HTTP side of the hub protocol: listing, file metadata, ranged downloads, redirects and errors.</summary>
internal sealed class HubHttp : IDisposable
{
    private const int MaxRedirects = 10;

    private static readonly HttpClient SharedClient = new(
        new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private readonly HttpClient client;
    private readonly bool ownsClient;
    private readonly string endpoint;
    private readonly Uri endpointUri;
    private readonly string? token;
    private readonly TimeSpan requestTimeout;

    public HubHttp(string endpoint, string? token, HttpMessageHandler? handler, TimeSpan requestTimeout)
    {
        this.endpoint = endpoint.TrimEnd('/');
        endpointUri = new Uri(this.endpoint + "/", UriKind.Absolute);
        this.token = token;
        this.requestTimeout = requestTimeout;
        if (handler is null)
        {
            client = SharedClient;
        }
        else
        {
            client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
            ownsClient = true;
        }
    }

    public string Endpoint => endpoint;

    /// <summary><c>GET {endpoint}/api/models/{repo}/revision/{revision}</c>: the commit (<c>sha</c>) and the file names (<c>siblings[].rfilename</c>).</summary>
    public async Task<HubListing> GetListingAsync(string repoId, string revision, CancellationToken cancellationToken)
    {
        var url = new Uri($"{endpoint}/api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await SendFollowingAsync(HttpMethod.Get, url, rangeFrom: 0, followAcrossHosts: false, cancellationToken).ConfigureAwait(false);
        ThrowOnError(response, repoId, revision, file: null);

        JsonDocument json;
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            json = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new HubException(HubErrorKind.InvalidResponse, $"The model info of '{repoId}' from {url} is not JSON.", response.StatusCode, e);
        }

        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("sha", out var sha) || sha.ValueKind != JsonValueKind.String
                || !HubPaths.IsCommitHash(sha.GetString()!))
            {
                throw new HubException(HubErrorKind.InvalidResponse, $"The model info of '{repoId}' from {url} has no 40-hex 'sha' commit hash.");
            }

            var files = new List<string>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                foreach (var sibling in siblings.EnumerateArray())
                {
                    if (sibling.ValueKind == JsonValueKind.Object && sibling.TryGetProperty("rfilename", out var name) && name.ValueKind == JsonValueKind.String)
                    {
                        files.Add(name.GetString()!);
                    }
                }
            }

            return new HubListing(sha.GetString()!, files);
        }
    }

    /// <summary>
    /// HEAD on the resolve URL without following a redirect to another host: the hub's answer (often a 302 to a
    /// storage host for LFS files) carries <c>X-Repo-Commit</c>, <c>X-Linked-Etag</c> and <c>X-Linked-Size</c>.
    /// </summary>
    public async Task<HubFileMetadata> GetMetadataAsync(string repoId, string revision, string file, CancellationToken cancellationToken)
    {
        var url = ResolveUrl(repoId, revision, file);
        using var response = await SendFollowingAsync(HttpMethod.Head, url, rangeFrom: 0, followAcrossHosts: false, cancellationToken).ConfigureAwait(false);
        var isRedirect = IsRedirect(response.StatusCode);
        if (!isRedirect)
        {
            ThrowOnError(response, repoId, revision, file);
        }

        var commit = Header(response, "X-Repo-Commit");
        var etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? Header(response, "ETag"));
        var sizeText = Header(response, "X-Linked-Size")
            ?? (isRedirect ? null : response.Content.Headers.ContentLength?.ToString(CultureInfo.InvariantCulture));
        if (commit is null)
        {
            throw new HubException(HubErrorKind.InvalidResponse, $"{url} answered without an X-Repo-Commit header: the endpoint does not look like a Hugging Face hub (check HF_ENDPOINT, proxies and firewalls).");
        }

        if (etag is null || !IsSafeEtag(etag))
        {
            throw new HubException(HubErrorKind.InvalidResponse, $"{url} answered without a usable ETag ('{etag}'), so the file cannot be cached reliably.");
        }

        if (!long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var size))
        {
            throw new HubException(HubErrorKind.InvalidResponse, $"{url} answered without the file size (X-Linked-Size or Content-Length).");
        }

        var location = isRedirect ? RedirectTarget(response) : response.RequestMessage?.RequestUri ?? url;
        return new HubFileMetadata(commit, etag, size, location);
    }

    /// <summary>GET (from <paramref name="rangeFrom"/> onward when positive), following redirects; the caller reads the body.</summary>
    public async Task<HttpResponseMessage> OpenDownloadAsync(Uri url, long rangeFrom, string repoId, string revision, string file, CancellationToken cancellationToken)
    {
        var response = await SendFollowingAsync(HttpMethod.Get, url, rangeFrom, followAcrossHosts: true, cancellationToken).ConfigureAwait(false);
        try
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                return response;
            }

            ThrowOnError(response, repoId, revision, file);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (ownsClient)
        {
            client.Dispose();
        }
    }

    private Uri ResolveUrl(string repoId, string revision, string file)
    {
        var path = string.Join('/', file.Split('/').Select(Uri.EscapeDataString));
        return new Uri($"{endpoint}/{repoId}/resolve/{Uri.EscapeDataString(revision)}/{path}");
    }

    /// <summary>
    /// Sends a request and follows redirects by hand: always within the hub's own host (renamed repositories), and to
    /// other hosts only when <paramref name="followAcrossHosts"/>. The token goes only to the hub's host.
    /// </summary>
    private async Task<HttpResponseMessage> SendFollowingAsync(HttpMethod method, Uri url, long rangeFrom, bool followAcrossHosts, CancellationToken cancellationToken)
    {
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, url);
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("Reranker.Hub", "1.0"));
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            if (token is not null && SameAuthority(url, endpointUri))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (rangeFrom > 0)
            {
                request.Headers.Range = new RangeHeaderValue(rangeFrom, null);
            }

            HttpResponseMessage response;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(requestTimeout);
                try
                {
                    response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new HubException(HubErrorKind.Unreachable, $"{method} {url} got no answer within {requestTimeout.TotalSeconds:0} s.", innerException: e);
                }
                catch (HttpRequestException e)
                {
                    throw new HubException(HubErrorKind.Unreachable, $"Could not reach {url.GetLeftPart(UriPartial.Authority)}: {e.Message}", innerException: e);
                }
            }

            if (!IsRedirect(response.StatusCode) || response.Headers.Location is null)
            {
                return response;
            }

            var target = RedirectTarget(response);
            if (hop >= MaxRedirects || (!followAcrossHosts && !SameAuthority(target, url)))
            {
                return response;
            }

            response.Dispose();
            url = target;
        }
    }

    private void ThrowOnError(HttpResponseMessage response, string repoId, string revision, string? file)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var status = response.StatusCode;
        var code = Header(response, "X-Error-Code");
        var detail = Header(response, "X-Error-Message") is { } message ? $": {message}" : string.Empty;
        var what = file is null ? $"repository '{repoId}' at revision '{revision}'" : $"file '{file}' of repository '{repoId}' at revision '{revision}'";
        switch (status)
        {
            case HttpStatusCode.Unauthorized:
            case HttpStatusCode.Forbidden:
                var tokenHint = token is null
                    ? "No token was sent: if the repository is private or gated, pass one via HubDownloadOptions.Token or the HF_TOKEN environment variable."
                    : "The token that was sent (HubDownloadOptions.Token or HF_TOKEN) was refused or lacks access; check it and, for a gated model, accept its conditions on the hub.";
                throw new HubException(
                    HubErrorKind.Unauthorized,
                    $"The hub refused access to {what} (HTTP {(int)status}{detail}). The repository may be private, gated or missing. {tokenHint}",
                    status);
            case HttpStatusCode.NotFound:
                var notFound = code switch
                {
                    "RevisionNotFound" => $"Revision '{revision}' not found in repository '{repoId}'",
                    "EntryNotFound" => $"File '{file}' not found in repository '{repoId}' at revision '{revision}'",
                    "RepoNotFound" => $"Repository '{repoId}' not found",
                    _ => file is null ? $"Repository '{repoId}' or revision '{revision}' not found" : $"File '{file}' not found in repository '{repoId}' at revision '{revision}'",
                };
                throw new HubException(HubErrorKind.NotFound, $"{notFound} (HTTP 404 from {endpoint}{detail}).", status);
            default:
                var kind = (int)status >= 500 || status == HttpStatusCode.TooManyRequests || status == HttpStatusCode.RequestTimeout
                    ? HubErrorKind.Unreachable
                    : HubErrorKind.InvalidResponse;
                throw new HubException(kind, $"The hub answered HTTP {(int)status} for {what}{detail}.", status);
        }
    }

    private static bool IsRedirect(HttpStatusCode status) => (int)status is >= 300 and <= 399;

    private static Uri RedirectTarget(HttpResponseMessage response)
    {
        var location = response.Headers.Location
            ?? throw new HubException(HubErrorKind.InvalidResponse, $"A redirect from {response.RequestMessage?.RequestUri} has no Location header.");
        return location.IsAbsoluteUri ? location : new Uri(response.RequestMessage!.RequestUri!, location);
    }

    private static bool SameAuthority(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase)
        && a.Port == b.Port;

    private static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
        {
            return values.FirstOrDefault();
        }

        return null;
    }

    /// <summary>Strips a weak marker and the quotes: <c>W/"abc"</c> and <c>"abc"</c> both become <c>abc</c>.</summary>
    internal static string? NormalizeEtag(string? etag)
    {
        if (etag is null)
        {
            return null;
        }

        etag = etag.Trim();
        if (etag.StartsWith("W/", StringComparison.Ordinal))
        {
            etag = etag[2..];
        }

        return etag.Trim('"');
    }

    /// <summary>An ETag becomes a file name under <c>blobs/</c>: only letters, digits, '-' and '_' are allowed.</summary>
    private static bool IsSafeEtag(string etag) =>
        etag.Length is > 0 and <= 128 && etag.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_');
}

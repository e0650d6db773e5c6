using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Reranker.Tests.Hub;

/// <summary>One request the fake hub received.</summary>
internal sealed record RecordedRequest(string Host, string Method, string Path, IReadOnlyDictionary<string, string> Headers)
{
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
}

/// <summary>A file the fake hub serves: LFS files are redirected to the storage host and named by SHA-256.</summary>
internal sealed record FakeFile(string Path, byte[] Content, bool Lfs)
{
    public string Sha256 { get; } = Convert.ToHexStringLower(SHA256.HashData(Content));

    /// <summary>git's blob id: SHA-1 of "blob {size}\0" + content, which the hub sends as ETag for non-LFS files.</summary>
    public string GitSha1 { get; } = Convert.ToHexStringLower(SHA1.HashData(
        [.. Encoding.ASCII.GetBytes($"blob {Content.Length}\0"), .. Content]));

    public string Etag => Lfs ? Sha256 : GitSha1;
}

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 that answers like the Hugging Face hub: the model-info API, HEAD/GET on
/// resolve URLs with X-Repo-Commit, ETag/X-Linked-Etag and X-Linked-Size, a 302 for LFS files to a second listener
/// (another port, so another host for the client), Range requests, and injectable faults. One request per connection.
/// </summary>
internal sealed class FakeHubServer : IAsyncDisposable
{
    private readonly TcpListener hub = new(IPAddress.Loopback, 0);
    private readonly TcpListener storage = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentBag<Task> connections = [];
    private readonly Task[] acceptLoops;
    private readonly ConcurrentDictionary<string, int> getCounts = new();

    public FakeHubServer(string repoId = "org/tiny-reranker", string commit = "0123456789abcdef0123456789abcdef01234567")
    {
        RepoId = repoId;
        Commit = commit;
        hub.Start();
        storage.Start();
        acceptLoops = [AcceptLoop(hub, "hub"), AcceptLoop(storage, "storage")];
    }

    public string RepoId { get; }

    public string Commit { get; set; }

    public Uri Endpoint => new($"http://127.0.0.1:{((IPEndPoint)hub.LocalEndpoint).Port}");

    public int StoragePort => ((IPEndPoint)storage.LocalEndpoint).Port;

    public Dictionary<string, FakeFile> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Names listed in the model info without content (unsafe names, for instance).</summary>
    public List<string> ExtraListing { get; } = [];

    /// <summary>When set, the hub answers 401 unless this Bearer token is sent.</summary>
    public string? RequiredToken { get; set; }

    /// <summary>File path → bytes after which the first GET of that file closes the connection.</summary>
    public Dictionary<string, int> DropAfterBytes { get; } = new(StringComparer.Ordinal);

    /// <summary>File path → bytes after which every GET of that file stops sending until the server is disposed.</summary>
    public Dictionary<string, int> StallAfterBytes { get; } = new(StringComparer.Ordinal);

    /// <summary>Files served with one byte flipped (headers unchanged).</summary>
    public HashSet<string> Corrupt { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Requests for file content or metadata (resolve and storage URLs), not the model-info API.</summary>
    public IEnumerable<RecordedRequest> FileRequests =>
        Requests.Where(r => r.Host == "storage" || r.Path.Contains("/resolve/", StringComparison.Ordinal));

    public void Add(string path, byte[] content, bool lfs) => Files[path] = new FakeFile(path, content, lfs);

    /// <summary>Serves the bundled tiny model like a hub repository (small text files in git, the rest in LFS).</summary>
    public FakeHubServer WithTinyModel(bool onnx = true)
    {
        foreach (var name in new[] { "config.json", "tokenizer.json", "tokenizer_config.json" })
        {
            Add(name, File.ReadAllBytes(Path.Combine(TestPaths.TinyModel, name)), lfs: false);
        }

        Add("README.md", "# tiny\n"u8.ToArray(), lfs: false);
        foreach (var name in new[] { "sentencepiece.bpe.model", "model.safetensors" })
        {
            Add(name, File.ReadAllBytes(Path.Combine(TestPaths.TinyModel, name)), lfs: true);
        }

        if (onnx)
        {
            Add("model.onnx", File.ReadAllBytes(Path.Combine(TestPaths.TinyModel, "model.onnx")), lfs: true);
            Add("model_int8.onnx", File.ReadAllBytes(Path.Combine(TestPaths.TinyModel, "model_int8.onnx")), lfs: true);
        }

        return this;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        hub.Stop();
        storage.Stop();
        try
        {
            await Task.WhenAll([.. acceptLoops, .. connections]).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
        }

        stop.Dispose();
    }

    private async Task AcceptLoop(TcpListener listener, string host)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            connections.Add(Task.Run(() => Serve(client, host)));
        }
    }

    private async Task Serve(TcpClient client, string host)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var request = await ReadRequest(stream, host);
                if (request is null)
                {
                    return;
                }

                Requests.Enqueue(request);
                await Respond(stream, request);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away (cancellation) or the server is stopping.
            }
        }
    }

    private async Task<RecordedRequest?> ReadRequest(NetworkStream stream, string host)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 64 * 1024)
        {
            if (await stream.ReadAsync(one, stop.Token) == 0)
            {
                return null;
            }

            bytes.Add(one[0]);
            if (bytes.Count >= 4 && bytes[^1] == '\n' && bytes[^2] == '\r' && bytes[^3] == '\n' && bytes[^4] == '\r')
            {
                break;
            }
        }

        var lines = Encoding.ASCII.GetString([.. bytes]).Split("\r\n");
        var parts = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }

        return new RecordedRequest(host, parts[0], parts[1], headers);
    }

    private async Task Respond(NetworkStream stream, RecordedRequest request)
    {
        var path = request.Path.Split('?')[0];
        if (request.Host == "storage")
        {
            var sha = path.StartsWith("/lfs/", StringComparison.Ordinal) ? path["/lfs/".Length..] : string.Empty;
            var lfs = Files.Values.FirstOrDefault(f => f.Lfs && f.Sha256 == sha);
            if (lfs is null)
            {
                await Send(stream, 404, []);
                return;
            }

            await SendContent(stream, request, lfs, [("ETag", $"\"{lfs.Sha256}\"")]);
            return;
        }

        if (RequiredToken is not null && request.Header("authorization") != "Bearer " + RequiredToken)
        {
            await Send(stream, 401, [("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Invalid username or password.")]);
            return;
        }

        var apiPrefix = $"/api/models/{RepoId}/revision/";
        if (request.Method == "GET" && path.StartsWith(apiPrefix, StringComparison.Ordinal))
        {
            var revision = Uri.UnescapeDataString(path[apiPrefix.Length..]);
            if (revision != "main" && revision != Commit)
            {
                await Send(stream, 404, [("X-Error-Code", "RevisionNotFound"), ("X-Error-Message", $"Invalid rev id: {revision}")]);
                return;
            }

            var listing = new
            {
                id = RepoId,
                sha = Commit,
                siblings = Files.Keys.Concat(ExtraListing).Select(name => new { rfilename = name }).ToArray(),
            };
            await Send(stream, 200, [("Content-Type", "application/json")], JsonSerializer.SerializeToUtf8Bytes(listing));
            return;
        }

        var resolvePrefix = $"/{RepoId}/resolve/";
        if (!path.StartsWith(resolvePrefix, StringComparison.Ordinal))
        {
            await Send(stream, 401, [("X-Error-Code", "RepoNotFound")]);
            return;
        }

        var rest = path[resolvePrefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var rev = Uri.UnescapeDataString(rest[..slash]);
        var file = string.Join('/', rest[(slash + 1)..].Split('/').Select(Uri.UnescapeDataString));
        if (rev != "main" && rev != Commit)
        {
            await Send(stream, 404, [("X-Error-Code", "RevisionNotFound")]);
            return;
        }

        if (!Files.TryGetValue(file, out var served))
        {
            await Send(stream, 404, [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", Commit)]);
            return;
        }

        if (served.Lfs)
        {
            await Send(stream, 302,
            [
                ("Location", $"http://127.0.0.1:{StoragePort}/lfs/{served.Sha256}?signature=abc"),
                ("X-Repo-Commit", Commit),
                ("X-Linked-Etag", $"\"{served.Sha256}\""),
                ("X-Linked-Size", served.Content.Length.ToString(CultureInfo.InvariantCulture)),
                ("ETag", $"\"{served.GitSha1}\""),
            ]);
            return;
        }

        await SendContent(stream, request, served, [("X-Repo-Commit", Commit), ("ETag", $"\"{served.GitSha1}\"")]);
    }

    private async Task SendContent(NetworkStream stream, RecordedRequest request, FakeFile file, (string, string)[] headers)
    {
        var content = file.Content;
        if (Corrupt.Contains(file.Path))
        {
            content = (byte[])content.Clone();
            content[content.Length / 2] ^= 0xFF;
        }

        var from = 0L;
        var status = 200;
        var extra = new List<(string, string)>(headers) { ("Accept-Ranges", "bytes") };
        if (request.Header("range") is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            from = long.Parse(range["bytes=".Length..^1], CultureInfo.InvariantCulture);
            if (from >= content.Length)
            {
                await Send(stream, 416, [("Content-Range", $"bytes */{content.Length}")]);
                return;
            }

            status = 206;
            extra.Add(("Content-Range", $"bytes {from}-{content.Length - 1}/{content.Length}"));
        }

        var body = content.AsMemory((int)from);
        if (request.Method == "HEAD")
        {
            await WriteHead(stream, status, extra, body.Length);
            return;
        }

        var count = getCounts.AddOrUpdate(file.Path, 1, (_, n) => n + 1);
        await WriteHead(stream, status, extra, body.Length);
        if (count == 1 && DropAfterBytes.TryGetValue(file.Path, out var drop))
        {
            await stream.WriteAsync(body[..drop], stop.Token);
            await stream.FlushAsync(stop.Token);
            return; // closing the socket mid-body
        }

        if (StallAfterBytes.TryGetValue(file.Path, out var stall))
        {
            await stream.WriteAsync(body[..stall], stop.Token);
            await stream.FlushAsync(stop.Token);
            await Task.Delay(Timeout.Infinite, stop.Token);
        }

        await stream.WriteAsync(body, stop.Token);
    }

    private async Task Send(NetworkStream stream, int status, (string, string)[] headers, byte[]? body = null)
    {
        await WriteHead(stream, status, headers, body?.Length ?? 0);
        if (body is not null)
        {
            await stream.WriteAsync(body, stop.Token);
        }
    }

    private async Task WriteHead(NetworkStream stream, int status, IEnumerable<(string Name, string Value)> headers, long contentLength)
    {
        var head = new StringBuilder().Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {Reason(status)}\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        head.Append(CultureInfo.InvariantCulture, $"Content-Length: {contentLength}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), stop.Token);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    };
}

using System.Net;
using Reranker.Hub;

namespace Reranker.Tests.Hub;

public sealed class HubSnapshotTests : IDisposable
{
    private static readonly string[] CrossEncoderFiles =
        ["config.json", "tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model", "model.onnx"];

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private string Storage(FakeHubServer server) => Path.Combine(temp.Cache, "models--" + server.RepoId.Replace("/", "--", StringComparison.Ordinal));

    private static IEnumerable<RecordedRequest> StorageGets(FakeHubServer server, string file) =>
        server.Requests.Where(r => r.Host == "storage" && r.Method == "GET" && r.Path.Contains(server.Files[file].Sha256, StringComparison.Ordinal));

    [Fact]
    public async Task Download_writes_the_huggingface_hub_cache_layout_with_identical_bytes()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var reports = new List<HubDownloadProgress>();

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server), new InlineProgress<HubDownloadProgress>(reports.Add)));

        var storage = Storage(server);
        Assert.Equal(Path.Combine(storage, "snapshots", server.Commit), info.Path);
        Assert.Equal(server.Commit, info.CommitHash);
        Assert.Equal(server.Commit, File.ReadAllText(Path.Combine(storage, "refs", "main")));
        Assert.Equal(CrossEncoderFiles.Order(), info.Files.Order());
        Assert.Equal(HubWeightsFormat.Onnx, info.WeightsFormat);
        Assert.Equal("model.onnx", info.WeightsFile);
        Assert.False(info.NeedsOnnxExport);

        foreach (var name in CrossEncoderFiles)
        {
            var file = server.Files[name];
            var pointer = Path.Combine(info.Path, name);
            Assert.Equal("../../blobs/" + file.Etag, new FileInfo(pointer).LinkTarget);
            Assert.Equal(file.Content, File.ReadAllBytes(pointer));
            Assert.Equal(file.Content, File.ReadAllBytes(Path.Combine(storage, "blobs", file.Etag)));
            var last = reports.Last(p => p.File == name);
            Assert.Equal(file.Content.Length, last.TotalBytes);
            Assert.Equal(last.TotalBytes, last.BytesDownloaded);
        }

        // LFS blobs are named by SHA-256, git blobs by their git SHA-1; nothing half-written is left behind.
        Assert.Equal(64, server.Files["model.onnx"].Etag.Length);
        Assert.Equal(40, server.Files["config.json"].Etag.Length);
        Assert.Equal(
            CrossEncoderFiles.Select(f => server.Files[f].Etag).Order(),
            Directory.GetFiles(Path.Combine(storage, "blobs")).Select(Path.GetFileName).Order());
        Assert.Equal(CrossEncoderFiles.Order(), Directory.GetFiles(info.Path).Select(Path.GetFileName).Order());

        // Only the needed files were asked for, always by commit hash, and LFS content came from the storage host.
        Assert.DoesNotContain(server.FileRequests, r => r.Path.Contains("safetensors", StringComparison.Ordinal)
            || r.Path.Contains("int8", StringComparison.Ordinal) || r.Path.Contains("README", StringComparison.Ordinal)
            || r.Path.Contains(server.Files["model.safetensors"].Sha256, StringComparison.Ordinal));
        Assert.All(server.FileRequests.Where(r => r.Host == "hub"), r => Assert.Contains($"/resolve/{server.Commit}/", r.Path, StringComparison.Ordinal));
        Assert.Single(StorageGets(server, "model.onnx"));
    }

    [Fact]
    public async Task Second_call_uses_the_cache_and_requests_no_file()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var first = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));
        var requests = server.Requests.Count;
        var fileRequests = server.FileRequests.Count();

        var second = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        Assert.Equal(first.Path, second.Path);
        Assert.Equal(first.Files, second.Files);
        Assert.Equal(fileRequests, server.FileRequests.Count());
        Assert.Equal(requests + 1, server.Requests.Count); // only the model-info call that resolves 'main'
    }

    [Fact]
    public async Task New_commit_on_main_gets_its_own_snapshot_reuses_unchanged_blobs_and_moves_the_ref()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var first = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));
        var oldConfig = server.Files["config.json"];
        server.Commit = "fedcba9876543210fedcba9876543210fedcba98";
        server.Add("config.json", [.. oldConfig.Content, .. "\n"u8.ToArray()], lfs: false);
        var storageGets = server.Requests.Count(r => r.Host == "storage");

        var second = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        var storage = Storage(server);
        Assert.Equal(Path.Combine(storage, "snapshots", server.Commit), second.Path);
        Assert.Equal(server.Commit, File.ReadAllText(Path.Combine(storage, "refs", "main")));
        Assert.Equal(oldConfig.Content, File.ReadAllBytes(Path.Combine(first.Path, "config.json")));
        Assert.Equal(server.Files["config.json"].Content, File.ReadAllBytes(Path.Combine(second.Path, "config.json")));
        Assert.Equal(storageGets, server.Requests.Count(r => r.Host == "storage")); // LFS blobs were already there
        Assert.Equal(
            new FileInfo(Path.Combine(first.Path, "model.onnx")).LinkTarget,
            new FileInfo(Path.Combine(second.Path, "model.onnx")).LinkTarget);
        Assert.Equal(CrossEncoderFiles.Length + 1, Directory.GetFiles(Path.Combine(storage, "blobs")).Length);
    }

    [Fact]
    public async Task Connection_dropped_mid_file_is_resumed_with_a_range_request()
    {
        const int dropAfter = 1_000_003;
        await using var server = new FakeHubServer().WithTinyModel();
        server.DropAfterBytes["model.onnx"] = dropAfter;

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        Assert.Equal(server.Files["model.onnx"].Content, File.ReadAllBytes(Path.Combine(info.Path, "model.onnx")));
        var gets = StorageGets(server, "model.onnx").ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Header("range"));
        var range = gets[1].Header("range");
        Assert.NotNull(range);
        Assert.Matches(@"^bytes=\d+-$", range);
        var resumedAt = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(resumedAt, 1, dropAfter);
        Assert.False(File.Exists(Path.Combine(Storage(server), "blobs", server.Files["model.onnx"].Etag + ".incomplete")));
    }

    [Fact]
    public async Task Partial_file_left_by_an_earlier_run_is_resumed()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var onnx = server.Files["model.onnx"];
        var blobs = Directory.CreateDirectory(Path.Combine(Storage(server), "blobs")).FullName;
        File.WriteAllBytes(Path.Combine(blobs, onnx.Etag + ".incomplete"), onnx.Content[..100_000]);

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        Assert.Equal(onnx.Content, File.ReadAllBytes(Path.Combine(info.Path, "model.onnx")));
        var get = Assert.Single(StorageGets(server, "model.onnx"));
        Assert.Equal("bytes=100000-", get.Header("range"));
    }

    [Fact]
    public async Task Foreign_partial_file_fails_its_hash_and_is_downloaded_again_from_zero()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var onnx = server.Files["model.onnx"];
        var blobs = Directory.CreateDirectory(Path.Combine(Storage(server), "blobs")).FullName;
        File.WriteAllBytes(Path.Combine(blobs, onnx.Etag + ".incomplete"), new byte[100_000]);

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        Assert.Equal(onnx.Content, File.ReadAllBytes(Path.Combine(info.Path, "model.onnx")));
        var gets = StorageGets(server, "model.onnx").ToList();
        Assert.Equal(2, gets.Count);
        Assert.Equal("bytes=100000-", gets[0].Header("range"));
        Assert.Null(gets[1].Header("range"));
    }

    [Fact]
    public async Task Corrupted_lfs_file_fails_the_sha256_check_and_leaves_no_snapshot_or_blob()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        server.Corrupt.Add("model.onnx");

        var error = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server))));

        Assert.Equal(HubErrorKind.IntegrityCheckFailed, error.Kind);
        Assert.Contains("SHA-256", error.Message, StringComparison.Ordinal);
        Assert.Contains("model.onnx", error.Message, StringComparison.Ordinal);
        var storage = Storage(server);
        var blob = Path.Combine(storage, "blobs", server.Files["model.onnx"].Etag);
        Assert.False(File.Exists(blob));
        Assert.False(File.Exists(blob + ".incomplete"));
        Assert.False(Directory.Exists(Path.Combine(storage, "snapshots")));
        Assert.False(File.Exists(Path.Combine(storage, "refs", "main")));
    }

    [Fact]
    public async Task Private_repository_needs_a_token_which_never_reaches_the_storage_host()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        server.RequiredToken = "hf_secret";

        var missing = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server))));
        Assert.Equal(HubErrorKind.Unauthorized, missing.Kind);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("token", missing.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("HF_TOKEN", missing.Message, StringComparison.Ordinal);

        var wrong = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(
            HubSnapshot.DownloadAsync(server.RepoId, new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), Token = "hf_wrong" })));
        Assert.Equal(HubErrorKind.Unauthorized, wrong.Kind);
        Assert.Contains("token that was sent", wrong.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Storage(server), "snapshots")));

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(
            server.RepoId, new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), Token = "hf_secret" }));

        Assert.Equal(server.Files["model.onnx"].Content, File.ReadAllBytes(Path.Combine(info.Path, "model.onnx")));
        Assert.Contains(server.Requests, r => r.Host == "storage");
        Assert.All(server.Requests.Where(r => r.Host == "storage"), r => Assert.Null(r.Header("authorization")));
    }

    [Fact]
    public async Task Token_endpoint_and_cache_come_from_HF_environment_variables()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        server.RequiredToken = "hf_from_env";
        var cache = Path.Combine(temp.Root, "env-cache");
        var options = new HubDownloadOptions
        {
            Environment = temp.Environment(("HF_ENDPOINT", server.Endpoint + "/"), ("HF_TOKEN", "hf_from_env"), ("HF_HUB_CACHE", cache)),
        };

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, options));

        Assert.Equal(Path.Combine(cache, "models--org--tiny-reranker", "snapshots", server.Commit), info.Path);
        Assert.All(server.Requests.Where(r => r.Host == "hub"), r => Assert.Equal("Bearer hf_from_env", r.Header("authorization")));
    }

    [Theory]
    [InlineData("../escape.json")]
    [InlineData("sub/../../escape.json")]
    [InlineData("/tmp/escape.json")]
    [InlineData(@"..\escape.json")]
    [InlineData("C:/escape.json")]
    [InlineData("./escape.json")]
    public async Task File_name_escaping_the_cache_is_refused_before_anything_is_downloaded(string name)
    {
        await using var server = new FakeHubServer().WithTinyModel();
        server.ExtraListing.Add(name);
        var options = new HubDownloadOptions
        {
            Endpoint = server.Endpoint,
            CacheDirectory = temp.Cache,
            Environment = temp.Environment(),
            AllowPatterns = ["*.json", "*.onnx"],
        };

        var error = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, options)));

        Assert.Equal(HubErrorKind.UnsafePath, error.Kind);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Empty(server.FileRequests);
        Assert.False(Directory.Exists(Path.Combine(Storage(server), "blobs")));
        Assert.Empty(Directory.GetFiles(temp.Root, "escape.json", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Unsafe_onnx_file_option_is_refused()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var options = new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), OnnxFile = "../model.onnx" };

        var error = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, options)));

        Assert.Equal(HubErrorKind.UnsafePath, error.Kind);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Offline_mode_returns_the_cached_snapshot_without_any_request()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var online = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));
        var requests = server.Requests.Count;

        var offline = await Bounded.Run(HubSnapshot.DownloadAsync(
            server.RepoId, new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), Offline = true }));
        var fromEnvironment = await Bounded.Run(HubSnapshot.DownloadAsync(
            server.RepoId, new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(("HF_HUB_OFFLINE", "1")) }));
        var byCommit = await Bounded.Run(HubSnapshot.DownloadAsync(
            server.RepoId, new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), Offline = true, Revision = server.Commit }));

        Assert.Equal(requests, server.Requests.Count);
        foreach (var info in new[] { offline, fromEnvironment, byCommit })
        {
            Assert.Equal(online.Path, info.Path);
            Assert.Equal(online.CommitHash, info.CommitHash);
            Assert.Equal(online.Files.Order(), info.Files.Order());
            Assert.Equal(HubWeightsFormat.Onnx, info.WeightsFormat);
            Assert.Equal("model.onnx", info.WeightsFile);
        }
    }

    [Fact]
    public async Task Offline_mode_without_a_cached_snapshot_fails_clearly()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));
        var requests = server.Requests.Count;

        var never = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(
            "org/never-downloaded", new HubDownloadOptions { CacheDirectory = temp.Cache, Environment = temp.Environment(("HF_HUB_OFFLINE", "true")) })));
        var otherRevision = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(
            server.RepoId, new HubDownloadOptions { CacheDirectory = temp.Cache, Environment = temp.Environment(), Offline = true, Revision = "v2" })));

        Assert.Equal(HubErrorKind.NotCached, never.Kind);
        Assert.Contains("not cached", never.Message, StringComparison.Ordinal);
        Assert.Contains("Offline", never.Message, StringComparison.Ordinal);
        Assert.Contains("org/never-downloaded", never.Message, StringComparison.Ordinal);
        Assert.Equal(HubErrorKind.NotCached, otherRevision.Kind);
        Assert.Contains("'v2'", otherRevision.Message, StringComparison.Ordinal);
        Assert.Equal(requests, server.Requests.Count);
    }

    [Fact]
    public async Task Unreachable_hub_falls_back_to_the_cache_or_fails_clearly()
    {
        await using (var server = new FakeHubServer().WithTinyModel())
        {
            await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));
        }

        var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var deadEndpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)closed.LocalEndpoint).Port}");
        closed.Stop();

        var cached = await Bounded.Run(HubSnapshot.DownloadAsync(
            "org/tiny-reranker", new HubDownloadOptions { Endpoint = deadEndpoint, CacheDirectory = temp.Cache, Environment = temp.Environment() }));
        var error = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(
            "org/other", new HubDownloadOptions { Endpoint = deadEndpoint, CacheDirectory = temp.Cache, Environment = temp.Environment() })));

        Assert.Equal(HubWeightsFormat.Onnx, cached.WeightsFormat);
        Assert.Equal(HubErrorKind.Unreachable, error.Kind);
        Assert.Contains("is cached", error.Message, StringComparison.Ordinal);
        // Two sentences, not one run together: the transport error ends with a full stop before the cache sentence.
        Assert.Contains($"Could not reach {deadEndpoint.GetLeftPart(UriPartial.Authority)}", error.Message, StringComparison.Ordinal);
        Assert.Matches(@"\. No snapshot of 'org/other' at revision 'main' is cached in '[^']+' to fall back on\. Check the network", error.Message);
    }

    [Fact]
    public async Task Cancellation_stops_the_download_keeps_the_partial_file_and_the_next_call_resumes()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        server.StallAfterBytes["model.onnx"] = 2_000_000;
        using var cancel = new CancellationTokenSource();
        var progress = new InlineProgress<HubDownloadProgress>(p =>
        {
            if (p.File == "model.onnx" && p.BytesDownloaded > 0)
            {
                cancel.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server), progress, cancel.Token)));

        var storage = Storage(server);
        var blob = Path.Combine(storage, "blobs", server.Files["model.onnx"].Etag);
        Assert.False(Directory.Exists(Path.Combine(storage, "snapshots")));
        Assert.False(File.Exists(blob));
        Assert.True(File.Exists(blob + ".incomplete"));

        server.StallAfterBytes.Clear();
        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        Assert.Equal(server.Files["model.onnx"].Content, File.ReadAllBytes(Path.Combine(info.Path, "model.onnx")));
        Assert.NotNull(StorageGets(server, "model.onnx").Last().Header("range"));
    }

    [Fact]
    public async Task Repository_without_onnx_gets_safetensors_and_says_it_needs_export()
    {
        await using var server = new FakeHubServer().WithTinyModel(onnx: false);

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        Assert.Equal(HubWeightsFormat.Safetensors, info.WeightsFormat);
        Assert.True(info.NeedsOnnxExport);
        Assert.Equal("model.safetensors", info.WeightsFile);
        Assert.Contains("model.safetensors", info.Files);
        Assert.Equal(server.Files["model.safetensors"].Content, File.ReadAllBytes(Path.Combine(info.Path, "model.safetensors")));
    }

    [Fact]
    public async Task Onnx_model_in_a_subfolder_comes_with_its_external_data_and_a_deeper_link()
    {
        await using var server = new FakeHubServer().WithTinyModel(onnx: false);
        server.Add("onnx/model.onnx", File.ReadAllBytes(Path.Combine(TestPaths.TinyModel, "model.onnx")), lfs: true);
        server.Add("onnx/model.onnx_data", [1, 2, 3, 4, 5], lfs: true);

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, temp.Options(server)));

        Assert.Equal("onnx/model.onnx", info.WeightsFile);
        Assert.Contains("onnx/model.onnx_data", info.Files);
        Assert.DoesNotContain("model.safetensors", info.Files);
        var pointer = Path.Combine(info.Path, "onnx", "model.onnx");
        Assert.Equal("../../../blobs/" + server.Files["onnx/model.onnx"].Etag, new FileInfo(pointer).LinkTarget);
        Assert.Equal(server.Files["onnx/model.onnx"].Content, File.ReadAllBytes(pointer));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, File.ReadAllBytes(Path.Combine(info.Path, "onnx", "model.onnx_data")));
    }

    [Fact]
    public async Task Named_onnx_file_is_used_instead_of_model_onnx()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var options = new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), OnnxFile = "model_int8.onnx" };

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, options));

        Assert.Equal("model_int8.onnx", info.WeightsFile);
        Assert.DoesNotContain("model.onnx", info.Files);
        Assert.Empty(StorageGets(server, "model.onnx"));
    }

    [Fact]
    public async Task Missing_revision_and_missing_named_file_say_not_found()
    {
        await using var server = new FakeHubServer().WithTinyModel();

        var revision = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(
            server.RepoId, new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), Revision = "no-such-branch" })));
        var file = await Assert.ThrowsAsync<HubException>(() => Bounded.Run(HubSnapshot.DownloadAsync(
            server.RepoId, new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), OnnxFile = "onnx/missing.onnx" })));

        Assert.Equal(HubErrorKind.NotFound, revision.Kind);
        Assert.Equal(HttpStatusCode.NotFound, revision.StatusCode);
        Assert.Contains("Revision 'no-such-branch' not found", revision.Message, StringComparison.Ordinal);
        Assert.Equal(HubErrorKind.NotFound, file.Kind);
        Assert.Contains("'onnx/missing.onnx'", file.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_symlinks_the_snapshot_holds_copies()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var options = new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), DisableSymlinks = true };

        var info = await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, options));

        foreach (var name in CrossEncoderFiles)
        {
            var pointer = Path.Combine(info.Path, name);
            Assert.Null(new FileInfo(pointer).LinkTarget);
            Assert.Equal(server.Files[name].Content, File.ReadAllBytes(pointer));
        }
    }

    [Fact]
    public async Task Injected_handler_carries_all_traffic()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        using var handler = new CountingHandler(new SocketsHttpHandler { AllowAutoRedirect = false });
        var options = new HubDownloadOptions { Endpoint = server.Endpoint, CacheDirectory = temp.Cache, Environment = temp.Environment(), HttpMessageHandler = handler };

        await Bounded.Run(HubSnapshot.DownloadAsync(server.RepoId, options));

        Assert.Equal(server.Requests.Count, handler.Count);
    }

    private sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int count;

        public int Count => count;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref count);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

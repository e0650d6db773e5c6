namespace Reranker.Hub;

/// <summary>
/// Downloads a model snapshot from the Hugging Face hub into the cache layout that Python's <c>huggingface_hub</c>
/// uses (<c>models--{org}--{name}/blobs</c>, <c>snapshots/{commit}</c>, <c>refs/{revision}</c>), so both share one cache.
/// </summary>
public static class HubSnapshot
{
    /// <summary>
    /// Downloads the files a cross-encoder needs (or those chosen by <see cref="HubDownloadOptions.AllowPatterns"/>)
    /// unless they are already cached, and returns the snapshot folder.
    /// </summary>
    /// <param name="repoId">The repository, for example <c>dragonkue/bge-reranker-v2-m3-ko</c>.</param>
    /// <param name="options">Revision, file choice, cache folder, endpoint, token, offline mode; all optional.</param>
    /// <param name="progress">Receives per-file progress while bytes are transferred.</param>
    /// <param name="cancellationToken">Stops the download; a partial file is kept and resumed by the next call.</param>
    /// <returns>The snapshot folder, the commit, the files and which weights they hold.</returns>
    /// <exception cref="HubException">The repository, revision or a file is missing or not accessible, a file failed its
    /// size or SHA-256 check, a file name is unsafe, or (offline) the snapshot is not cached.</exception>
    /// <exception cref="ArgumentException"><paramref name="repoId"/> or the revision is malformed.</exception>
    public static async Task<HubSnapshotInfo> DownloadAsync(
        string repoId,
        HubDownloadOptions? options = null,
        IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new HubDownloadOptions();
        HubPaths.ValidateRepoId(repoId);
        var revision = options.Revision;
        HubPaths.ValidateRevision(revision);
        if (options.OnnxFile is { } onnxFile)
        {
            HubPaths.ValidateFileName(onnxFile, repoId);
        }

        var environment = options.Environment is { } read ? new HubEnvironment(read) : HubEnvironment.Process;
        var cache = Path.GetFullPath(options.CacheDirectory ?? environment.CacheDirectory());
        var storage = Path.Combine(cache, HubPaths.RepoFolderName(repoId));

        if (options.Offline ?? environment.Offline())
        {
            return FromCache(storage, repoId, revision, options)
                ?? throw new HubException(
                    HubErrorKind.NotCached,
                    $"Offline mode is on (HF_HUB_OFFLINE or HubDownloadOptions.Offline) and '{repoId}' at revision '{revision}' is not cached in '{cache}'. Download it once while online, or turn offline mode off.");
        }

        var endpoint = options.Endpoint?.ToString() ?? environment.Endpoint();
        using var http = new HubHttp(endpoint, options.Token ?? environment.Token(), options.HttpMessageHandler, requestTimeout: TimeSpan.FromSeconds(30));

        HubListing listing;
        try
        {
            listing = await http.GetListingAsync(repoId, revision, cancellationToken).ConfigureAwait(false);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.Unreachable)
        {
            // Like huggingface_hub: when the hub cannot be reached, a snapshot already cached for the revision will do.
            return FromCache(storage, repoId, revision, options)
                ?? throw new HubException(
                    HubErrorKind.Unreachable,
                    $"{Sentence(e.Message)} No snapshot of '{repoId}' at revision '{revision}' is cached in '{cache}' to fall back on. " +
                    "Check the network (or HF_ENDPOINT), or download the model once while the hub can be reached.",
                    e.StatusCode,
                    e);
        }

        var selection = HubFileSelector.Select(listing.Files, options, repoId, revision);
        if (options.AllowPatterns is null && selection.WeightsFormat == HubWeightsFormat.None)
        {
            throw new HubException(
                HubErrorKind.NotFound,
                $"Repository '{repoId}' at revision '{revision}' has neither an ONNX model (model.onnx, onnx/model.onnx) nor model.safetensors.");
        }

        var snapshot = Path.Combine(storage, "snapshots", listing.CommitHash);
        var missing = selection.Files.Where(f => !HubPaths.IsUsableFile(HubPaths.Under(snapshot, f))).ToList();
        if (missing.Count > 0)
        {
            await DownloadMissingAsync(http, options, progress, repoId, listing.CommitHash, storage, snapshot, missing, cancellationToken).ConfigureAwait(false);
        }

        if (revision != listing.CommitHash)
        {
            HubPaths.WriteRef(storage, revision, listing.CommitHash);
        }

        return new HubSnapshotInfo(snapshot, repoId, listing.CommitHash, selection.Files, selection.WeightsFormat, selection.WeightsFile);
    }

    /// <summary>
    /// Fetches every missing blob first and links the snapshot only once all of them are whole, so a failed or
    /// cancelled download never leaves a half-populated snapshot behind.
    /// </summary>
    private static async Task DownloadMissingAsync(
        HubHttp http, HubDownloadOptions options, IProgress<HubDownloadProgress>? progress, string repoId, string commit,
        string storage, string snapshot, IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        var downloader = new BlobDownloader(http, options, progress);
        var locks = Path.Combine(Path.GetDirectoryName(storage)!, ".locks", Path.GetFileName(storage));
        var blobs = new List<(string File, string Blob)>();
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            var metadata = await http.GetMetadataAsync(repoId, commit, file, cancellationToken).ConfigureAwait(false);
            if (metadata.CommitHash != commit)
            {
                throw new HubException(
                    HubErrorKind.InvalidResponse,
                    $"Asked for '{file}' at commit {commit} but the hub answered for commit {metadata.CommitHash}.");
            }

            var blob = Path.Combine(storage, "blobs", metadata.Etag);
            var lockPath = Path.Combine(locks, metadata.Etag + ".lock");
            await downloader.EnsureAsync(repoId, commit, file, metadata, blob, lockPath, i, files.Count, cancellationToken).ConfigureAwait(false);
            blobs.Add((file, blob));
        }

        foreach (var (file, blob) in blobs)
        {
            HubPaths.LinkPointer(blob, HubPaths.Under(snapshot, file), options.DisableSymlinks);
        }
    }

    /// <summary>The cached snapshot for the revision (via <c>refs/</c> unless it is a commit hash), or <see langword="null"/>.</summary>
    private static HubSnapshotInfo? FromCache(string storage, string repoId, string revision, HubDownloadOptions options)
    {
        var commit = HubPaths.CachedCommit(storage, revision);
        if (commit is null)
        {
            return null;
        }

        var snapshot = Path.Combine(storage, "snapshots", commit);
        if (!Directory.Exists(snapshot))
        {
            return null;
        }

        var cached = Directory.EnumerateFiles(snapshot, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Where(HubPaths.IsUsableFile)
            .Select(f => Path.GetRelativePath(snapshot, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => !f.EndsWith(".incomplete", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

        HubSelection selection;
        try
        {
            selection = HubFileSelector.Select(cached, options, repoId, revision);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.NotFound)
        {
            return null;
        }

        if (selection.Files.Count == 0 || (options.AllowPatterns is null && selection.WeightsFormat == HubWeightsFormat.None))
        {
            return null;
        }

        return new HubSnapshotInfo(snapshot, repoId, commit, selection.Files, selection.WeightsFormat, selection.WeightsFile);
    }

    /// <summary>The message as a sentence of its own: ends with a full stop, so the next sentence does not run into it.</summary>
    private static string Sentence(string message)
    {
        var trimmed = message.TrimEnd();
        return trimmed.Length == 0 || trimmed[^1] is '.' or '!' or '?' ? trimmed : trimmed + ".";
    }
}

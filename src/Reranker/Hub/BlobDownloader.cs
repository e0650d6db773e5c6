using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace Reranker.Hub;

/// <summary>
/// Downloads one blob into <c>blobs/{etag}.incomplete</c>, resuming with <c>Range</c> after a broken transfer or an
/// earlier interrupted run, checks its size and (for LFS files, whose ETag is a SHA-256) its hash, and only then
/// renames it to <c>blobs/{etag}</c>.
/// </summary>
internal sealed class BlobDownloader(HubHttp http, HubDownloadOptions options, IProgress<HubDownloadProgress>? progress)
{
    private const int BufferSize = 1 << 17;
    private const long ReportEvery = 1 << 20;
    private const int SharingViolation = 32;
    private const int LockViolation = 33;

    /// <summary>Makes sure <paramref name="blobPath"/> holds the file, downloading it when needed.</summary>
    public async Task EnsureAsync(
        string repoId, string revision, string file, HubFileMetadata metadata, string blobPath, string lockPath,
        int fileIndex, int fileCount, CancellationToken cancellationToken)
    {
        if (IsCompleteBlob(blobPath, metadata.Size))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(blobPath)!);
        using var fileLock = await AcquireLockAsync(lockPath, cancellationToken).ConfigureAwait(false);
        if (IsCompleteBlob(blobPath, metadata.Size))
        {
            return;
        }

        var incomplete = blobPath + ".incomplete";
        var resumedFromDisk = File.Exists(incomplete) && new FileInfo(incomplete).Length > 0;
        bool verified;
        try
        {
            verified = await DownloadAsync(repoId, revision, file, metadata, incomplete, fileIndex, fileCount, cancellationToken).ConfigureAwait(false);
            if (!verified && resumedFromDisk)
            {
                // The partial file left by an earlier run did not belong to this content: start over once from zero.
                File.Delete(incomplete);
                verified = await DownloadAsync(repoId, revision, file, metadata, incomplete, fileIndex, fileCount, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (HubException e) when (e.Kind == HubErrorKind.IntegrityCheckFailed)
        {
            File.Delete(incomplete);
            throw;
        }

        if (!verified)
        {
            File.Delete(incomplete);
            throw new HubException(
                HubErrorKind.IntegrityCheckFailed,
                $"'{file}' of '{repoId}' failed its SHA-256 check (expected {metadata.Etag}); the partial download was deleted. Retry, and if this persists, the file on the server or a proxy in between is corrupted.");
        }

        File.Move(incomplete, blobPath, overwrite: true);
    }

    private static bool IsCompleteBlob(string blobPath, long size) => File.Exists(blobPath) && new FileInfo(blobPath).Length == size;

    /// <summary>Fills the incomplete file; returns whether its SHA-256 matched (always true for non-LFS files).</summary>
    private async Task<bool> DownloadAsync(
        string repoId, string revision, string file, HubFileMetadata metadata, string incomplete,
        int fileIndex, int fileCount, CancellationToken cancellationToken)
    {
        var expectedSize = metadata.Size;
        var sha256 = HubPaths.IsSha256(metadata.Etag) ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        try
        {
            await using var stream = new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, BufferSize, useAsync: true);
            long done = stream.Length;
            if (done > expectedSize)
            {
                stream.SetLength(0);
                done = 0;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                if (sha256 is not null && done > 0)
                {
                    await HashExistingAsync(stream, done, sha256, buffer, cancellationToken).ConfigureAwait(false);
                }

                stream.Position = done;
                var clock = Stopwatch.StartNew();
                long transferred = 0;
                Report(file, fileIndex, fileCount, done, expectedSize, 0, clock);
                var failures = 0;
                while (done < expectedSize)
                {
                    var before = done;
                    try
                    {
                        (done, transferred) = await TransferAsync(
                            repoId, revision, file, metadata, stream, done, sha256, buffer, transferred,
                            fileIndex, fileCount, clock, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (IsTransient(e, cancellationToken))
                    {
                        done = stream.Position;
                        failures = done > before ? 1 : failures + 1;
                        if (failures > options.MaxRetries)
                        {
                            throw new HubException(
                                HubErrorKind.Unreachable,
                                $"Downloading '{file}' of '{repoId}' kept failing at {done} of {expectedSize} bytes ({e.Message}). The partial file is kept; run again to resume.",
                                innerException: e);
                        }

                        await Task.Delay(options.RetryDelay, cancellationToken).ConfigureAwait(false);
                    }
                }

                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                Report(file, fileIndex, fileCount, done, expectedSize, transferred, clock);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (sha256 is null)
            {
                return true;
            }

            return Convert.ToHexStringLower(sha256.GetHashAndReset()) == metadata.Etag;
        }
        finally
        {
            sha256?.Dispose();
        }
    }

    /// <summary>One GET from <paramref name="done"/> onward; returns the new position and the bytes moved by this call.</summary>
    private async Task<(long Done, long Transferred)> TransferAsync(
        string repoId, string revision, string file, HubFileMetadata metadata, FileStream stream, long done,
        IncrementalHash? sha256, byte[] buffer, long transferred, int fileIndex, int fileCount, Stopwatch clock,
        CancellationToken cancellationToken)
    {
        using var response = await http.OpenDownloadAsync(metadata.DownloadUrl, done, repoId, revision, file, cancellationToken).ConfigureAwait(false);
        if (done > 0 && response.StatusCode != HttpStatusCode.PartialContent)
        {
            // The server ignored the Range (200) or refused it (416): start again from the first byte.
            stream.SetLength(0);
            stream.Position = 0;
            done = 0;
            if (sha256 is not null)
            {
                sha256.GetHashAndReset();
            }

            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new IOException($"The server answered HTTP {(int)response.StatusCode} to a Range request; retrying from the start.");
            }
        }
        else if (response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From != done)
        {
            throw new HubException(
                HubErrorKind.InvalidResponse,
                $"Asked for '{file}' from byte {done} but the server sent the range '{response.Content.Headers.ContentRange}'.",
                response.StatusCode);
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var readTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long sinceReport = 0;
        while (true)
        {
            readTimeout.CancelAfter(options.ReadTimeout);
            var read = await body.ReadAsync(buffer.AsMemory(0, BufferSize), readTimeout.Token).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            if (done + read > metadata.Size)
            {
                throw new HubException(
                    HubErrorKind.IntegrityCheckFailed,
                    $"The server sent more than the {metadata.Size} bytes announced for '{file}' of '{repoId}'.");
            }

            await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            sha256?.AppendData(buffer, 0, read);
            done += read;
            transferred += read;
            sinceReport += read;
            if (sinceReport >= ReportEvery)
            {
                sinceReport = 0;
                Report(file, fileIndex, fileCount, done, metadata.Size, transferred, clock);
            }
        }

        if (done < metadata.Size)
        {
            throw new IOException($"The connection closed after {done} of {metadata.Size} bytes.");
        }

        return (done, transferred);
    }

    private static async Task HashExistingAsync(FileStream stream, long length, IncrementalHash sha256, byte[] buffer, CancellationToken cancellationToken)
    {
        stream.Position = 0;
        var left = length;
        while (left > 0)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The partial download shrank while it was being read.");
            }

            sha256.AppendData(buffer, 0, read);
            left -= read;
        }
    }

    private void Report(string file, int fileIndex, int fileCount, long done, long total, long transferred, Stopwatch clock)
    {
        var seconds = clock.Elapsed.TotalSeconds;
        progress?.Report(new HubDownloadProgress(file, fileIndex, fileCount, done, total, seconds > 0 ? transferred / seconds : 0));
    }

    /// <summary>A broken connection or a stalled read (not the caller's cancellation) is worth resuming.</summary>
    private static bool IsTransient(Exception e, CancellationToken cancellationToken) => e switch
    {
        _ when cancellationToken.IsCancellationRequested => false,
        HubException hub => hub.Kind == HubErrorKind.Unreachable,
        IOException => true,
        HttpRequestException => true,
        OperationCanceledException => true,
        _ => false,
    };

    /// <summary>
    /// Takes <c>.locks/models--{org}--{name}/{etag}.lock</c>, as huggingface_hub does, so that two processes (Python
    /// included: both use an exclusive <c>flock</c> on Unix) do not download the same blob at once.
    /// </summary>
    private static async Task<FileStream> AcquireLockAsync(string lockPath, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when ((e.HResult & 0xFFFF) is SharingViolation or LockViolation)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

using System.Text.RegularExpressions;

namespace Reranker.Hub;

/// <summary>The huggingface_hub cache layout, and the checks that keep every path inside it.</summary>
internal static partial class HubPaths
{
    /// <summary><c>models--{org}--{name}</c>: the repository folder under the cache root.</summary>
    public static string RepoFolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>True for a full lowercase 40-hex commit hash.</summary>
    public static bool IsCommitHash(string value) => CommitHashRegex().IsMatch(value);

    /// <summary>True for a 64-hex ETag, which the hub gives LFS files: the SHA-256 of the content.</summary>
    public static bool IsSha256(string etag) => Sha256Regex().IsMatch(etag);

    /// <summary>Checks a repository id the way the hub does (<c>name</c> or <c>org/name</c>).</summary>
    public static void ValidateRepoId(string repoId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repoId);
        if (repoId.Length > 96 || !RepoIdRegex().IsMatch(repoId)
            || repoId.Contains("--", StringComparison.Ordinal) || repoId.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"'{repoId}' is not a valid repository id: expected 'name' or 'org/name' made of letters, digits, '-', '_' and '.', without '--' or '..'.",
                nameof(repoId));
        }
    }

    /// <summary>Checks a revision, which becomes a path under <c>refs/</c> (branches such as <c>refs/pr/1</c> nest).</summary>
    public static void ValidateRevision(string revision)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(revision);
        if (!IsSafeRelativePath(revision))
        {
            throw new ArgumentException(
                $"'{revision}' is not a valid revision: it must be a branch, tag or commit hash without '..', '\\' or a leading '/'.",
                nameof(revision));
        }
    }

    /// <summary>Refuses a repository file name that could leave the snapshot folder.</summary>
    public static void ValidateFileName(string file, string repoId)
    {
        if (!IsSafeRelativePath(file))
        {
            throw new HubException(
                HubErrorKind.UnsafePath,
                $"Refusing to download '{file}' from '{repoId}': a repository file name must be a relative '/'-separated path without '..', '.', empty segments, '\\', ':' or control characters, so that it stays inside the cache folder.");
        }
    }

    /// <summary>The local path of a repository path under <paramref name="root"/>, refusing anything that escapes it.</summary>
    public static string Under(string root, string relative)
    {
        var full = Path.GetFullPath(Path.Combine(root, Path.Combine(relative.Split('/'))));
        var rootFull = Path.GetFullPath(root);
        if (!rootFull.EndsWith(Path.DirectorySeparatorChar))
        {
            rootFull += Path.DirectorySeparatorChar;
        }

        if (!full.StartsWith(rootFull, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
        {
            throw new HubException(HubErrorKind.UnsafePath, $"'{relative}' resolves outside '{root}'.");
        }

        return full;
    }

    /// <summary>True when <paramref name="path"/> is a file, or a link whose final target is a file.</summary>
    public static bool IsUsableFile(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is null)
            {
                return info.Exists;
            }

            return info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true } target && target is FileInfo;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Makes <paramref name="pointer"/> a relative symlink to <paramref name="blob"/> (<c>../../blobs/{etag}</c>), as
    /// huggingface_hub does, or a copy of the blob where symlinks cannot be created.
    /// </summary>
    public static void LinkPointer(string blob, string pointer, bool disableSymlinks)
    {
        var folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        if (File.Exists(pointer) || new FileInfo(pointer).LinkTarget is not null)
        {
            File.Delete(pointer);
        }

        if (!disableSymlinks)
        {
            try
            {
                File.CreateSymbolicLink(pointer, Path.GetRelativePath(folder, blob));
                return;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            catch (PlatformNotSupportedException)
            {
            }
        }

        var temporary = pointer + ".copy" + System.Environment.ProcessId + ".incomplete";
        File.Copy(blob, temporary, overwrite: true);
        File.Move(temporary, pointer, overwrite: true);
    }

    /// <summary>Writes <c>refs/{revision}</c> with the commit hash (no newline, as huggingface_hub writes it).</summary>
    public static void WriteRef(string storage, string revision, string commit)
    {
        var path = Under(Path.Combine(storage, "refs"), revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + System.Environment.ProcessId + ".incomplete";
        File.WriteAllText(temporary, commit);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The commit a revision points at in the cache: the revision itself for a commit hash, else <c>refs/</c>.</summary>
    public static string? CachedCommit(string storage, string revision)
    {
        if (IsCommitHash(revision))
        {
            return revision;
        }

        var path = Under(Path.Combine(storage, "refs"), revision);
        if (!File.Exists(path))
        {
            return null;
        }

        var commit = File.ReadAllText(path).Trim();
        return IsCommitHash(commit) ? commit : null;
    }

    private static bool IsSafeRelativePath(string path)
    {
        if (path.Length == 0 || path[0] == '/' || path.Contains('\\', StringComparison.Ordinal) || path.Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in path)
        {
            if (char.IsControl(c))
            {
                return false;
            }
        }

        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == "..")
            {
                return false;
            }
        }

        return true;
    }

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHashRegex();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Regex();

    [GeneratedRegex(@"^(?:[A-Za-z0-9_.\-]+/)?[A-Za-z0-9_.\-]+$")]
    private static partial Regex RepoIdRegex();
}

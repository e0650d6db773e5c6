using System.Text.RegularExpressions;

namespace Reranker.Server;

/// <summary>Where the model comes from: a local model directory or a Hugging Face model id.</summary>
/// <param name="Value">The full path of the directory, or the model id.</param>
/// <param name="IsDirectory">Whether <paramref name="Value"/> is a directory.</param>
/// <param name="Revision">The hub revision of a model id; <see langword="null"/> for the default.</param>
internal sealed partial record ModelSource(string Value, bool IsDirectory, string? Revision)
{
    /// <summary>The name the service reports: the model id, or the directory's name.</summary>
    public string DefaultName => IsDirectory ? new DirectoryInfo(Value).Name : Value;

    /// <summary>
    /// Reads <c>--model</c>: an existing directory is a directory; something path-like (absolute, starting with
    /// <c>.</c> or <c>~</c>, or an existing file) that is not a directory is an error; otherwise a name of the form
    /// <c>name</c> or <c>org/name</c> is a hub id.
    /// </summary>
    /// <exception cref="ServerStartupException">The setting is neither a directory nor a hub id.</exception>
    public static ModelSource Resolve(string? model, string? revision)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            var bundled = FindBundledModel() ?? throw new ServerStartupException(
                "no model given: pass --model with a model directory or a Hugging Face model id, e.g. --model dragonkue/bge-reranker-v2-m3-ko.",
                ServerStartupException.ExitUsage);
            return Directory(bundled, revision);
        }

        model = model.Trim();
        if (System.IO.Directory.Exists(model))
        {
            return Directory(Path.GetFullPath(model), revision);
        }

        if (File.Exists(model))
        {
            throw new ServerStartupException(
                $"'{model}' is a file; --model takes the model's directory (the folder with model.onnx, config.json and tokenizer.json) or a hub id.");
        }

        if (Path.IsPathRooted(model) || model.StartsWith('.') || model.StartsWith('~') || model.Contains('\\', StringComparison.Ordinal) || !HubId().IsMatch(model))
        {
            throw new ServerStartupException(
                $"model directory '{Path.GetFullPath(model)}' does not exist; pass an existing directory (export one with 'reranker export') or a hub id such as org/name.");
        }

        if (revision is not null && string.IsNullOrWhiteSpace(revision))
        {
            throw new ServerStartupException("--revision is empty; give a branch, tag or commit, or leave it out for main.", ServerStartupException.ExitUsage);
        }

        return new ModelSource(model, IsDirectory: false, revision);
    }

    private static ModelSource Directory(string path, string? revision) => revision is null
        ? new ModelSource(path, IsDirectory: true, null)
        : throw new ServerStartupException(
            $"--revision applies to a hub model id, but '{path}' is a local directory; leave out --revision.", ServerStartupException.ExitUsage);

    /// <summary>The bundled tiny model, found from the program's folder or the working directory up to the repository root.</summary>
    private static string? FindBundledModel()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, System.IO.Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "models", "tiny-xlmr-reranker");
                if (File.Exists(Path.Combine(dir.FullName, "Reranker.sln")) && System.IO.Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    // The hub's repository names: letters, digits, '-', '_', '.', at most 96 characters, optionally under an owner.
    [GeneratedRegex(@"^(?!.*(--|\.\.))[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$", RegexOptions.CultureInvariant)]
    private static partial Regex HubId();
}

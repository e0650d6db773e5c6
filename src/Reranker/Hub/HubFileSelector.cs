using System.Text;
using System.Text.RegularExpressions;

namespace Reranker.Hub;

/// <summary>The files chosen from a repository listing, and which weights they carry.</summary>
internal sealed record HubSelection(IReadOnlyList<string> Files, HubWeightsFormat WeightsFormat, string? WeightsFile);

/// <summary>Chooses the files of a repository that a cross-encoder needs, or those matching allow-patterns.</summary>
internal static class HubFileSelector
{
    /// <summary>Configuration and tokenizer files taken when present.</summary>
    internal static readonly string[] SupportFiles =
    [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "sentencepiece.bpe.model",
    ];

    private static readonly IReadOnlyList<string> OnnxCandidates = Inference.OnnxModelFiles.Candidates(null);

    private const string Safetensors = "model.safetensors";

    /// <summary>
    /// Selects from <paramref name="available"/> (a listing, or the files of a cached snapshot). Every selected name is
    /// checked before anything is written, so a name that would leave the cache aborts the whole download.
    /// </summary>
    public static HubSelection Select(IReadOnlyCollection<string> available, HubDownloadOptions options, string repoId, string revision)
    {
        var present = new HashSet<string>(available, StringComparer.Ordinal);
        if (options.OnnxFile is { } named && !present.Contains(named))
        {
            throw new HubException(
                HubErrorKind.NotFound,
                $"File '{named}' (HubDownloadOptions.OnnxFile) not found in repository '{repoId}' at revision '{revision}'.");
        }

        var onnxFile = options.OnnxFile;
        if (onnxFile is null && options.OnnxVariant is { } variant)
        {
            onnxFile = Inference.OnnxModelFiles.Candidates(variant).FirstOrDefault(present.Contains);
            var onnxInRepo = available.Where(f => f.EndsWith(".onnx", StringComparison.Ordinal)).ToList();
            if (onnxFile is null && (onnxInRepo.Count > 0 || !present.Contains(Safetensors)))
            {
                throw new HubException(
                    HubErrorKind.NotFound,
                    $"The ONNX variant '{variant}' (model_{variant}.onnx or onnx/model_{variant}.onnx) is not in repository '{repoId}' at revision '{revision}'; " +
                    (onnxInRepo.Count > 0
                        ? $"it has {string.Join(", ", onnxInRepo.Order(StringComparer.Ordinal))} (variants: {Inference.OnnxModelFiles.DescribeVariants(onnxInRepo)})."
                        : "it has no ONNX file."));
            }
        }

        var selection = options.AllowPatterns is { } patterns
            ? SelectByPatterns(available, patterns, onnxFile)
            : SelectForCrossEncoder(present, onnxFile);
        foreach (var file in selection.Files)
        {
            HubPaths.ValidateFileName(file, repoId);
        }

        return selection;
    }

    /// <summary>True when a Python <c>fnmatch</c> pattern matches the whole path (<c>*</c> also crosses <c>/</c>).</summary>
    public static bool Matches(string pattern, string path)
    {
        if (pattern.EndsWith('/'))
        {
            pattern += "*";
        }

        return Regex.IsMatch(path, GlobToRegex(pattern), RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromSeconds(1));
    }

    private static HubSelection SelectForCrossEncoder(HashSet<string> present, string? onnxFile)
    {
        var files = SupportFiles.Where(present.Contains).ToList();
        var onnx = onnxFile ?? OnnxCandidates.FirstOrDefault(present.Contains);
        if (onnx is not null)
        {
            files.Add(onnx);

            // Models over 2 GB keep their tensors beside the graph: torch.onnx writes '.data', optimum and
            // Transformers.js '_data'. Only the chosen file's are taken, not those of other variants.
            files.AddRange(Inference.OnnxModelFiles.ExternalDataNames(onnx).Where(present.Contains));
            return new HubSelection(files, HubWeightsFormat.Onnx, onnx);
        }

        if (present.Contains(Safetensors))
        {
            files.Add(Safetensors);
            return new HubSelection(files, HubWeightsFormat.Safetensors, Safetensors);
        }

        return new HubSelection(files, HubWeightsFormat.None, null);
    }

    private static HubSelection SelectByPatterns(IReadOnlyCollection<string> available, IReadOnlyList<string> patterns, string? onnxFile)
    {
        var files = available.Where(f => patterns.Any(p => Matches(p, f))).ToList();
        var chosen = new HashSet<string>(files, StringComparer.Ordinal);
        var onnx = onnxFile is not null && chosen.Contains(onnxFile)
            ? onnxFile
            : OnnxCandidates.FirstOrDefault(chosen.Contains)
              ?? files.Where(f => f.EndsWith(".onnx", StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (onnx is not null)
        {
            return new HubSelection(files, HubWeightsFormat.Onnx, onnx);
        }

        return chosen.Contains(Safetensors)
            ? new HubSelection(files, HubWeightsFormat.Safetensors, Safetensors)
            : new HubSelection(files, HubWeightsFormat.None, null);
    }

    private static string GlobToRegex(string pattern)
    {
        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*':
                    regex.Append(".*");
                    break;
                case '?':
                    regex.Append('.');
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        regex.Append(@"\[");
                        break;
                    }

                    var body = pattern[(i + 1)..close];
                    var negate = body.StartsWith('!');
                    if (negate)
                    {
                        body = body[1..];
                    }

                    regex.Append('[').Append(negate ? "^" : string.Empty)
                        .Append(body.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("[", @"\[", StringComparison.Ordinal))
                        .Append(']');
                    i = close;
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        return regex.Append('$').ToString();
    }
}

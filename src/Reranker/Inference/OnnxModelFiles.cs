using System.Text.RegularExpressions;

namespace Reranker.Inference;

/// <summary>
/// Finds the ONNX file of a model directory where repositories keep it: <c>model.onnx</c> at the root (this library's
/// export, fastembed-style repositories) or in <c>onnx/</c> (optimum and Transformers.js layouts, as
/// <c>cross-encoder/ms-marco-MiniLM-L6-v2</c>, <c>jinaai/jina-reranker-v2-base-multilingual</c> and
/// <c>onnx-community/gte-multilingual-reranker-base</c> ship), and picks a variant by name:
/// <c>model_{variant}.onnx</c> (<c>int8</c>, <c>quantized</c>, <c>fp16</c>, <c>uint8</c>, <c>q4</c>, <c>qint8_avx512</c>, ...).
/// </summary>
internal static partial class OnnxModelFiles
{
    /// <summary>The folder besides the root where repositories keep ONNX files.</summary>
    public const string OnnxFolder = "onnx";

    /// <summary>The two names external weights go by: torch.onnx's <c>model.onnx.data</c> and optimum's <c>model.onnx_data</c>.</summary>
    public static IReadOnlyList<string> ExternalDataNames(string onnxFile) => [onnxFile + ".data", onnxFile + "_data"];

    /// <summary>The file name of a variant: <c>model.onnx</c> for none (fp32), else <c>model_{variant}.onnx</c>.</summary>
    public static string FileName(string? variant) => variant is null ? CrossEncoderOptions.DefaultModelFileName : $"model_{variant}.onnx";

    /// <summary>Whether a variant name is well formed: letters, digits and underscores.</summary>
    public static bool IsValidVariant(string variant) => VariantPattern().IsMatch(variant);

    /// <summary>The relative paths to try for a variant, in order: the root, then <c>onnx/</c>.</summary>
    public static IReadOnlyList<string> Candidates(string? variant) => [FileName(variant), OnnxFolder + "/" + FileName(variant)];

    /// <summary>The variant a file name stands for: "" for <c>model.onnx</c>, the part after <c>model_</c>, or null.</summary>
    public static string? VariantOf(string fileName)
    {
        var name = Path.GetFileName(fileName);
        if (name == CrossEncoderOptions.DefaultModelFileName)
        {
            return string.Empty;
        }

        return name.StartsWith("model_", StringComparison.Ordinal) && name.EndsWith(".onnx", StringComparison.Ordinal)
            ? name["model_".Length..^".onnx".Length]
            : null;
    }

    /// <summary>Resolves the ONNX file of a directory.</summary>
    /// <param name="directory">The model directory (full path).</param>
    /// <param name="modelFileName">A file named by the caller (relative to the directory), or null to search.</param>
    /// <param name="variant">The variant to search for; null for fp32 (<c>model.onnx</c>).</param>
    /// <returns>The full path of the file.</returns>
    /// <exception cref="FileNotFoundException">No such file; the message lists the ONNX files and variants the directory has.</exception>
    public static string Resolve(string directory, string? modelFileName, string? variant)
    {
        if (modelFileName is not null)
        {
            var named = Path.GetFullPath(Path.Combine(directory, modelFileName));
            return File.Exists(named) ? named : throw new FileNotFoundException(MissingMessage(directory, named, variant: null), named);
        }

        foreach (var candidate in Candidates(variant))
        {
            var path = Path.Combine(directory, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }

        var first = Path.Combine(directory, FileName(variant));
        throw new FileNotFoundException(MissingMessage(directory, first, variant), first);
    }

    /// <summary>The ONNX files of a directory and its <c>onnx/</c> folder, as relative paths.</summary>
    public static List<string> List(string directory)
    {
        var found = new List<string>();
        foreach (var folder in new[] { directory, Path.Combine(directory, OnnxFolder) })
        {
            if (Directory.Exists(folder))
            {
                found.AddRange(Directory.EnumerateFiles(folder, "*.onnx")
                    .Select(f => Path.GetRelativePath(directory, f).Replace(Path.DirectorySeparatorChar, '/')));
            }
        }

        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>"fp32 (model.onnx), fp16, int8" for a list of ONNX paths.</summary>
    public static string DescribeVariants(IEnumerable<string> onnxPaths)
    {
        var variants = onnxPaths.Select(VariantOf).Where(v => v is not null).Distinct().Order(StringComparer.Ordinal)
            .Select(v => v!.Length == 0 ? "fp32 (model.onnx, the default)" : v).ToList();
        return variants.Count == 0 ? "none in the model_{variant}.onnx naming" : string.Join(", ", variants);
    }

    /// <summary>
    /// Checks that every external data file the model names is beside it, so that a missing <c>model.onnx_data</c> is
    /// reported by name instead of as an ONNX Runtime load error.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file the model's initializers point to is missing.</exception>
    public static void CheckExternalData(string modelPath, IEnumerable<string> locations)
    {
        var folder = Path.GetDirectoryName(modelPath)!;
        foreach (var location in locations)
        {
            var path = Path.GetFullPath(Path.Combine(folder, location));
            if (!File.Exists(path))
            {
                var beside = Directory.EnumerateFiles(folder).Select(Path.GetFileName)
                    .Where(n => n!.Contains(".onnx.data", StringComparison.Ordinal) || n.Contains(".onnx_data", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal).ToList();
                throw new FileNotFoundException(
                    $"The ONNX model '{modelPath}' keeps its weights in the external data file '{location}', which is not in '{folder}'" +
                    (beside.Count > 0 ? $" (the folder has {string.Join(", ", beside)}; external data must keep the name the model was saved with)." : ".") +
                    " Download it beside the model.",
                    path);
            }
        }
    }

    private static string MissingMessage(string directory, string missing, string? variant)
    {
        var onnx = List(directory);
        if (onnx.Count > 0)
        {
            var what = variant is null ? $"ONNX model not found: '{missing}'" : $"The ONNX variant '{variant}' was not found: neither {string.Join(" nor ", Candidates(variant))} is in '{directory}'";
            return $"{what}. The directory has {string.Join(", ", onnx)} (variants: {DescribeVariants(onnx)}): set CrossEncoderOptions.ModelVariant to one of the variants, or ModelFileName to a file.";
        }

        if (File.Exists(Path.Combine(directory, "model.safetensors")) || File.Exists(Path.Combine(directory, "model.safetensors.index.json")))
        {
            return $"ONNX model not found: '{missing}'. The directory holds model.safetensors, the weights of a Hugging Face " +
                   "snapshot, which this library runs only after an export to ONNX: run 'reranker export --model " +
                   $"{directory} --output DIR' and load DIR, or load the model by its id with CrossEncoder.FromPretrainedAsync, " +
                   "which exports it once into the hub cache.";
        }

        return $"ONNX model not found: '{missing}', and neither the directory nor its onnx/ folder has an .onnx file. Export a model with 'reranker export' or load one by id with CrossEncoder.FromPretrainedAsync.";
    }

    [GeneratedRegex("^[A-Za-z0-9_]+$", RegexOptions.CultureInvariant)]
    private static partial Regex VariantPattern();
}

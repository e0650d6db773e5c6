using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Reranker.Export.Onnx;

namespace Reranker.Export;

/// <summary>Where the weights of an export come from.</summary>
public abstract record ExportSource
{
    private ExportSource()
    {
    }

    /// <summary>A Hugging Face snapshot directory with <c>config.json</c>, <c>model.safetensors</c> and tokenizer files.</summary>
    public static ExportSource FromSnapshot(string directory) => new Snapshot(directory);

    /// <summary>
    /// Seeded random weights (Hugging Face initialization) for the architecture in <paramref name="configPath"/>;
    /// tokenizer files are copied from <paramref name="tokenizerFrom"/> when given.
    /// </summary>
    public static ExportSource RandomWeights(string configPath, long seed = 0, string? tokenizerFrom = null) =>
        new Random(configPath, seed, tokenizerFrom);

    /// <summary>A Hugging Face snapshot.</summary>
    /// <param name="Directory">The snapshot directory.</param>
    public sealed record Snapshot(string Directory) : ExportSource;

    /// <summary>Random weights.</summary>
    /// <param name="ConfigPath">The <c>config.json</c> of the architecture.</param>
    /// <param name="Seed">Seed of the weights; the same seed gives byte-identical output.</param>
    /// <param name="TokenizerFrom">A directory to copy tokenizer files from, or null.</param>
    public sealed record Random(string ConfigPath, long Seed, string? TokenizerFrom) : ExportSource;
}

/// <summary>Options of <see cref="ModelExporter.Export"/>.</summary>
public sealed record ExportOptions
{
    /// <summary>
    /// Default <see cref="ExternalDataThreshold"/>: 256 MiB. Far below protobuf's 2 GiB message limit, and low enough
    /// that the full-size int8 model (about 550 MiB) also uses external data, which ONNX Runtime memory-maps: less
    /// resident memory and faster session creation than one file (see docs/EXPORT.md).
    /// </summary>
    public const long DefaultExternalDataThreshold = 256L << 20;

    /// <summary>Write the dynamically quantized int8 variant.</summary>
    public bool Int8 { get; init; }

    /// <summary>
    /// When the weights take this many bytes or more, they go to ONNX external data (<c>model.onnx.data</c>);
    /// 0 always uses external data.
    /// </summary>
    public long ExternalDataThreshold { get; init; } = DefaultExternalDataThreshold;

    /// <summary>Replace an existing, non-empty output directory.</summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// With <see cref="Int8"/>, write value_info shapes for the intermediate tensors with the symbolic dims that
    /// onnx shape inference writes into <c>quantize_dynamic</c>'s model of the torch export. They decide which
    /// residual Add + LayerNorm pairs ONNX Runtime fuses into SkipLayerNormalization (each layer's FFN residual),
    /// and with them its optimized graph computes bit-for-bit what the reference's does (docs/EXPORT.md). An fp32
    /// export never has them (the torch export has none). Off only for comparisons.
    /// </summary>
    public bool ShapeHints { get; init; } = true;

    /// <summary>
    /// Write the attention as ONNX Runtime's <c>com.microsoft.MultiHeadAttention</c> without a mask (the form
    /// <see cref="CrossEncoder"/> rewrites to at load time) instead of the torch.onnx layout. Default
    /// <see langword="false"/>.
    /// </summary>
    /// <remarks>
    /// Off by default: the torch layout is what Python tools produce and read (its int8 variant equals
    /// <c>quantize_dynamic</c> of the torch export), and <see cref="CrossEncoder"/> gets the tiled attention from
    /// either file. A file written with this option runs only in ONNX Runtime (a contrib operator), ignores
    /// <c>attention_mask</c> in attention, and therefore scores padded batches wrongly in any runtime that pads
    /// (see docs/EXPORT.md).
    /// </remarks>
    public bool MultiHeadAttention { get; init; }
}

/// <summary>What an export wrote.</summary>
/// <param name="OutputDirectory">The finished model directory.</param>
/// <param name="ModelPath">Its <c>model.onnx</c>.</param>
/// <param name="ExternalDataPath">Its <c>model.onnx.data</c>, or null when the weights are inside the model file.</param>
/// <param name="ParameterCount">Parameters of the architecture.</param>
/// <param name="TotalBytes">Bytes of the model file plus its external data.</param>
/// <param name="CopiedFiles">Names of the config and tokenizer files copied beside the model.</param>
/// <param name="Elapsed">Wall time of the export.</param>
public sealed record ExportResult(
    string OutputDirectory,
    string ModelPath,
    string? ExternalDataPath,
    long ParameterCount,
    long TotalBytes,
    IReadOnlyList<string> CopiedFiles,
    TimeSpan Elapsed);

/// <summary>
/// Exports an <c>XLMRobertaForSequenceClassification</c> or <c>BertForSequenceClassification</c> reranker (one label)
/// to an ONNX model directory: <c>model.onnx</c> (opset 17; inputs <c>input_ids</c> and <c>attention_mask</c>, and
/// <c>token_type_ids</c> for BERT, int64 [batch, sequence];
/// output <c>logits</c>, float [batch, 1]), optionally <c>model.onnx.data</c>, plus the config and tokenizer
/// files, so the directory is complete. Output is atomic: everything is written to a temporary directory beside
/// the target, which is renamed into place only when the export has succeeded.
/// </summary>
public static class ModelExporter
{
    /// <summary>File name of the exported model.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>File name of the external data file, when used.</summary>
    public const string ExternalDataFileName = "model.onnx.data";

    /// <summary>Tokenizer files copied beside the model when present.</summary>
    public static IReadOnlyList<string> TokenizerFileNames { get; } =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model"];

    /// <summary>Exports <paramref name="source"/> into <paramref name="outputDirectory"/>.</summary>
    /// <exception cref="NotSupportedException">The config describes an architecture or label count that is not supported.</exception>
    /// <exception cref="InvalidDataException">The config or the safetensors file is malformed, truncated, or lacks a tensor or has one of the wrong shape.</exception>
    /// <exception cref="IOException">The output directory exists and is not empty (without <see cref="ExportOptions.Overwrite"/>).</exception>
    public static ExportResult Export(ExportSource source, string outputDirectory, ExportOptions? options = null, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        options ??= new ExportOptions();
        var clock = Stopwatch.StartNew();

        // Validate everything that can be checked before writing a byte.
        string configPath;
        List<(string From, string Name)> copies = [];
        switch (source)
        {
            case ExportSource.Snapshot s:
                if (!Directory.Exists(s.Directory))
                {
                    throw new DirectoryNotFoundException($"snapshot directory not found: {s.Directory}");
                }

                configPath = Path.Combine(s.Directory, "config.json");
                AddTokenizerFiles(s.Directory, copies);
                break;
            case ExportSource.Random r:
                configPath = r.ConfigPath;
                if (r.TokenizerFrom is not null)
                {
                    if (!Directory.Exists(r.TokenizerFrom))
                    {
                        throw new DirectoryNotFoundException($"tokenizer directory not found: {r.TokenizerFrom}");
                    }

                    AddTokenizerFiles(r.TokenizerFrom, copies);
                    if (copies.Count == 0)
                    {
                        throw new FileNotFoundException($"no tokenizer files ({string.Join(", ", TokenizerFileNames)}) in {r.TokenizerFrom}");
                    }
                }

                break;
            default:
                throw new ArgumentException("unknown export source", nameof(source));
        }

        var config = XlmRobertaConfig.Load(configPath);
        copies.Insert(0, (configPath, "config.json"));
        using WeightSource weights = source switch
        {
            ExportSource.Snapshot s => OpenSnapshotWeights(config, s.Directory),
            ExportSource.Random r => new RandomWeightSource(config, r.Seed),
            _ => throw new UnreachableException(),
        };

        var target = Path.GetFullPath(outputDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        if (File.Exists(target))
        {
            throw new IOException($"output path {target} is a file");
        }

        var targetExists = Directory.Exists(target);
        if (targetExists && !options.Overwrite && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new IOException($"output directory {target} exists and is not empty (overwrite it with --force)");
        }

        var parent = Path.GetDirectoryName(target) ?? throw new IOException($"output directory {target} has no parent");
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(target)}.export-{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        string? backup = null;
        try
        {
            var weightBytes = XlmRobertaGraph.EstimateWeightBytes(config, options.Int8);
            var external = weightBytes >= options.ExternalDataThreshold;
            log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"exporting {config.ParameterCount / 1e6:F1} M parameters ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}), {(options.Int8 ? "int8" : "fp32")}, {(external ? "external data" : "one file")}"));

            var modelPath = Path.Combine(temp, ModelFileName);
            using (var builder = new OnnxGraphBuilder(external ? Path.Combine(temp, ExternalDataFileName) : null))
            {
                new XlmRobertaGraph(config, weights, builder, options.Int8).Build();

                // value_info as the Python reference carries it: quantize_dynamic's int8 model has onnx shape
                // inference's (the graph writes those symbols), torch.onnx.export's fp32 model has none. ORT's
                // fusions, and so the roundings, follow them.
                if (!options.ShapeHints || !options.Int8)
                {
                    builder.Graph.ValueInfo.Clear();
                }

                var mhaModel = new ModelProto { Graph = builder.Graph, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 17 } } };
                if (options.MultiHeadAttention)
                {
                    // The same rewrite the engine applies at load time, so the two forms cannot drift apart.
                    var rewrite = Reranker.Graph.AttentionRewrite.Apply(mhaModel);
                    if (rewrite.BlocksRewritten != config.NumHiddenLayers)
                    {
                        throw new InvalidOperationException(
                            $"the attention rewrite matched {rewrite.BlocksRewritten} of {config.NumHiddenLayers} layers ({rewrite.Reason})");
                    }
                }

                builder.Flush();
                var model = new ModelProto
                {
                    IrVersion = 8,
                    ProducerName = "Reranker.Export",
                    ProducerVersion = typeof(ModelExporter).Assembly.GetName().Version?.ToString() ?? "",
                    Graph = builder.Graph,
                };
                model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
                model.OpsetImport.AddRange(mhaModel.OpsetImport.Where(o => o.Domain.Length > 0));
                model.MetadataProps.Add(new StringStringEntryProto { Key = "reranker.quantization", Value = options.Int8 ? "int8 dynamic, per-channel symmetric weights" : "none" });
                if (options.MultiHeadAttention)
                {
                    model.MetadataProps.Add(new StringStringEntryProto { Key = "reranker.attention", Value = "com.microsoft.MultiHeadAttention without mask: unpadded batches only" });
                }

                using var f = new FileStream(modelPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                using (var coded = new CodedOutputStream(f, leaveOpen: true))
                {
                    model.WriteTo(coded);
                }

                f.Flush(flushToDisk: true);
            }

            FaultInjection?.Invoke(target);
            foreach (var (from, name) in copies)
            {
                File.Copy(from, Path.Combine(temp, name));
            }

            // Into place: the old directory (if replacing) moves aside first and goes only after the rename.
            if (targetExists)
            {
                backup = Path.Combine(parent, $".{Path.GetFileName(target)}.old-{Guid.NewGuid():N}");
                Directory.Move(target, backup);
            }

            Directory.Move(temp, target);
            if (backup is not null)
            {
                Directory.Delete(backup, recursive: true);
                backup = null;
            }

            var dataPath = external ? Path.Combine(target, ExternalDataFileName) : null;
            var total = new FileInfo(Path.Combine(target, ModelFileName)).Length + (dataPath is null ? 0 : new FileInfo(dataPath).Length);
            return new ExportResult(target, Path.Combine(target, ModelFileName), dataPath, config.ParameterCount, total,
                copies.Select(c => c.Name).ToArray(), clock.Elapsed);
        }
        catch
        {
            TryDelete(temp);
            if (backup is not null && !Directory.Exists(target))
            {
                Directory.Move(backup, target);
            }

            throw;
        }
    }

    /// <summary>Tests only: called with the target directory after the model files are written, before the rename, to simulate a failure.</summary>
    internal static Action<string>? FaultInjection { get; set; }

    private static SafetensorsWeightSource OpenSnapshotWeights(XlmRobertaConfig config, string directory)
    {
        var path = Path.Combine(directory, "model.safetensors");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"model.safetensors not found in {directory} (only single-file safetensors snapshots are supported)", path);
        }

        return new SafetensorsWeightSource(config, path);
    }

    private static void AddTokenizerFiles(string directory, List<(string From, string Name)> copies)
    {
        foreach (var name in TokenizerFileNames)
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                copies.Add((path, name));
            }
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Reranker.Diagnostics;
using Reranker.Export;
using Reranker.Hub;

namespace Reranker;

public sealed partial class CrossEncoder
{
    /// <summary>
    /// Loads a reranker by its Hugging Face model id: downloads what it needs into the hub cache shared with Python
    /// (unless already there), exports <c>model.safetensors</c> to ONNX when the repository has no ONNX model, and
    /// loads the result.
    /// </summary>
    /// <param name="modelId">The repository, for example <c>dragonkue/bge-reranker-v2-m3-ko</c>.</param>
    /// <param name="options">
    /// Settings of the encoder; <see langword="null"/> for the defaults. <see cref="CrossEncoderOptions.Quantize"/>
    /// picks int8 for an export; <see cref="CrossEncoderOptions.ModelFileName"/>, when not the default, names the ONNX
    /// file to download (see its remarks for what the returned encoder's options say).
    /// </param>
    /// <param name="hubOptions">
    /// Revision, cache folder, endpoint, token and offline mode; <see langword="null"/> for the defaults, which follow
    /// <c>HF_HUB_CACHE</c>, <c>HF_HOME</c>, <c>HF_ENDPOINT</c>, <c>HF_TOKEN</c> and <c>HF_HUB_OFFLINE</c> as Python does.
    /// </param>
    /// <param name="progress">Receives per-file download progress.</param>
    /// <param name="cancellationToken">
    /// Stops the download (a partial file is resumed by the next call) or the load. An export that has started runs
    /// to its end (it is written atomically either way); the token is checked again after it.
    /// </param>
    /// <returns>A reranker that owns its model session; dispose it when done.</returns>
    /// <remarks>
    /// <para>
    /// A repository with an ONNX model (<c>model.onnx</c>, else <c>onnx/model.onnx</c>; <c>model_{variant}.onnx</c> the
    /// same way with <see cref="CrossEncoderOptions.ModelVariant"/>; with its external data, <c>.onnx.data</c> or
    /// <c>.onnx_data</c>) is loaded from the snapshot folder <c>{cache}/models--{org}--{name}/snapshots/{commit}/</c>. One with only
    /// <c>model.safetensors</c> is exported once per commit and precision into
    /// <c>{cache}/models--{org}--{name}/onnx/{commit}/fp32/</c> (or <c>int8/</c>), written to a temporary folder and
    /// renamed into place, and later calls, offline ones included, load that folder without exporting again.
    /// <c>huggingface_hub</c> reads only <c>snapshots/</c>, <c>refs/</c> and <c>blobs/</c>, so its cache tools neither
    /// count nor remove the export folder, except when they delete the whole repository folder.
    /// </para>
    /// <para>
    /// Offline (<see cref="HubDownloadOptions.Offline"/> or <c>HF_HUB_OFFLINE=1</c>), nothing is requested and the
    /// cached snapshot of the revision is used; when the hub cannot be reached, a cached snapshot is used too.
    /// Model files are executed as given: load models only from a source you trust.
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="modelId"/> is empty, white space or not a repository id (<c>name</c> or <c>org/name</c>), or the revision is malformed.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="modelId"/> is <see langword="null"/>.</exception>
    /// <exception cref="HubException">
    /// The repository, revision or a file is missing or not accessible, a download failed its integrity check, or
    /// (offline) the snapshot is not cached.
    /// </exception>
    /// <exception cref="NotSupportedException">The model cannot be exported or run (see <see cref="Create(string, CrossEncoderOptions?)"/> and <see cref="ModelExporter"/>).</exception>
    /// <exception cref="InvalidDataException">A downloaded file is malformed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<CrossEncoder> FromPretrainedAsync(
        string modelId,
        CrossEncoderOptions? options = null,
        HubDownloadOptions? hubOptions = null,
        IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        options ??= new CrossEncoderOptions();
        hubOptions ??= new HubDownloadOptions();
        if (hubOptions.OnnxFile is null && options.ModelFileName != CrossEncoderOptions.DefaultModelFileName)
        {
            hubOptions = hubOptions.WithOnnxFile(options.ModelFileName);
        }
        else if (hubOptions.OnnxFile is null && hubOptions.OnnxVariant is null && options.ModelVariant is { } variant)
        {
            hubOptions = hubOptions.WithOnnxFile(null, variant);
        }

        var snapshot = await HubSnapshot.DownloadAsync(modelId, hubOptions, progress, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();

        // Exporting and loading are CPU- and disk-bound (seconds to minutes): keep them off the caller's thread.
        return await Task.Run(() => Load(snapshot, options, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private static CrossEncoder Load(HubSnapshotInfo snapshot, CrossEncoderOptions options, CancellationToken cancellationToken)
    {
        switch (snapshot.WeightsFormat)
        {
            case HubWeightsFormat.Onnx:
                return Create(snapshot.Path, options with { ModelFileName = snapshot.WeightsFile!, ModelVariant = null });
            case HubWeightsFormat.Safetensors:
                // A repository without ONNX files: the export gives fp32, or int8 (Quantize, or the variant "int8").
                if (options.ModelVariant is { } variant && variant != "int8")
                {
                    throw new NotSupportedException(
                        $"'{snapshot.RepoId}' ships no ONNX files, only model.safetensors, and its export gives fp32 or int8, not the variant '{variant}'. " +
                        "Leave ModelVariant unset (fp32) or set it to \"int8\" (or Quantize).");
                }

                options = options with { Quantize = options.Quantize || options.ModelVariant == "int8", ModelVariant = null };
                var directory = EnsureExport(snapshot, options);
                cancellationToken.ThrowIfCancellationRequested();
                return Create(directory, options with { ModelFileName = ModelExporter.ModelFileName });
            default:
                throw new HubException(
                    HubErrorKind.NotFound,
                    $"The snapshot of '{snapshot.RepoId}' at {snapshot.CommitHash} has no model weights (no ONNX model, no model.safetensors).");
        }
    }

    /// <summary>The export folder of the snapshot for the chosen precision, exported now unless an earlier call did.</summary>
    internal static string ExportDirectory(HubSnapshotInfo snapshot, bool int8)
    {
        // {cache}/models--{org}--{name}/snapshots/{commit} -> {cache}/models--{org}--{name}/onnx/{commit}/{precision}
        var storage = Path.GetDirectoryName(Path.GetDirectoryName(snapshot.Path))!;
        return Path.Combine(storage, "onnx", snapshot.CommitHash, int8 ? "int8" : "fp32");
    }

    private static string EnsureExport(HubSnapshotInfo snapshot, CrossEncoderOptions options)
    {
        var logger = options.LoggerFactory?.CreateLogger("Reranker.CrossEncoder") ?? NullLogger.Instance;
        var precision = options.Quantize ? "int8" : "fp32";
        var directory = ExportDirectory(snapshot, options.Quantize);
        var modelPath = Path.Combine(directory, ModelExporter.ModelFileName);
        if (File.Exists(modelPath))
        {
            Log.ExportReused(logger, snapshot.RepoId, snapshot.CommitHash, precision, directory);
            return directory;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            // The exporter writes into a temporary folder beside the target and renames it into place, so the target
            // exists only when complete. A target without a model is debris of some other writer: replace it.
            ModelExporter.Export(
                ExportSource.FromSnapshot(snapshot.Path),
                directory,
                new ExportOptions { Int8 = options.Quantize, Overwrite = Directory.Exists(directory) });
        }
        catch (IOException) when (File.Exists(modelPath))
        {
            // Another process finished the same export first: use its result.
            Log.ExportReused(logger, snapshot.RepoId, snapshot.CommitHash, precision, directory);
            return directory;
        }

        Log.ModelExported(logger, snapshot.RepoId, snapshot.CommitHash, precision, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, directory);
        return directory;
    }
}

namespace Reranker.Hub;

/// <summary>Which model weights a snapshot holds.</summary>
public enum HubWeightsFormat
{
    /// <summary>No model weights were selected.</summary>
    None,

    /// <summary>An ONNX model, ready for ONNX Runtime.</summary>
    Onnx,

    /// <summary>Only <c>model.safetensors</c>: the model must be exported to ONNX before it can run.</summary>
    Safetensors,
}

/// <summary>A model snapshot in the local hub cache.</summary>
/// <param name="Path">The snapshot folder, <c>{cache}/models--{org}--{name}/snapshots/{commit}</c>.</param>
/// <param name="RepoId">The repository, for example <c>dragonkue/bge-reranker-v2-m3-ko</c>.</param>
/// <param name="CommitHash">The commit the requested revision resolved to.</param>
/// <param name="Files">Repository paths of the selected files, all present under <paramref name="Path"/>.</param>
/// <param name="WeightsFormat">Whether the weights are ONNX or must still be exported.</param>
/// <param name="WeightsFile">Repository path of the weights file (<c>model.onnx</c>, <c>model.safetensors</c>, ...), or <see langword="null"/>.</param>
public sealed record HubSnapshotInfo(
    string Path,
    string RepoId,
    string CommitHash,
    IReadOnlyList<string> Files,
    HubWeightsFormat WeightsFormat,
    string? WeightsFile)
{
    /// <summary><see langword="true"/> when the snapshot has no ONNX model and <c>model.safetensors</c> must be exported.</summary>
    public bool NeedsOnnxExport => WeightsFormat == HubWeightsFormat.Safetensors;
}

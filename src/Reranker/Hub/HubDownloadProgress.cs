namespace Reranker.Hub;

/// <summary>Progress of one file of a snapshot download.</summary>
/// <param name="File">Repository path of the file, for example <c>model.onnx</c>.</param>
/// <param name="FileIndex">Zero-based position of the file among the files being downloaded.</param>
/// <param name="FileCount">How many files this call downloads (files already cached are not counted).</param>
/// <param name="BytesDownloaded">Bytes of the file on disk so far, a resumed part included.</param>
/// <param name="TotalBytes">Size of the file.</param>
/// <param name="BytesPerSecond">Transfer rate of this call for this file, in bytes per second.</param>
public sealed record HubDownloadProgress(
    string File,
    int FileIndex,
    int FileCount,
    long BytesDownloaded,
    long TotalBytes,
    double BytesPerSecond);

using Microsoft.Extensions.Logging;

namespace Reranker.Diagnostics;

/// <summary>The log messages of <see cref="CrossEncoder"/>, source-generated (no formatting unless the level is enabled).</summary>
internal static partial class Log
{
    [LoggerMessage(
        EventId = CrossEncoderLogEvents.ModelLoaded,
        EventName = nameof(CrossEncoderLogEvents.ModelLoaded),
        Level = LogLevel.Information,
        Message = "Loaded reranker model {ModelPath} in {ElapsedMilliseconds} ms: inputs {Inputs}, intra-op threads {IntraOpNumThreads} (0 = ONNX Runtime's default), max length {MaxLength}")]
    public static partial void ModelLoaded(ILogger logger, string modelPath, long elapsedMilliseconds, string inputs, int intraOpNumThreads, int maxLength);

    [LoggerMessage(
        EventId = CrossEncoderLogEvents.AttentionRewritten,
        EventName = nameof(CrossEncoderLogEvents.AttentionRewritten),
        Level = LogLevel.Debug,
        Message = "Rewrote the graph of {ModelPath} at load time: {Blocks} attention blocks to MultiHeadAttention (tiled attention; pairs of different lengths are not batched together), {ResidualSums} residual normalisations left unfused")]
    public static partial void AttentionRewritten(ILogger logger, string modelPath, int blocks, int residualSums);

    [LoggerMessage(
        EventId = CrossEncoderLogEvents.AttentionNotRewritten,
        EventName = nameof(CrossEncoderLogEvents.AttentionNotRewritten),
        Level = LogLevel.Information,
        Message = "The attention of {ModelPath} runs as exported ({Reason}): long pairs need memory growing with the square of their length")]
    public static partial void AttentionNotRewritten(ILogger logger, string modelPath, string reason);

    [LoggerMessage(
        EventId = CrossEncoderLogEvents.PairsTruncated,
        EventName = nameof(CrossEncoderLogEvents.PairsTruncated),
        Level = LogLevel.Debug,
        Message = "{TruncatedCount} of {PairCount} pairs were truncated to {MaxLength} tokens")]
    public static partial void PairsTruncated(ILogger logger, int truncatedCount, int pairCount, int maxLength);

    [LoggerMessage(
        EventId = CrossEncoderLogEvents.ScoringCancelled,
        EventName = nameof(CrossEncoderLogEvents.ScoringCancelled),
        Level = LogLevel.Debug,
        Message = "Scoring was cancelled after {PairsScored} of {PairCount} pairs")]
    public static partial void ScoringCancelled(ILogger logger, int pairsScored, int pairCount);

    [LoggerMessage(
        EventId = CrossEncoderLogEvents.ModelExported,
        EventName = nameof(CrossEncoderLogEvents.ModelExported),
        Level = LogLevel.Information,
        Message = "Exported {RepoId} at {CommitHash} to ONNX ({Precision}) in {ElapsedMilliseconds} ms: {ExportDirectory}")]
    public static partial void ModelExported(ILogger logger, string repoId, string commitHash, string precision, long elapsedMilliseconds, string exportDirectory);

    [LoggerMessage(
        EventId = CrossEncoderLogEvents.ExportReused,
        EventName = nameof(CrossEncoderLogEvents.ExportReused),
        Level = LogLevel.Debug,
        Message = "Reusing the ONNX export of {RepoId} at {CommitHash} ({Precision}): {ExportDirectory}")]
    public static partial void ExportReused(ILogger logger, string repoId, string commitHash, string precision, string exportDirectory);
}

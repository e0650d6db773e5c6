namespace Reranker;

/// <summary>
/// Event ids of what a <see cref="CrossEncoder"/> logs through <see cref="CrossEncoderOptions.LoggerFactory"/>
/// (category <c>Reranker.CrossEncoder</c>), for filtering. Each event has the name of its constant.
/// </summary>
public static class CrossEncoderLogEvents
{
    /// <summary>Information: a model was loaded; with its path, the load time in milliseconds, the model inputs fed, the intra-op thread setting and the maximum length.</summary>
    public const int ModelLoaded = 1;

    /// <summary>Debug: a call shortened some of its pairs to <see cref="CrossEncoderOptions.MaxLength"/>; with how many, out of how many.</summary>
    public const int PairsTruncated = 2;

    /// <summary>Debug: an asynchronous call was cancelled; with how many of its pairs had been scored.</summary>
    public const int ScoringCancelled = 3;

    /// <summary>Debug: the model's graph was rewritten in memory at load time (<see cref="CrossEncoderOptions.RewriteAttention"/>); with the model path, the attention blocks now <c>MultiHeadAttention</c> and the residual normalisations left unfused.</summary>
    public const int AttentionRewritten = 4;

    /// <summary>Information: <see cref="CrossEncoderOptions.RewriteAttention"/> is on but the model's attention was not recognised, so it runs as exported; with the model path and the reason.</summary>
    public const int AttentionNotRewritten = 5;

    /// <summary>Information: <see cref="CrossEncoder.FromPretrainedAsync"/> exported a snapshot's <c>model.safetensors</c> to ONNX; with the folder, the precision and the time taken.</summary>
    public const int ModelExported = 10;

    /// <summary>Debug: <see cref="CrossEncoder.FromPretrainedAsync"/> reused an ONNX export made by an earlier call.</summary>
    public const int ExportReused = 11;
}

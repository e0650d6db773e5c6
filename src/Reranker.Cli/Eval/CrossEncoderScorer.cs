using Reranker.Chunking;

namespace Reranker.Cli.Eval;

/// <summary>Scores pairs with <see cref="CrossEncoder"/>, returning raw logits.</summary>
/// <remarks>
/// Logits, not <see cref="CrossEncoder.Predict"/>'s sigmoid: the order is the same, but float32 sigmoid rounds every
/// logit above about 17 to exactly 1.0, which would turn clear winners into ties broken by corpus order.
/// </remarks>
internal sealed class CrossEncoderScorer : IPairScorer
{
    private readonly CrossEncoder _encoder;

    private CrossEncoderScorer(CrossEncoder encoder) => _encoder = encoder;

    /// <summary>Loads the model named by <paramref name="settings"/>.</summary>
    public static IPairScorer Create(ScorerSettings settings) =>
        new CrossEncoderScorer(CrossEncoder.Create(settings.ModelDirectory, new CrossEncoderOptions
        {
            ModelFileName = settings.ModelFile,
            MaxLength = settings.MaxLength,
            Truncation = settings.Truncation,
            BatchSize = settings.BatchSize,
            LongDocuments = settings.MaxChunks is { } chunks
                ? new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = chunks }
                : new LongDocumentOptions(),
        }));

    public float[] Score(IReadOnlyList<(string Query, string Document)> pairs) => _encoder.PredictLogits(pairs);

    public void Dispose() => _encoder.Dispose();
}

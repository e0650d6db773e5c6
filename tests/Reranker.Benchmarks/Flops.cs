namespace Reranker.Benchmarks;

/// <summary>
/// Arithmetic of one forward pass of an XLM-R encoder classifier, counted as 2 FLOP per multiply-add. Per layer and
/// token: q, k, v and output projections 4·H² MACs, FFN 2·H·F MACs, attention (QKᵀ and P·V over all heads) 2·S·H MACs
/// for a row padded to S tokens; per row the head adds H² + H MACs. Embeddings, LayerNorm, softmax and GELU are
/// left out (well under 1 %). Padding counts: it is work the engine does.
/// </summary>
internal readonly record struct ModelShape(int Layers, int Hidden, int Intermediate)
{
    public static readonly ModelShape BgeRerankerV2M3 = new(24, 1024, 4096);

    /// <summary>FLOPs of the weight matmuls (what int8 quantization speeds up) for a batch of rows × cols.</summary>
    public double LinearFlops(int rows, int cols) =>
        2.0 * rows * ((double)Layers * cols * ((4.0 * Hidden * Hidden) + (2.0 * Hidden * Intermediate)) + ((double)Hidden * Hidden) + Hidden);

    /// <summary>FLOPs of attention's two activation-by-activation matmuls (fp32 in both models).</summary>
    public double AttentionFlops(int rows, int cols) => 2.0 * rows * Layers * (double)cols * 2.0 * cols * Hidden;

    public double Flops(int rows, int cols) => LinearFlops(rows, cols) + AttentionFlops(rows, cols);

    /// <summary>The shortest time the machine could take: linear part at the model's peak, attention at the fp32 peak.</summary>
    public double BoundSeconds(int rows, int cols, bool int8, Peaks peaks) =>
        (LinearFlops(rows, cols) / (int8 ? peaks.Int8Ops : peaks.Fp32Flops)) + (AttentionFlops(rows, cols) / peaks.Fp32Flops);
}

/// <summary>Peak arithmetic rates measured by <see cref="PeakKernel"/>, per second, all cores.</summary>
internal sealed record Peaks(double Fp32Flops, double Int8Ops);

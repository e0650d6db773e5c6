using Reranker.Export.Onnx;

namespace Reranker.Graph;

/// <summary>What <see cref="LoadTimeRewrite.Apply"/> did to a model.</summary>
/// <param name="Attention">The attention rewrite's result (blocks now <c>MultiHeadAttention</c>, or why none).</param>
/// <param name="ResidualSums">Residual additions kept out of ONNX Runtime's <c>SkipLayerNormalization</c> (<see cref="ResidualSum"/>).</param>
internal sealed record LoadTimeRewriteResult(AttentionRewriteResult Attention, int ResidualSums)
{
    /// <summary>Whether the graph changed at all.</summary>
    public bool Changed => Attention.Rewritten || ResidualSums > 0;
}

/// <summary>
/// The graph changes made in memory when a model is loaded with <see cref="CrossEncoderOptions.RewriteAttention"/>
/// (the default), so that ONNX Runtime runs its fastest CPU kernels: attention as tiled <c>MultiHeadAttention</c>
/// (<see cref="AttentionRewrite"/>), then, on a graph that runs <c>MultiHeadAttention</c> (rewritten now or so
/// exported), residual additions kept apart from the layer normalisation that follows (<see cref="ResidualSum"/>).
/// The file on disk is never changed.
/// </summary>
internal static class LoadTimeRewrite
{
    /// <summary>Rewrites <paramref name="model"/> in place.</summary>
    /// <param name="model">The model, changed in place.</param>
    /// <param name="attentionOnly">Benchmark seam: stop after the attention rewrite.</param>
    public static LoadTimeRewriteResult Apply(ModelProto model, bool attentionOnly = false)
    {
        var attention = AttentionRewrite.Apply(model);
        var runsTiledAttention = model.Graph?.Node.Any(n => n.OpType == AttentionRewrite.MultiHeadAttentionOp && n.Domain == AttentionRewrite.MicrosoftDomain) == true;
        if (!runsTiledAttention || attentionOnly)
        {
            // A graph this library does not recognise runs as exported, whole.
            return new LoadTimeRewriteResult(attention, 0);
        }

        return new LoadTimeRewriteResult(attention, ResidualSum.Apply(model));
    }
}

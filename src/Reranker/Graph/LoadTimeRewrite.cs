using Reranker.Export.Onnx;

namespace Reranker.Graph;

/// <summary>What <see cref="LoadTimeRewrite.Apply"/> did to a model.</summary>
/// <param name="Attention">The attention rewrite's result (blocks now <c>MultiHeadAttention</c>, or why none).</param>
/// <param name="ProjectionsJoined">Attention nodes whose query, key and value projections are now one (<see cref="ProjectionFusion"/>).</param>
/// <param name="ResidualSums">Residual additions kept out of ONNX Runtime's <c>SkipLayerNormalization</c> (<see cref="ResidualSum"/>).</param>
internal sealed record LoadTimeRewriteResult(AttentionRewriteResult Attention, int ProjectionsJoined, int ResidualSums)
{
    /// <summary>Whether the graph changed at all.</summary>
    public bool Changed => Attention.Rewritten || ProjectionsJoined > 0 || ResidualSums > 0;
}

/// <summary>
/// The graph changes made in memory when a model is loaded with <see cref="CrossEncoderOptions.RewriteAttention"/>
/// (the default), so that ONNX Runtime runs its fastest CPU kernels: attention as tiled <c>MultiHeadAttention</c>
/// (<see cref="AttentionRewrite"/>), then, on a graph that runs <c>MultiHeadAttention</c> (rewritten now or so
/// exported), the query, key and value projections joined into one (<see cref="ProjectionFusion"/>, logits unchanged)
/// and residual additions kept apart from the layer normalisation that follows (<see cref="ResidualSum"/>).
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
            return new LoadTimeRewriteResult(attention, 0, 0);
        }

        var joined = ProjectionFusion.Apply(model);
        var sums = ResidualSum.Apply(model);
        return new LoadTimeRewriteResult(attention, joined, sums);
    }
}

using Reranker.Export.Onnx;

namespace Reranker.Graph;

/// <summary>
/// Writes each residual <c>Add</c> that feeds a <c>LayerNormalization</c> as a <c>Sum</c> of the same two tensors, so
/// that ONNX Runtime runs its <c>LayerNormalization</c> kernel after a vectorised element-wise sum instead of fusing
/// the pair into <c>com.microsoft.SkipLayerNormalization</c>.
/// </summary>
/// <remarks>
/// Why: ONNX Runtime's CPU <c>SkipLayerNormalization</c> kernel (1.31) took about 2 ms per call on a 512 × 1024
/// activation where the <c>Add</c> and <c>LayerNormalization</c> it replaces took about 0.5 ms together (per-operator
/// profile of the full-size int8 model, docs/BENCHMARKS.md); its fusion looks for <c>Add</c> only. A sum of two
/// floats is the same number whichever operator computes it, so only the normalisation's own rounding can differ
/// from the fused kernel's. Only an <c>Add</c> of two computed tensors (not a bias, which is an initializer) whose
/// sole reader is the <c>LayerNormalization</c> is changed.
/// </remarks>
internal static class ResidualSum
{
    /// <summary>Rewrites <paramref name="model"/> in place.</summary>
    /// <returns>How many residual additions were changed.</returns>
    public static int Apply(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Graph is not { } graph)
        {
            return 0;
        }

        var index = new GraphIndex(graph);
        var changed = 0;
        foreach (var norm in graph.Node.Where(n => n.OpType == "LayerNormalization" && GraphIndex.IsDefaultDomain(n)).ToArray())
        {
            if (norm.Input.Count == 0
                || index.Producer(norm.Input[0]) is not { OpType: "Add" } add
                || !GraphIndex.IsDefaultDomain(add)
                || add.Input.Count != 2
                || index.Consumers(add.Output[0]).Count != 1
                || add.Input.Any(i => index.Initializer(i) is not null || index.Producer(i) is null or { OpType: "Constant" }))
            {
                continue;
            }

            add.OpType = "Sum";
            changed++;
        }

        return changed;
    }
}

using System.Globalization;
using System.Runtime.InteropServices;
using Reranker.Export.Onnx;
using AttributeType = Reranker.Export.Onnx.AttributeProto.Types.AttributeType;
using DataType = Reranker.Export.Onnx.TensorProto.Types.DataType;

namespace Reranker.Graph;

/// <summary>What <see cref="AttentionRewrite.Apply"/> did to a model.</summary>
/// <param name="BlocksRewritten">Attention blocks replaced by <c>com.microsoft.MultiHeadAttention</c>.</param>
/// <param name="SoftmaxCount">Softmax nodes the graph had before; equal to <paramref name="BlocksRewritten"/> when every attention block was recognised.</param>
/// <param name="Reason">Why nothing was rewritten, or null when something was.</param>
internal sealed record AttentionRewriteResult(int BlocksRewritten, int SoftmaxCount, string? Reason)
{
    /// <summary>Whether at least one block now runs as <c>MultiHeadAttention</c>.</summary>
    public bool Rewritten => BlocksRewritten > 0;
}

/// <summary>
/// Replaces the unfused self-attention of a BERT-family ONNX graph, as torch.onnx exports it (and optimum, and
/// this project's exporter), by ONNX Runtime's <c>com.microsoft.MultiHeadAttention</c> with no mask input.
/// </summary>
/// <remarks>
/// <para>
/// Why: on the CPU execution provider, <c>MultiHeadAttention</c> without <c>key_padding_mask</c> and without
/// attention bias is the only operator that runs tiled ("flash") attention, which never materialises the
/// <c>[batch, heads, S, S]</c> score tensor. The unfused graph materialises two of them per layer (16 × 8192² fp32
/// = 4 GiB each for XLM-R-large at 8192 tokens); ORT's own fusion makes <c>com.microsoft.Attention</c>, which has
/// no tiled path either (docs/research/mha-flash-experiment.md).
/// </para>
/// <para>
/// The pattern, per layer: <c>q = Transpose[0,2,1,3](Reshape(Q, [B,S,h,d]))</c>,
/// <c>k = Transpose[0,2,3,1](Reshape(K, ...))</c> (or <c>[0,2,1,3]</c> then <c>[0,1,3,2]</c>),
/// <c>v = Transpose[0,2,1,3](Reshape(V, ...))</c>; scalar <c>Mul</c>/<c>Div</c> scales on q, k or the scores
/// (folded into one <c>scale</c>); <c>MatMul(q, k)</c>; an optional <c>Add</c> of the padding mask; <c>Softmax</c>
/// on the last axis; an optional <c>Where(IsNaN(p), 0, p)</c>; <c>MatMul(p, v)</c>; <c>Transpose[0,2,1,3]</c>;
/// <c>Reshape</c> to <c>[B,S,h·d]</c>. It becomes <c>MultiHeadAttention(Q, K, V)</c> with <c>num_heads = h</c>
/// and the folded scale; nodes nothing reads any more are removed. Q, K and V keep their own MatMul and Add
/// nodes, so a dynamically quantized model keeps its quantized linears exactly.
/// </para>
/// <para>
/// The padding mask is dropped, so the rewritten graph is exact only for batches without padding (every
/// <c>attention_mask</c> entry 1): with an all-ones mask the dropped bias is 0 everywhere. To make sure the added
/// term really is that mask, it must be computed from the graph input <c>attention_mask</c>, shapes and small
/// constants only; a learned bias (a relative-position bias, say) leaves the block as it is. The caller must not
/// feed padded batches to a rewritten model.
/// </para>
/// </remarks>
internal static class AttentionRewrite
{
    /// <summary>Domain of ONNX Runtime's contrib operators.</summary>
    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>The operator the rewrite emits.</summary>
    public const string MultiHeadAttentionOp = "MultiHeadAttention";

    /// <summary>The graph input the dropped mask must come from.</summary>
    private const string AttentionMaskInput = "attention_mask";

    /// <summary>Largest initializer (elements) the mask computation may read: scalars and shape vectors, never weights.</summary>
    private const int MaxMaskConstantElements = 16;

    /// <summary>AttributeProto.AttributeType GRAPHS (not in this project's proto subset, which stops at STRINGS).</summary>
    private const int GraphsAttributeType = 10;

    /// <summary>Rewrites <paramref name="model"/> in place.</summary>
    /// <returns>How many blocks were rewritten, or why none was.</returns>
    public static AttentionRewriteResult Apply(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        if (graph is null)
        {
            return new AttentionRewriteResult(0, 0, "the model has no graph");
        }

        var softmaxCount = graph.Node.Count(n => n.OpType == "Softmax" && GraphIndex.IsDefaultDomain(n));
        if (graph.Node.Any(n => n.OpType == MultiHeadAttentionOp && n.Domain == MicrosoftDomain))
        {
            return new AttentionRewriteResult(0, softmaxCount, "the graph already uses com.microsoft.MultiHeadAttention");
        }

        // Subgraphs (If, Loop, Scan) may read outer tensors by name, which the dead-node pass below cannot see.
        if (graph.Node.Any(n => n.Attribute.Any(a => a.Type == AttributeType.Graph || (int)a.Type == GraphsAttributeType)))
        {
            return new AttentionRewriteResult(0, softmaxCount, "the graph has subgraphs (If/Loop/Scan)");
        }

        // Softmax's default axis is -1 from opset 13 on; before, it is 1 (over the flattened trailing dimensions).
        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain.Length == 0 || o.Domain == "ai.onnx")?.Version ?? 0;
        var index = new GraphIndex(graph);
        var replacements = new List<(NodeProto Reshape, NodeProto Mha)>();
        string? lastReason = null;
        foreach (var softmax in graph.Node.Where(n => n.OpType == "Softmax" && GraphIndex.IsDefaultDomain(n)).ToArray())
        {
            var match = Match(index, softmax, replacements.Count, opset >= 13 ? -1 : 1);
            if (match.Node is null)
            {
                lastReason = match.Reason;
                continue;
            }

            replacements.Add((match.Reshape!, match.Node));
        }

        if (replacements.Count == 0)
        {
            return new AttentionRewriteResult(0, softmaxCount, softmaxCount == 0 ? "the graph has no Softmax" : lastReason ?? "no attention block matched");
        }

        // Each MultiHeadAttention takes the place of the Reshape that produced the block's output (keeping order).
        foreach (var (reshape, mha) in replacements)
        {
            var at = graph.Node.IndexOf(reshape);
            graph.Node[at] = mha;
        }

        GraphIndex.RemoveDeadNodes(graph);
        if (!model.OpsetImport.Any(o => o.Domain == MicrosoftDomain))
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
        }

        return new AttentionRewriteResult(replacements.Count, softmaxCount, null);
    }

    private readonly record struct MatchResult(NodeProto? Node, NodeProto? Reshape, string? Reason)
    {
        public static MatchResult Fail(string reason) => new(null, null, reason);
    }

    private static MatchResult Match(GraphIndex g, NodeProto softmax, int ordinal, long defaultAxis)
    {
        var axis = softmax.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? defaultAxis;
        if (axis is not (-1 or 3))
        {
            return MatchResult.Fail($"Softmax {softmax.Name} is not over the last axis");
        }

        // Scores side: [Add(mask)] <- [scalar Mul/Div]* <- MatMul(q, k).
        var scale = 1.0;
        var scoresInput = softmax.Input[0];
        NodeProto? qk = null;
        var producer = g.Producer(scoresInput);
        if (producer is { OpType: "Add" } add && GraphIndex.IsDefaultDomain(add) && add.Input.Count == 2)
        {
            for (var side = 0; side < 2 && qk is null; side++)
            {
                var s = 1.0;
                var candidate = StripScales(g, add.Input[side], ref s);
                if (g.Producer(candidate) is { OpType: "MatMul" } mm && GraphIndex.IsDefaultDomain(mm))
                {
                    var mask = add.Input[1 - side];
                    if (!IsPaddingMask(g, mask))
                    {
                        return MatchResult.Fail($"the term added to the scores before {softmax.Name} is not computed from '{AttentionMaskInput}' alone");
                    }

                    qk = mm;
                    scale = s;
                }
            }
        }
        else
        {
            var candidate = StripScales(g, scoresInput, ref scale);
            if (g.Producer(candidate) is { OpType: "MatMul" } mm && GraphIndex.IsDefaultDomain(mm))
            {
                qk = mm;
            }
        }

        if (qk is null)
        {
            return MatchResult.Fail($"no MatMul(q, kᵀ) feeds {softmax.Name}");
        }

        var q = SplitHeadsSource(g, StripScales(g, qk.Input[0], ref scale), transposedKey: false);
        var k = SplitHeadsSource(g, StripScales(g, qk.Input[1], ref scale), transposedKey: true);
        if (q is null || k is null)
        {
            return MatchResult.Fail($"q or k of {softmax.Name} is not Transpose(Reshape(linear)) in the torch layout");
        }

        // Probabilities side: [Where(IsNaN(p), 0, p)] -> MatMul(p, v) -> Transpose[0,2,1,3] -> Reshape.
        var probs = softmax.Output[0];
        var consumers = g.Consumers(probs);
        if (consumers.Count == 2
            && consumers.FirstOrDefault(c => c.OpType == "IsNaN") is { } isNaN
            && consumers.FirstOrDefault(c => c.OpType == "Where") is { } where
            && where.Input.Count == 3 && where.Input[0] == isNaN.Output[0] && where.Input[2] == probs
            && g.ScalarValue(where.Input[1]) == 0)
        {
            probs = where.Output[0];
            consumers = g.Consumers(probs);
        }

        if (consumers.Count != 1 || consumers[0] is not { OpType: "MatMul" } pv || pv.Input[0] != probs)
        {
            return MatchResult.Fail($"the output of {softmax.Name} does not go to one MatMul(p, v)");
        }

        var v = SplitHeadsSource(g, pv.Input[1], transposedKey: false);
        if (v is null)
        {
            return MatchResult.Fail($"v of {softmax.Name} is not Transpose(Reshape(linear)) in the torch layout");
        }

        var afterPv = g.Consumers(pv.Output[0]);
        if (afterPv.Count != 1 || afterPv[0] is not { OpType: "Transpose" } merge || !Perm(merge, 0, 2, 1, 3))
        {
            return MatchResult.Fail($"the attention output after {softmax.Name} is not Transpose[0,2,1,3]");
        }

        var afterMerge = g.Consumers(merge.Output[0]);
        if (afterMerge.Count != 1 || afterMerge[0] is not { OpType: "Reshape" } reshape)
        {
            return MatchResult.Fail($"the attention output after {softmax.Name} is not reshaped back to [batch, sequence, hidden]");
        }

        var mergedShape = g.ShapeVector(reshape.Input[1]);
        if (mergedShape is not { Length: 3 })
        {
            return MatchResult.Fail($"the attention output after {softmax.Name} is not reshaped to rank 3");
        }

        if (q.Value.HeadDim != k.Value.HeadDim || q.Value.HeadDim != v.Value.HeadDim || q.Value.HeadDim <= 0)
        {
            return MatchResult.Fail($"q, k and v of {softmax.Name} do not have one known head size");
        }

        var heads = new[] { q.Value.Heads, k.Value.Heads, v.Value.Heads }.FirstOrDefault(h => h > 0);
        if (heads <= 0)
        {
            var hidden = g.HiddenWidth(q.Value.Source);
            if (hidden is not { } width || width % q.Value.HeadDim != 0)
            {
                return MatchResult.Fail($"the number of heads of {softmax.Name} cannot be found");
            }

            heads = width / q.Value.HeadDim;
        }

        var mha = new NodeProto
        {
            OpType = MultiHeadAttentionOp,
            Domain = MicrosoftDomain,
            Name = string.Create(CultureInfo.InvariantCulture, $"MultiHeadAttention_{ordinal}"),
        };
        mha.Input.Add(q.Value.Source);
        mha.Input.Add(k.Value.Source);
        mha.Input.Add(v.Value.Source);
        mha.Output.Add(reshape.Output[0]);
        mha.Attribute.Add(new AttributeProto { Name = "num_heads", Type = AttributeType.Int, I = heads });
        mha.Attribute.Add(new AttributeProto { Name = "scale", Type = AttributeType.Float, F = (float)scale });
        return new MatchResult(mha, reshape, null);
    }

    /// <summary>Follows scalar <c>Mul</c>/<c>Div</c> nodes upward, folding their constants into <paramref name="scale"/>.</summary>
    private static string StripScales(GraphIndex g, string name, ref double scale)
    {
        while (g.Producer(name) is { } p && GraphIndex.IsDefaultDomain(p) && p.Input.Count == 2)
        {
            if (p.OpType == "Div" && g.ScalarValue(p.Input[1]) is { } divisor && divisor != 0)
            {
                scale /= divisor;
                name = p.Input[0];
            }
            else if (p.OpType == "Mul" && g.ScalarValue(p.Input[1]) is { } right)
            {
                scale *= right;
                name = p.Input[0];
            }
            else if (p.OpType == "Mul" && g.ScalarValue(p.Input[0]) is { } left)
            {
                scale *= left;
                name = p.Input[1];
            }
            else
            {
                break;
            }
        }

        return name;
    }

    private readonly record struct HeadsSource(string Source, long Heads, long HeadDim);

    /// <summary>
    /// For q and v: <c>Transpose[0,2,1,3](Reshape(X, [.., .., h, d]))</c>; for k: <c>Transpose[0,2,3,1]</c> of the
    /// same, or <c>Transpose[0,1,3,2](Transpose[0,2,1,3](...))</c>. Returns X with the head count (or -1) and size.
    /// </summary>
    private static HeadsSource? SplitHeadsSource(GraphIndex g, string name, bool transposedKey)
    {
        if (g.Producer(name) is not { OpType: "Transpose" } t)
        {
            return null;
        }

        if (transposedKey)
        {
            if (Perm(t, 0, 1, 3, 2))
            {
                if (g.Producer(t.Input[0]) is not { OpType: "Transpose" } inner || !Perm(inner, 0, 2, 1, 3))
                {
                    return null;
                }

                t = inner;
            }
            else if (!Perm(t, 0, 2, 3, 1))
            {
                return null;
            }
        }
        else if (!Perm(t, 0, 2, 1, 3))
        {
            return null;
        }

        if (g.Producer(t.Input[0]) is not { OpType: "Reshape" } reshape)
        {
            return null;
        }

        var shape = g.ShapeVector(reshape.Input[1]);
        if (shape is not { Length: 4 } || shape[3] is not > 0)
        {
            return null;
        }

        return new HeadsSource(reshape.Input[0], shape[2] ?? -1, shape[3]!.Value);
    }

    private static bool Perm(NodeProto transpose, params long[] perm)
    {
        var attribute = transpose.Attribute.FirstOrDefault(a => a.Name == "perm");
        return attribute is not null && attribute.Ints.SequenceEqual(perm);
    }

    /// <summary>
    /// Whether <paramref name="name"/> is computed from the graph input <c>attention_mask</c>, tensor shapes and small
    /// constants only (so that with an all-ones mask it is the additive padding mask, 0 everywhere).
    /// </summary>
    private static bool IsPaddingMask(GraphIndex g, string name)
    {
        var readsMask = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push(name);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            if (current.Length == 0 || !seen.Add(current))
            {
                continue;
            }

            if (g.IsGraphInput(current))
            {
                if (current != AttentionMaskInput)
                {
                    return false;
                }

                readsMask = true;
                continue;
            }

            if (g.Initializer(current) is { } init)
            {
                if (init.Dims.Aggregate(1L, (a, d) => a * d) > MaxMaskConstantElements)
                {
                    return false;
                }

                continue;
            }

            var p = g.Producer(current);
            if (p is null)
            {
                return false;
            }

            if (p.OpType == "Shape" && GraphIndex.IsDefaultDomain(p))
            {
                continue; // reads only the shape of its input, never its values
            }

            foreach (var input in p.Input)
            {
                stack.Push(input);
            }
        }

        return readsMask;
    }
}

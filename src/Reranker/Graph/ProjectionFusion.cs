using System.Globalization;
using Reranker.Export.Onnx;
using AttributeType = Reranker.Export.Onnx.AttributeProto.Types.AttributeType;
using DataType = Reranker.Export.Onnx.TensorProto.Types.DataType;

namespace Reranker.Graph;

/// <summary>
/// Merges the query, key and value projections that feed a <c>com.microsoft.MultiHeadAttention</c> node into one
/// projection of three times the width followed by a <c>Split</c>: one matrix product over the layer input instead of
/// three, and for a dynamically quantized model one quantization of it instead of three.
/// </summary>
/// <remarks>
/// <para>
/// Two forms are recognised, each projection reading the same input: fp32 <c>Add(MatMul(x, W), b)</c>, and the form
/// <c>onnxruntime.quantization.quantize_dynamic</c> writes,
/// <c>Add(Mul(Cast(MatMulInteger(xq, W, xzp, wzp)), Mul(xs, ws)), b)</c> over one <c>DynamicQuantizeLinear(x)</c>
/// (either operand order of each <c>Add</c> and <c>Mul</c>). The weights, biases, scales and zero points are joined by
/// <c>Concat</c> nodes over the original initializers, which ONNX Runtime folds into constants when it loads the
/// session, so no weight is read or copied here and external data stays where it is.
/// </para>
/// <para>
/// Every output column is computed exactly as before: a column of the joined product is the dot product of the same
/// input row and the same weight column (integer and exact in int8; fp32 sums over the same <c>K</c> in the same
/// order), scaled and biased by the same constants, so the logits do not change (tests compare them bit for bit).
/// </para>
/// </remarks>
internal static class ProjectionFusion
{
    /// <summary>Rewrites <paramref name="model"/> in place.</summary>
    /// <returns>How many attention nodes now read one joined projection.</returns>
    public static int Apply(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        if (graph is null)
        {
            return 0;
        }

        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain.Length == 0 || o.Domain == "ai.onnx")?.Version ?? 0;
        var index = new GraphIndex(graph);
        var fused = 0;
        var inserts = new List<(NodeProto Before, NodeProto[] Nodes)>();
        foreach (var mha in graph.Node.Where(n => n.OpType == AttentionRewrite.MultiHeadAttentionOp && n.Domain == AttentionRewrite.MicrosoftDomain).ToArray())
        {
            if (mha.Input.Count < 3 || mha.Input.Take(3).Any(i => i.Length == 0) || mha.Input.Take(3).Distinct(StringComparer.Ordinal).Count() != 3)
            {
                continue;
            }

            var prefix = string.Create(CultureInfo.InvariantCulture, $"{mha.Name}_qkv{fused}");
            var nodes = MatchFloat(index, mha, prefix, opset) ?? MatchDynamicInt8(index, mha, prefix, opset);
            if (nodes is null)
            {
                continue;
            }

            // The joined projection goes where the first of the three was computed: its input is ready there.
            var first = mha.Input.Take(3).Select(index.Producer).Select(p => graph.Node.IndexOf(p!)).Min();
            inserts.Add((graph.Node[first], nodes.Value.Nodes));
            for (var i = 0; i < 3; i++)
            {
                mha.Input[i] = nodes.Value.Outputs[i];
            }

            fused++;
        }

        if (fused == 0)
        {
            return 0;
        }

        foreach (var (before, nodes) in inserts)
        {
            var at = graph.Node.IndexOf(before);
            for (var i = nodes.Length - 1; i >= 0; i--)
            {
                graph.Node.Insert(at, nodes[i]);
            }
        }

        // The three projections' nodes are read by nothing now.
        GraphIndex.RemoveDeadNodes(graph);
        return fused;
    }

    private readonly record struct Fused(NodeProto[] Nodes, string[] Outputs);

    /// <summary>q, k, v = <c>Add(MatMul(x, W), b)</c> over one x, W 2-D and b 1-D initializers.</summary>
    private static Fused? MatchFloat(GraphIndex g, NodeProto mha, string prefix, long opset)
    {
        var parts = new List<(string Weight, string Bias, long Width)>();
        string? x = null;
        foreach (var output in mha.Input.Take(3))
        {
            if (g.Producer(output) is not { OpType: "Add" } add || !GraphIndex.IsDefaultDomain(add) || add.Input.Count != 2 || g.Consumers(output).Count != 1)
            {
                return null;
            }

            var side = g.Producer(add.Input[0]) is { OpType: "MatMul" } ? 0 : 1;
            if (g.Producer(add.Input[side]) is not { OpType: "MatMul" } matMul || !GraphIndex.IsDefaultDomain(matMul) || g.Consumers(matMul.Output[0]).Count != 1)
            {
                return null;
            }

            var bias = add.Input[1 - side];
            if (g.Initializer(matMul.Input[1]) is not { } weight || weight.Dims.Count != 2 || weight.DataType != (int)DataType.Float
                || g.Initializer(bias) is not { } b || b.Dims.Count != 1 || b.Dims[0] != weight.Dims[1] || b.DataType != (int)DataType.Float)
            {
                return null;
            }

            if (x is not null && (x != matMul.Input[0] || g.Initializer(parts[0].Weight)!.Dims[0] != weight.Dims[0]))
            {
                return null;
            }

            x = matMul.Input[0];
            parts.Add((matMul.Input[1], bias, weight.Dims[1]));
        }

        var nodes = new List<NodeProto>
        {
            Concat(prefix + "_weight", parts.Select(p => p.Weight), axis: 1),
            Concat(prefix + "_bias", parts.Select(p => p.Bias), axis: 0),
            Node("MatMul", prefix + "_MatMul", [x!, prefix + "_weight"], prefix + "_product"),
            Node("Add", prefix + "_Add", [prefix + "_product", prefix + "_bias"], prefix + "_joined"),
        };
        return Split(nodes, prefix, parts.Select(p => p.Width).ToArray(), opset);
    }

    /// <summary>
    /// q, k, v = <c>Add(Mul(Cast(MatMulInteger(xq, W, xzp, wzp)), Mul(xs, ws)), b)</c> over the outputs of one
    /// <c>DynamicQuantizeLinear</c>; ws and wzp per column (1-D) or per tensor (scalars, widened to columns).
    /// </summary>
    private static Fused? MatchDynamicInt8(GraphIndex g, NodeProto mha, string prefix, long opset)
    {
        var parts = new List<(string Weight, string ZeroPoint, bool ZeroPointScalar, string Scale, bool ScaleScalar, string Bias, long Width)>();
        NodeProto? quantize = null;
        foreach (var output in mha.Input.Take(3))
        {
            if (g.Producer(output) is not { OpType: "Add" } add || !GraphIndex.IsDefaultDomain(add) || add.Input.Count != 2 || g.Consumers(output).Count != 1)
            {
                return null;
            }

            var side = g.Producer(add.Input[0]) is { OpType: "Mul" } ? 0 : 1;
            var bias = add.Input[1 - side];
            if (g.Producer(add.Input[side]) is not { OpType: "Mul" } scaled || !GraphIndex.IsDefaultDomain(scaled) || scaled.Input.Count != 2 || g.Consumers(scaled.Output[0]).Count != 1)
            {
                return null;
            }

            var castSide = g.Producer(scaled.Input[0]) is { OpType: "Cast" } ? 0 : 1;
            if (g.Producer(scaled.Input[castSide]) is not { OpType: "Cast" } cast || g.Consumers(cast.Output[0]).Count != 1
                || cast.Attribute.FirstOrDefault(a => a.Name == "to")?.I != (long)DataType.Float
                || g.Producer(cast.Input[0]) is not { OpType: "MatMulInteger" } matMul || !GraphIndex.IsDefaultDomain(matMul) || matMul.Input.Count != 4
                || g.Consumers(matMul.Output[0]).Count != 1
                || g.Producer(scaled.Input[1 - castSide]) is not { OpType: "Mul" } scale || !GraphIndex.IsDefaultDomain(scale) || scale.Input.Count != 2
                || g.Consumers(scale.Output[0]).Count != 1)
            {
                return null;
            }

            if (g.Producer(matMul.Input[0]) is not { OpType: "DynamicQuantizeLinear" } dql || !GraphIndex.IsDefaultDomain(dql)
                || dql.Output.Count != 3 || matMul.Input[0] != dql.Output[0] || matMul.Input[2] != dql.Output[2])
            {
                return null;
            }

            // The activation scale is DynamicQuantizeLinear's; the other factor is the weight's.
            var activationSide = scale.Input[0] == dql.Output[1] ? 0 : scale.Input[1] == dql.Output[1] ? 1 : -1;
            if (activationSide < 0 || (quantize is not null && !ReferenceEquals(quantize, dql)))
            {
                return null;
            }

            quantize = dql;
            var weightScale = scale.Input[1 - activationSide];
            if (g.Initializer(matMul.Input[1]) is not { } weight || weight.Dims.Count != 2
                || g.Initializer(matMul.Input[3]) is not { } zeroPoint || zeroPoint.DataType != weight.DataType
                || g.Initializer(weightScale) is not { } ws || ws.DataType != (int)DataType.Float
                || g.Initializer(bias) is not { } b || b.Dims.Count != 1 || b.Dims[0] != weight.Dims[1] || b.DataType != (int)DataType.Float
                || !PerColumnOrScalar(zeroPoint, weight.Dims[1]) || !PerColumnOrScalar(ws, weight.Dims[1]))
            {
                return null;
            }

            if (parts.Count > 0 && g.Initializer(parts[0].Weight)!.Dims[0] != weight.Dims[0])
            {
                return null;
            }

            parts.Add((matMul.Input[1], matMul.Input[3], IsScalar(zeroPoint, weight.Dims[1]), weightScale, IsScalar(ws, weight.Dims[1]), bias, weight.Dims[1]));
        }

        var nodes = new List<NodeProto>();
        var zeroPoints = new List<string>();
        var scales = new List<string>();
        for (var i = 0; i < parts.Count; i++)
        {
            // A per-tensor scale or zero point becomes a column vector of the same value (folded at load time too).
            zeroPoints.Add(parts[i].ZeroPointScalar ? Widen(nodes, parts[i].ZeroPoint, parts[i].Width, $"{prefix}_zero_point{i}") : parts[i].ZeroPoint);
            scales.Add(parts[i].ScaleScalar ? Widen(nodes, parts[i].Scale, parts[i].Width, $"{prefix}_weight_scale{i}") : parts[i].Scale);
        }

        nodes.Add(Concat(prefix + "_weight", parts.Select(p => p.Weight), axis: 1));
        nodes.Add(Concat(prefix + "_zero_point", zeroPoints, axis: 0));
        nodes.Add(Concat(prefix + "_weight_scale", scales, axis: 0));
        nodes.Add(Concat(prefix + "_bias", parts.Select(p => p.Bias), axis: 0));
        nodes.Add(Node("MatMulInteger", prefix + "_MatMulInteger", [quantize!.Output[0], prefix + "_weight", quantize.Output[2], prefix + "_zero_point"], prefix + "_integer"));
        nodes.Add(Node("Mul", prefix + "_Scale", [quantize.Output[1], prefix + "_weight_scale"], prefix + "_scale"));
        var toFloat = Node("Cast", prefix + "_Cast", [prefix + "_integer"], prefix + "_float");
        toFloat.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeType.Int, I = (long)DataType.Float });
        nodes.Add(toFloat);
        nodes.Add(Node("Mul", prefix + "_Mul", [prefix + "_float", prefix + "_scale"], prefix + "_scaled"));
        nodes.Add(Node("Add", prefix + "_Add", [prefix + "_bias", prefix + "_scaled"], prefix + "_joined"));
        return Split(nodes, prefix, parts.Select(p => p.Width).ToArray(), opset);
    }

    /// <summary>One value for every column (a scalar, or one element where there are more columns).</summary>
    private static bool IsScalar(TensorProto t, long columns) => t.Dims.Count == 0 || (t.Dims[0] == 1 && columns != 1);

    private static bool PerColumnOrScalar(TensorProto t, long columns) =>
        t.Dims.Count == 0 || (t.Dims.Count == 1 && (t.Dims[0] == columns || t.Dims[0] == 1));

    /// <summary>An <c>Expand</c> of a scalar (or one-element) initializer to <paramref name="width"/> entries.</summary>
    private static string Widen(List<NodeProto> nodes, string name, long width, string output)
    {
        var shape = new TensorProto { Name = output + "_shape", DataType = (int)DataType.Int64 };
        shape.Dims.Add(1);
        shape.Int64Data.Add(width);
        var constant = Node("Constant", output + "_Shape", [], output + "_shape");
        constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeType.Tensor, T = shape });
        nodes.Add(constant);
        nodes.Add(Node("Expand", output + "_Expand", [name, output + "_shape"], output));
        return output;
    }

    private static Fused Split(List<NodeProto> nodes, string prefix, long[] widths, long opset)
    {
        string[] outputs = [prefix + "_q", prefix + "_k", prefix + "_v"];
        var split = new NodeProto { OpType = "Split", Name = prefix + "_Split" };
        split.Input.Add(prefix + "_joined");
        split.Output.AddRange(outputs);
        split.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeType.Int, I = -1 });
        if (opset >= 13)
        {
            // From opset 13 the sizes are an input.
            var sizes = new TensorProto { Name = prefix + "_split_sizes", DataType = (int)DataType.Int64 };
            sizes.Dims.Add(widths.Length);
            sizes.Int64Data.AddRange(widths);
            var constant = Node("Constant", prefix + "_SplitSizes", [], prefix + "_split_sizes");
            constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeType.Tensor, T = sizes });
            nodes.Add(constant);
            split.Input.Add(prefix + "_split_sizes");
        }
        else
        {
            split.Attribute.Add(new AttributeProto { Name = "split", Type = AttributeType.Ints, Ints = { widths } });
        }

        nodes.Add(split);
        return new Fused(nodes.ToArray(), outputs);
    }

    private static NodeProto Concat(string output, IEnumerable<string> inputs, long axis)
    {
        var node = Node("Concat", output + "_Concat", inputs.ToArray(), output);
        node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeType.Int, I = axis });
        return node;
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }
}

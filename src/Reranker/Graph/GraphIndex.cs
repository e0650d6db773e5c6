using System.Runtime.InteropServices;
using Reranker.Export.Onnx;
using DataType = Reranker.Export.Onnx.TensorProto.Types.DataType;

namespace Reranker.Graph;

/// <summary>Producers, consumers, initializers and constant values of one graph.</summary>
internal sealed class GraphIndex
{
    private readonly Dictionary<string, NodeProto> producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> initializers = new(StringComparer.Ordinal);
    private readonly HashSet<string> inputs = new(StringComparer.Ordinal);

    public GraphIndex(GraphProto graph)
    {
        foreach (var t in graph.Initializer)
        {
            initializers[t.Name] = t;
        }

        foreach (var i in graph.Input)
        {
            if (!initializers.ContainsKey(i.Name))
            {
                inputs.Add(i.Name);
            }
        }

        foreach (var n in graph.Node)
        {
            foreach (var o in n.Output)
            {
                producers[o] = n;
            }

            foreach (var i in n.Input)
            {
                if (!consumers.TryGetValue(i, out var list))
                {
                    consumers[i] = list = [];
                }

                list.Add(n);
            }
        }

        // A graph output counts as a reader too: such a tensor must stay.
        foreach (var o in graph.Output)
        {
            if (!consumers.TryGetValue(o.Name, out var list))
            {
                consumers[o.Name] = list = [];
            }

            list.Add(new NodeProto { OpType = "<graph output>" });
        }
    }

    public NodeProto? Producer(string name) => producers.GetValueOrDefault(name);

    public IReadOnlyList<NodeProto> Consumers(string name) => consumers.TryGetValue(name, out var list) ? list : [];

    public bool IsGraphInput(string name) => inputs.Contains(name);

    /// <summary>An initializer, following <c>Identity</c> nodes (torch's export aliases shared weights so).</summary>
    public TensorProto? Initializer(string name)
    {
        for (var hops = 0; hops < 8; hops++)
        {
            if (initializers.TryGetValue(name, out var t))
            {
                return t;
            }

            if (Producer(name) is { OpType: "Identity" } id && id.Input.Count == 1)
            {
                name = id.Input[0];
                continue;
            }

            return null;
        }

        return null;
    }

    /// <summary>A constant tensor: an initializer or the value of a <c>Constant</c> node.</summary>
    private TensorProto? ConstantTensor(string name)
    {
        if (Initializer(name) is { } t)
        {
            return t;
        }

        if (Producer(name) is { OpType: "Constant" } c && IsDefaultDomain(c))
        {
            var value = c.Attribute.FirstOrDefault(a => a.Name == "value");
            if (value?.T is { } tensor)
            {
                return tensor;
            }

            if (c.Attribute.FirstOrDefault(a => a.Name == "value_float") is { } f)
            {
                var scalar = new TensorProto { DataType = (int)DataType.Float };
                scalar.FloatData.Add(f.F);
                return scalar;
            }

            if (c.Attribute.FirstOrDefault(a => a.Name == "value_ints") is { } ints)
            {
                var vector = new TensorProto { DataType = (int)DataType.Int64 };
                vector.Dims.Add(ints.Ints.Count);
                vector.Int64Data.AddRange(ints.Ints);
                return vector;
            }
        }

        return null;
    }

    /// <summary>The value of a one-element float or double constant, or null.</summary>
    public double? ScalarValue(string name)
    {
        var t = ConstantTensor(name);
        if (t is null || t.Dims.Aggregate(1L, (a, d) => a * d) != 1 || t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            return null;
        }

        return (DataType)t.DataType switch
        {
            DataType.Float when t.RawData.Length == 4 => BitConverter.ToSingle(t.RawData.Span),
            DataType.Float when t.FloatData.Count == 1 => t.FloatData[0],
            DataType.Double when t.RawData.Length == 8 => BitConverter.ToDouble(t.RawData.Span),
            _ => null,
        };
    }

    /// <summary>
    /// The entries of a 1-D int64 shape tensor: a constant, or a <c>Concat</c> of constants and run-time parts
    /// (each run-time part is taken as one unknown entry, as torch writes <c>Unsqueeze(Gather(Shape))</c>).
    /// </summary>
    public long?[]? ShapeVector(string name)
    {
        if (ConstantInt64s(name) is { } constant)
        {
            return constant.Select(v => (long?)v).ToArray();
        }

        if (Producer(name) is not { OpType: "Concat" } concat)
        {
            return null;
        }

        var entries = new List<long?>();
        foreach (var part in concat.Input)
        {
            if (ConstantInt64s(part) is { } values)
            {
                entries.AddRange(values.Select(v => (long?)v));
            }
            else if (Producer(part) is { OpType: "Unsqueeze" })
            {
                entries.Add(null);
            }
            else
            {
                return null;
            }
        }

        return entries.ToArray();
    }

    private long[]? ConstantInt64s(string name)
    {
        var t = ConstantTensor(name);
        if (t is null || t.DataType != (int)DataType.Int64 || t.Dims.Count > 1 || t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            return null;
        }

        return t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray() : t.Int64Data.ToArray();
    }

    /// <summary>
    /// The width of a [batch, sequence, hidden] tensor made by a linear layer: the length of its 1-D bias or the
    /// columns of its 2-D weight.
    /// </summary>
    public long? HiddenWidth(string name)
    {
        if (Producer(name) is not { } p)
        {
            return null;
        }

        foreach (var input in p.Input)
        {
            if (Initializer(input) is { } t)
            {
                if (p.OpType == "Add" && t.Dims.Count == 1)
                {
                    return t.Dims[0];
                }

                if (p.OpType == "MatMul" && t.Dims.Count == 2)
                {
                    return t.Dims[1];
                }
            }
        }

        return null;
    }

    /// <summary>Whether a node is in the default ONNX domain.</summary>
    public static bool IsDefaultDomain(NodeProto n) => n.Domain.Length == 0 || n.Domain == "ai.onnx";

    /// <summary>Drops nodes whose outputs nothing reads, then initializers and shape hints nothing refers to.</summary>
    public static void RemoveDeadNodes(GraphProto graph)
    {
        var needed = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        var keep = new bool[graph.Node.Count];
        for (var i = graph.Node.Count - 1; i >= 0; i--)
        {
            var node = graph.Node[i];
            if (node.Output.Any(o => o.Length > 0 && needed.Contains(o)))
            {
                keep[i] = true;
                foreach (var input in node.Input)
                {
                    needed.Add(input);
                }
            }
        }

        var live = graph.Node.Where((_, i) => keep[i]).ToArray();
        graph.Node.Clear();
        graph.Node.AddRange(live);

        var initializers = graph.Initializer.Where(t => needed.Contains(t.Name)).ToArray();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);

        var produced = new HashSet<string>(live.SelectMany(n => n.Output), StringComparer.Ordinal);
        var hints = graph.ValueInfo.Where(v => produced.Contains(v.Name)).ToArray();
        graph.ValueInfo.Clear();
        graph.ValueInfo.AddRange(hints);
    }
}

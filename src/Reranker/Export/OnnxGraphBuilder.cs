using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Reranker.Export.Onnx;

namespace Reranker.Export;

/// <summary>
/// Collects the nodes, initializers and shape hints of one ONNX graph. Initializers are written as soon as they
/// are added: into the model (raw_data) or, in external-data mode, appended to the data file beside it (tensors
/// of <see cref="ExternalMinBytes"/> or more; those of 1 MiB or more start at 64 KiB offsets so they can be
/// memory-mapped), so a model of several gigabytes never has its weights in memory at once.
/// </summary>
internal sealed class OnnxGraphBuilder : IDisposable
{
    /// <summary>Smallest tensor moved to the external data file.</summary>
    public const int ExternalMinBytes = 1024;

    private readonly FileStream? data;
    private readonly string? dataFileName;
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly HashSet<string> initializerNames = new(StringComparer.Ordinal);
    private int counter;

    public OnnxGraphBuilder(string? externalDataPath)
    {
        if (externalDataPath is not null)
        {
            data = new FileStream(externalDataPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            dataFileName = Path.GetFileName(externalDataPath);
        }
    }

    public GraphProto Graph { get; } = new();

    public long ExternalBytes => data?.Length ?? 0;

    /// <summary>A symbolic or fixed dimension of a shape hint: a string names a dynamic dimension.</summary>
    public readonly record struct Dim(long Value, string? Param)
    {
        public static implicit operator Dim(long v) => new(v, null);

        public static implicit operator Dim(string p) => new(0, p);
    }

    // ------------------------------------------------------------------ nodes

    /// <summary>Adds a node with one output; returns the output's name. A shape records a value_info hint.</summary>
    public string Op(string opType, string[] inputs, Dim[]? shape = null, int elemType = (int)TensorProto.Types.DataType.Float,
        string? output = null, params AttributeProto[] attributes)
    {
        var outName = output ?? NewName(opType);
        AddNode(opType, inputs, [outName], attributes);
        if (shape is not null)
        {
            Graph.ValueInfo.Add(ValueInfo(outName, elemType, shape));
        }

        return outName;
    }

    /// <summary>Adds a node with several outputs.</summary>
    public string[] OpMulti(string opType, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var baseName = NewName(opType);
        var outs = Enumerable.Range(0, outputs).Select(i => $"{baseName}_{i}").ToArray();
        AddNode(opType, inputs, outs, attributes);
        return outs;
    }

    /// <summary>Records a shape hint for a value.</summary>
    public void Hint(string name, int elemType, params Dim[] shape) => Graph.ValueInfo.Add(ValueInfo(name, elemType, shape));

    private void AddNode(string opType, string[] inputs, string[] outputs, AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{Graph.Node.Count}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
    }

    private string NewName(string prefix)
    {
        string name;
        do
        {
            name = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{counter++}");
        }
        while (!names.Add(name));
        return name;
    }

    public static ValueInfoProto ValueInfo(string name, int elemType, Dim[] shape)
    {
        var s = new TensorShapeProto();
        foreach (var d in shape)
        {
            s.Dim.Add(d.Param is null ? new TensorShapeProto.Types.Dimension { DimValue = d.Value } : new TensorShapeProto.Types.Dimension { DimParam = d.Param });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = s } },
        };
    }

    // ------------------------------------------------------------------ attributes

    public static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    public static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

    public static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    public static AttributeProto Tensor(string name, TensorProto t) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = t };

    // ------------------------------------------------------------------ initializers

    /// <summary>Adds an initializer from its bytes (little-endian, row-major).</summary>
    public string Initializer(string name, TensorProto.Types.DataType type, long[] dims, ReadOnlySpan<byte> bytes)
    {
        var t = NewTensor(name, type, dims);
        if (data is not null && bytes.Length >= ExternalMinBytes)
        {
            var offset = Align(bytes.Length);
            data.Write(bytes);
            SetExternal(t, offset, bytes.Length);
        }
        else
        {
            t.RawData = ByteString.CopyFrom(bytes);
        }

        Graph.Initializer.Add(t);
        return name;
    }

    /// <summary>Adds a float initializer.</summary>
    public string Initializer(string name, long[] dims, ReadOnlySpan<float> values) =>
        Initializer(name, TensorProto.Types.DataType.Float, dims, MemoryMarshal.AsBytes(values));

    /// <summary>
    /// Adds an initializer whose bytes a callback writes to a stream, for tensors too large to hold at once
    /// (in-model tensors are buffered: only used below the external-data threshold).
    /// </summary>
    public string StreamedInitializer(string name, TensorProto.Types.DataType type, long[] dims, long byteLength, Action<Stream> write)
    {
        var t = NewTensor(name, type, dims);
        if (data is not null && byteLength >= ExternalMinBytes)
        {
            var offset = Align(byteLength);
            write(data);
            if (data.Position - offset != byteLength)
            {
                throw new InvalidOperationException($"initializer {name}: wrote {data.Position - offset} bytes, expected {byteLength}");
            }

            SetExternal(t, offset, byteLength);
        }
        else
        {
            using var ms = new MemoryStream(checked((int)byteLength));
            write(ms);
            if (ms.Length != byteLength)
            {
                throw new InvalidOperationException($"initializer {name}: wrote {ms.Length} bytes, expected {byteLength}");
            }

            t.RawData = ByteString.CopyFrom(ms.GetBuffer().AsSpan(0, (int)ms.Length));
        }

        Graph.Initializer.Add(t);
        return name;
    }

    /// <summary>A new small constant (one per use, as torch.onnx exports them).</summary>
    public string Const(float value) => Initializer(NewName("const"), [], [value]);

    public string Const(float[] values) => Initializer(NewName("const"), [values.Length], values);

    public string ConstInt64(long value) =>
        Initializer(NewName("const"), TensorProto.Types.DataType.Int64, [], MemoryMarshal.AsBytes(new[] { value }.AsSpan()));

    public string ConstInt64(long[] values) =>
        Initializer(NewName("const"), TensorProto.Types.DataType.Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()));

    public string ConstInt32(int value) =>
        Initializer(NewName("const"), TensorProto.Types.DataType.Int32, [], MemoryMarshal.AsBytes(new[] { value }.AsSpan()));

    private TensorProto NewTensor(string name, TensorProto.Types.DataType type, long[] dims)
    {
        if (!initializerNames.Add(name))
        {
            throw new InvalidOperationException($"duplicate initializer name {name}");
        }

        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        return t;
    }

    private long Align(long byteLength)
    {
        var alignment = byteLength >= 1 << 20 ? 1 << 16 : 64;
        var pad = (int)((alignment - (data!.Position % alignment)) % alignment);
        if (pad > 0)
        {
            data.Write(new byte[pad]);
        }

        return data.Position;
    }

    private void SetExternal(TensorProto t, long offset, long length)
    {
        t.DataLocation = TensorProto.Types.DataLocation.External;
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataFileName });
        t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
        t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
    }

    /// <summary>Flushes the external data file to disk.</summary>
    public void Flush()
    {
        if (data is not null)
        {
            data.Flush(flushToDisk: true);
        }
    }

    public void Dispose() => data?.Dispose();
}

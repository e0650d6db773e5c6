using System.Text;

namespace Reranker.Tests.Support;

/// <summary>
/// Writes tiny ONNX models by hand-encoding the protobuf (onnx.proto field numbers), so tests can make models with
/// unusual inputs and outputs without a Python toolchain. Only the handful of message fields these tests need.
/// </summary>
internal sealed class OnnxGraphWriter
{
    public const int Float = 1;
    public const int Int64 = 7;

    private readonly List<byte[]> _nodes = [];
    private readonly List<byte[]> _initializers = [];
    private readonly List<byte[]> _inputs = [];
    private readonly List<byte[]> _outputs = [];

    /// <summary>Declares a graph input; a dimension is an <see cref="int"/> (fixed) or a <see cref="string"/> (symbolic).</summary>
    public OnnxGraphWriter Input(string name, int elementType, params object[] dims)
    {
        _inputs.Add(ValueInfo(name, elementType, dims));
        return this;
    }

    /// <inheritdoc cref="Input"/>
    public OnnxGraphWriter Output(string name, int elementType, params object[] dims)
    {
        _outputs.Add(ValueInfo(name, elementType, dims));
        return this;
    }

    /// <summary>Adds a float scalar constant.</summary>
    public OnnxGraphWriter Scalar(string name, float value)
    {
        var tensor = new Proto()
            .Varint(2, Float)                  // data_type
            .String(8, name)                   // name
            .Bytes(9, BitConverter.GetBytes(value)); // raw_data (little-endian)
        _initializers.Add(tensor.ToArray());
        return this;
    }

    /// <summary>Adds a node; attributes are (name, value) with an <see cref="int"/>, <see cref="float"/> or <c>long[]</c> value.</summary>
    public OnnxGraphWriter Node(string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new Proto();
        foreach (var input in inputs)
        {
            node.String(1, input);
        }

        foreach (var output in outputs)
        {
            node.String(2, output);
        }

        node.String(3, opType + "_" + _nodes.Count).String(4, opType);
        foreach (var (name, value) in attributes)
        {
            var attribute = new Proto().String(1, name);
            switch (value)
            {
                case int i:
                    attribute.Varint(3, i).Varint(20, 2); // i, type INT
                    break;
                case float f:
                    attribute.Fixed32(2, f).Varint(20, 1); // f, type FLOAT
                    break;
                case long[] ints:
                    foreach (var v in ints)
                    {
                        attribute.Varint(8, v); // ints
                    }

                    attribute.Varint(20, 7); // type INTS
                    break;
                default:
                    throw new ArgumentException("unsupported attribute value " + value);
            }

            node.Message(5, attribute);
        }

        _nodes.Add(node.ToArray());
        return this;
    }

    /// <summary>The serialized ModelProto (IR 7, default domain at <paramref name="opset"/>).</summary>
    public byte[] ToModel(int opset = 11)
    {
        var graph = new Proto();
        foreach (var node in _nodes)
        {
            graph.Bytes(1, node);
        }

        graph.String(2, "test_graph");
        foreach (var initializer in _initializers)
        {
            graph.Bytes(5, initializer);
        }

        foreach (var input in _inputs)
        {
            graph.Bytes(11, input);
        }

        foreach (var output in _outputs)
        {
            graph.Bytes(12, output);
        }

        return new Proto()
            .Varint(1, 7)                                           // ir_version
            .String(2, "reranker-tests")                            // producer_name
            .Message(7, graph)                                      // graph
            .Message(8, new Proto().String(1, string.Empty).Varint(2, opset)) // opset_import
            .ToArray();
    }

    private static byte[] ValueInfo(string name, int elementType, object[] dims)
    {
        var shape = new Proto();
        foreach (var dim in dims)
        {
            shape.Message(1, dim switch
            {
                int value => new Proto().Varint(1, value), // dim_value
                string param => new Proto().String(2, param), // dim_param
                _ => throw new ArgumentException("dimension must be int or string"),
            });
        }

        var tensorType = new Proto().Varint(1, elementType).Message(2, shape);
        return new Proto().String(1, name).Message(2, new Proto().Message(1, tensorType)).ToArray();
    }

    /// <summary>A protobuf message being written: tags, varints and length-delimited fields.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _stream = new();

        public Proto Varint(int field, long value)
        {
            Tag(field, 0);
            WriteVarint((ulong)value);
            return this;
        }

        public Proto Fixed32(int field, float value)
        {
            Tag(field, 5);
            _stream.Write(BitConverter.GetBytes(value));
            return this;
        }

        public Proto Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            WriteVarint((ulong)value.Length);
            _stream.Write(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _stream.ToArray();

        private void Tag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _stream.WriteByte((byte)value);
        }
    }
}

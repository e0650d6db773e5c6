using System.Text;

namespace Reranker.Inference;

/// <summary>
/// The parts of an ONNX main graph that checks need, read from the protobuf wire format without loading weights:
/// every node (op type, inputs, outputs, and the shape of a <c>Constant</c>'s value) and every initializer's name and
/// dims. An initializer's data (<c>raw_data</c> and the typed fields) is sought over, so a model with embedded weights
/// costs a few reads, and a model with external data (<c>model.onnx.data</c>) needs only the <c>.onnx</c> file: dims
/// live in the TensorProto header either way.
/// </summary>
/// <remarks>
/// Field numbers from onnx.proto: ModelProto.graph 7; GraphProto node 1, initializer 5, input 11; NodeProto input 1,
/// output 2, op_type 4, attribute 5; AttributeProto name 1, t 5; TensorProto dims 1, name 8; ValueInfoProto name 1.
/// </remarks>
internal sealed class OnnxGraphSummary
{
    private OnnxGraphSummary(List<GraphNode> nodes, Dictionary<string, long[]> initializers, List<string> inputs, HashSet<string> externalDataFiles)
    {
        Nodes = nodes;
        Initializers = initializers;
        Inputs = inputs;
        ExternalDataFiles = externalDataFiles;
    }

    /// <summary>
    /// The files the initializers keep their data in (<c>external_data</c> "location", relative to the model's folder):
    /// <c>model.onnx.data</c> (torch.onnx) or <c>model.onnx_data</c> (optimum, Transformers.js); empty when the weights
    /// are inside the file.
    /// </summary>
    public IReadOnlySet<string> ExternalDataFiles { get; }

    /// <summary>The main graph's nodes, in file order.</summary>
    public IReadOnlyList<GraphNode> Nodes { get; }

    /// <summary>Initializer dims by name (also the values of <c>Constant</c> nodes, by output name).</summary>
    public IReadOnlyDictionary<string, long[]> Initializers { get; }

    /// <summary>Names of the graph inputs.</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>Reads the graph of an ONNX file.</summary>
    /// <exception cref="InvalidDataException">The file is not protobuf of the expected shape.</exception>
    /// <exception cref="EndOfStreamException">The file ends inside a message.</exception>
    public static OnnxGraphSummary Read(string modelPath)
    {
        using var stream = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(stream);
    }

    /// <inheritdoc cref="Read(string)"/>
    public static OnnxGraphSummary Read(Stream stream)
    {
        var nodes = new List<GraphNode>();
        var initializers = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var inputs = new List<string>();
        var externalDataFiles = new HashSet<string>(StringComparer.Ordinal);
        var end = stream.Length;
        while (stream.Position < end)
        {
            var (field, wire) = ProtobufWire.ReadTag(stream);
            if (field != 7 || wire != 2)
            {
                ProtobufWire.SkipField(stream, wire);
                continue;
            }

            var graphLength = (long)ProtobufWire.ReadVarint(stream);
            var graphEnd = checked(stream.Position + graphLength);
            if (graphEnd > end)
            {
                throw new InvalidDataException("The ONNX graph is truncated.");
            }

            while (stream.Position < graphEnd)
            {
                var (graphField, graphWire) = ProtobufWire.ReadTag(stream);
                if (graphWire != 2 || graphField is not (1 or 5 or 11))
                {
                    ProtobufWire.SkipField(stream, graphWire);
                    continue;
                }

                var length = checked((long)ProtobufWire.ReadVarint(stream));
                var messageEnd = checked(stream.Position + length);
                if (messageEnd > graphEnd)
                {
                    throw new InvalidDataException("An ONNX graph message is truncated.");
                }

                switch (graphField)
                {
                    case 1:
                        var node = new byte[checked((int)length)];
                        stream.ReadExactly(node);
                        var parsed = ParseNode(node);
                        nodes.Add(parsed.Node);
                        if (parsed.ConstantDims is { } dims && parsed.Node.Outputs.Count == 1)
                        {
                            initializers[parsed.Node.Outputs[0]] = dims;
                        }

                        break;
                    case 5:
                        var (name, tensorDims, location) = ReadTensorHeader(stream, messageEnd);
                        if (name is not null)
                        {
                            initializers[name] = tensorDims;
                        }

                        if (location is not null)
                        {
                            externalDataFiles.Add(location);
                        }

                        break;
                    default:
                        var valueInfo = new byte[checked((int)length)];
                        stream.ReadExactly(valueInfo);
                        var (start, nameLength) = ProtobufWire.FindLengthDelimited(valueInfo, 1);
                        if (start >= 0)
                        {
                            inputs.Add(Encoding.UTF8.GetString(valueInfo, start, nameLength));
                        }

                        break;
                }

                stream.Position = messageEnd;
            }

            break;
        }

        return new OnnxGraphSummary(nodes, initializers, inputs, externalDataFiles);
    }

    /// <summary>
    /// The dims of the 2-D table that a tensor name stands for: an initializer (or a <c>Constant</c>), possibly through
    /// <c>Identity</c>, <c>Cast</c> or <c>DequantizeLinear</c> (a quantized table keeps its shape).
    /// </summary>
    /// <returns>The table's name and dims, or <see langword="null"/> when the tensor is computed some other way.</returns>
    public (string Name, long[] Dims)? ResolveTable(string tensor)
    {
        for (var hops = 0; hops < 8; hops++)
        {
            if (Initializers.TryGetValue(tensor, out var dims))
            {
                return (tensor, dims);
            }

            var producer = Nodes.FirstOrDefault(n => n.Outputs.Contains(tensor, StringComparer.Ordinal));
            if (producer is null || producer.OpType is not ("Identity" or "Cast" or "DequantizeLinear") || producer.Inputs.Count == 0)
            {
                return null;
            }

            tensor = producer.Inputs[0];
        }

        return null;
    }

    private static (GraphNode Node, long[]? ConstantDims) ParseNode(byte[] node)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        var opType = string.Empty;
        long[]? constantDims = null;
        var span = node.AsSpan();
        var position = 0;
        while (position < span.Length)
        {
            var tag = ProtobufWire.ReadVarint(span, ref position);
            var field = (int)(tag >> 3);
            var wire = (int)(tag & 7);
            if (wire != 2)
            {
                ProtobufWire.SkipField(span, ref position, wire);
                continue;
            }

            var length = checked((int)ProtobufWire.ReadVarint(span, ref position));
            if (length < 0 || position + length > span.Length)
            {
                throw new InvalidDataException("An ONNX node is truncated.");
            }

            var value = span.Slice(position, length);
            switch (field)
            {
                case 1:
                    inputs.Add(Encoding.UTF8.GetString(value));
                    break;
                case 2:
                    outputs.Add(Encoding.UTF8.GetString(value));
                    break;
                case 4:
                    opType = Encoding.UTF8.GetString(value);
                    break;
                case 5:
                    // AttributeProto: a Constant's "value" tensor (field 5, t) carries its dims.
                    var (tensorStart, tensorLength) = ProtobufWire.FindLengthDelimited(value, 5);
                    if (tensorStart >= 0)
                    {
                        constantDims = TensorDims(value.Slice(tensorStart, tensorLength));
                    }

                    break;
            }

            position += length;
        }

        return (new GraphNode(opType, inputs, outputs), opType == "Constant" ? constantDims : null);
    }

    /// <summary>Reads a TensorProto's name, dims and external data location, seeking over its data.</summary>
    private static (string? Name, long[] Dims, string? Location) ReadTensorHeader(Stream stream, long messageEnd)
    {
        string? name = null;
        string? location = null;
        var dims = new List<long>();
        while (stream.Position < messageEnd)
        {
            var (field, wire) = ProtobufWire.ReadTag(stream);
            if (field == 1 && wire == 0)
            {
                dims.Add((long)ProtobufWire.ReadVarint(stream));
            }
            else if (field == 1 && wire == 2)
            {
                // Packed dims.
                var packedLength = (long)ProtobufWire.ReadVarint(stream);
                var packedEnd = checked(stream.Position + packedLength);
                while (stream.Position < packedEnd)
                {
                    dims.Add((long)ProtobufWire.ReadVarint(stream));
                }
            }
            else if (field == 8 && wire == 2)
            {
                var bytes = new byte[checked((int)ProtobufWire.ReadVarint(stream))];
                stream.ReadExactly(bytes);
                name = Encoding.UTF8.GetString(bytes);
            }
            else if (field == 13 && wire == 2)
            {
                // external_data: StringStringEntryProto { key = 1, value = 2 }; the file is the "location" entry.
                var entry = new byte[checked((int)ProtobufWire.ReadVarint(stream))];
                stream.ReadExactly(entry);
                var (keyStart, keyLength) = ProtobufWire.FindLengthDelimited(entry, 1);
                var (valueStart, valueLength) = ProtobufWire.FindLengthDelimited(entry, 2);
                if (keyStart >= 0 && valueStart >= 0 && Encoding.UTF8.GetString(entry, keyStart, keyLength) == "location")
                {
                    location = Encoding.UTF8.GetString(entry, valueStart, valueLength);
                }
            }
            else
            {
                ProtobufWire.SkipField(stream, wire);
            }
        }

        return (name, [.. dims], location);
    }

    private static long[] TensorDims(ReadOnlySpan<byte> tensor)
    {
        var dims = new List<long>();
        var position = 0;
        while (position < tensor.Length)
        {
            var tag = ProtobufWire.ReadVarint(tensor, ref position);
            var field = (int)(tag >> 3);
            var wire = (int)(tag & 7);
            if (field == 1 && wire == 0)
            {
                dims.Add((long)ProtobufWire.ReadVarint(tensor, ref position));
            }
            else if (field == 1 && wire == 2)
            {
                var packedLength = checked((int)ProtobufWire.ReadVarint(tensor, ref position));
                var packedEnd = position + packedLength;
                while (position < packedEnd)
                {
                    dims.Add((long)ProtobufWire.ReadVarint(tensor, ref position));
                }
            }
            else
            {
                ProtobufWire.SkipField(tensor, ref position, wire);
            }
        }

        return [.. dims];
    }
}

/// <summary>One node of an ONNX graph: its operator and the names of its inputs and outputs.</summary>
internal sealed record GraphNode(string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

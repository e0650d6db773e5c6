using System.Text;

namespace Reranker.Inference;

/// <summary>
/// Reads which operators an ONNX file's main graph uses, without loading its weights: walks the protobuf wire format
/// (ModelProto field 7 = graph, GraphProto field 1 = node, NodeProto field 4 = op_type) and seeks over everything
/// else, so a model with embedded weights costs a few reads, not its size in memory.
/// </summary>
internal static class OnnxModelScan
{
    /// <summary>
    /// Operators that quantize an activation with a scale computed from the tensor at run time (ONNX Runtime's
    /// dynamic quantization): with them, a row's result depends on the other rows of the batch.
    /// </summary>
    private static readonly HashSet<string> DynamicQuantizationOps = new(StringComparer.Ordinal)
    {
        "DynamicQuantizeLinear",
        "DynamicQuantizeMatMul",
        "DynamicQuantizeLSTM",
        "QAttention",
    };

    /// <summary>Whether the model quantizes activations dynamically, so that batch-mates change each other's results.</summary>
    /// <remarks>A file this reader cannot follow counts as quantized: running pairs one by one is always correct.</remarks>
    public static bool UsesDynamicQuantization(string modelPath)
    {
        try
        {
            using var stream = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            return OpTypes(stream).Overlaps(DynamicQuantizationOps);
        }
        catch (InvalidDataException)
        {
            return true;
        }
        catch (EndOfStreamException)
        {
            return true;
        }
    }

    /// <summary>
    /// Whether the model already holds <c>MultiHeadAttention</c> nodes (written so by an exporter, as
    /// <c>reranker export --multi-head-attention</c> does): they may have no padding mask, so such a model is run
    /// without padding, like one rewritten at load time.
    /// </summary>
    /// <remarks>A file this reader cannot follow counts as having them: batches without padding are always correct.</remarks>
    public static bool UsesMultiHeadAttention(string modelPath)
    {
        try
        {
            using var stream = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            return OpTypes(stream).Contains("MultiHeadAttention");
        }
        catch (InvalidDataException)
        {
            return true;
        }
        catch (EndOfStreamException)
        {
            return true;
        }
    }

    /// <summary>The op_type of every node of the main graph (not of subgraphs inside attributes).</summary>
    /// <exception cref="InvalidDataException">The stream is not protobuf of the expected shape.</exception>
    internal static HashSet<string> OpTypes(Stream stream)
    {
        var ops = new HashSet<string>(StringComparer.Ordinal);
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
            while (stream.Position < graphEnd)
            {
                var (graphField, graphWire) = ProtobufWire.ReadTag(stream);
                if (graphField != 1 || graphWire != 2)
                {
                    ProtobufWire.SkipField(stream, graphWire);
                    continue;
                }

                var node = new byte[checked((int)ProtobufWire.ReadVarint(stream))];
                stream.ReadExactly(node);
                if (NodeOpType(node) is { } op)
                {
                    ops.Add(op);
                }
            }

            break;
        }

        return ops;
    }

    private static string? NodeOpType(ReadOnlySpan<byte> node)
    {
        // NodeProto.op_type is field 4.
        var (start, length) = ProtobufWire.FindLengthDelimited(node, 4);
        return start < 0 ? null : Encoding.UTF8.GetString(node.Slice(start, length));
    }
}

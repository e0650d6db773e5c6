namespace Reranker.Inference;

/// <summary>
/// The few protobuf wire-format reads this library needs on files it does not otherwise parse (a field of a
/// SentencePiece model, the op types of ONNX nodes), without generated message classes.
/// </summary>
internal static class ProtobufWire
{
    /// <summary>Finds the first length-delimited occurrence of <paramref name="field"/> in a message.</summary>
    /// <returns>Its bytes' start and length in <paramref name="message"/>, or (-1, 0) when the field is absent.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed protobuf message.</exception>
    public static (int Start, int Length) FindLengthDelimited(ReadOnlySpan<byte> message, int field)
    {
        var position = 0;
        while (position < message.Length)
        {
            var tag = ReadVarint(message, ref position);
            var wire = (int)(tag & 7);
            var skip = wire switch
            {
                0 => 0,
                1 => 8,
                2 => checked((int)ReadVarint(message, ref position)),
                5 => 4,
                _ => throw new InvalidDataException($"Unexpected protobuf wire type {wire}."),
            };
            if (wire == 0)
            {
                ReadVarint(message, ref position);
            }

            if (skip < 0 || position + skip > message.Length)
            {
                throw new InvalidDataException("A protobuf message is truncated.");
            }

            if (wire == 2 && (int)(tag >> 3) == field)
            {
                return (position, skip);
            }

            position += skip;
        }

        return (-1, 0);
    }

    /// <summary>Reads a varint at <paramref name="position"/> and moves past it.</summary>
    /// <exception cref="InvalidDataException">The data ends inside the varint, or it is longer than 10 bytes.</exception>
    public static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length)
            {
                throw new InvalidDataException("A protobuf message ends inside a varint.");
            }

            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("A protobuf varint is longer than 10 bytes.");
    }
}

namespace Reranker.Inference;

/// <summary>
/// The few protobuf wire-format reads this library needs on files it does not otherwise parse (a field of a
/// SentencePiece model, the op types and table shapes of ONNX graphs), without generated message classes: over a
/// span of bytes, or over a stream that is read once from the start (an ONNX file, without loading its weights).
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

    /// <summary>Moves <paramref name="position"/> past one field's value of wire type <paramref name="wire"/>.</summary>
    /// <exception cref="InvalidDataException">The wire type is unknown, or the value runs past the data.</exception>
    public static void SkipField(ReadOnlySpan<byte> data, ref int position, int wire)
    {
        switch (wire)
        {
            case 0:
                ReadVarint(data, ref position);
                break;
            case 1:
                position += 8;
                break;
            case 2:
                var length = checked((int)ReadVarint(data, ref position));
                position += length;
                break;
            case 5:
                position += 4;
                break;
            default:
                throw new InvalidDataException($"Unexpected protobuf wire type {wire}.");
        }

        if (position > data.Length)
        {
            throw new InvalidDataException("A protobuf message is truncated.");
        }
    }

    /// <summary>Reads a field tag from <paramref name="stream"/>: its field number and wire type.</summary>
    /// <exception cref="EndOfStreamException">The stream ends inside the tag.</exception>
    /// <exception cref="InvalidDataException">The tag's varint is longer than 10 bytes.</exception>
    public static (int Field, int Wire) ReadTag(Stream stream)
    {
        var tag = ReadVarint(stream);
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    /// <summary>Moves <paramref name="stream"/> past one field's value of wire type <paramref name="wire"/>.</summary>
    /// <exception cref="EndOfStreamException">The stream ends inside a varint.</exception>
    /// <exception cref="InvalidDataException">The wire type is unknown.</exception>
    public static void SkipField(Stream stream, int wire)
    {
        switch (wire)
        {
            case 0:
                ReadVarint(stream);
                return;
            case 1:
                stream.Seek(8, SeekOrigin.Current);
                return;
            case 2:
                stream.Seek(checked((long)ReadVarint(stream)), SeekOrigin.Current);
                return;
            case 5:
                stream.Seek(4, SeekOrigin.Current);
                return;
            default:
                throw new InvalidDataException($"Unexpected protobuf wire type {wire}.");
        }
    }

    /// <summary>Reads a varint from <paramref name="stream"/>.</summary>
    /// <exception cref="EndOfStreamException">The stream ends inside the varint.</exception>
    /// <exception cref="InvalidDataException">The varint is longer than 10 bytes.</exception>
    public static ulong ReadVarint(Stream stream)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = stream.ReadByte();
            if (b < 0)
            {
                throw new EndOfStreamException("The ONNX file ends inside a protobuf varint.");
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("A protobuf varint is longer than 10 bytes.");
    }
}

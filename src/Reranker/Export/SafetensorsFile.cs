using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Reranker.Export;

/// <summary>
/// A memory-mapped <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data. Tensors are read on demand, range by
/// range, so a multi-gigabyte file never sits in managed memory.
/// </summary>
internal sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile? map;
    private readonly MemoryMappedViewAccessor? view;
    private readonly byte* basePointer;
    private readonly long dataStart;
    private readonly Dictionary<string, Entry> entries;

    /// <summary>One tensor of the header.</summary>
    internal sealed record Entry(string Name, string DType, long[] Shape, long Begin, long End)
    {
        public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, Entry> Entries => entries;

    public SafetensorsFile(string path)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; this reader needs a little-endian machine");
        }

        Path = path;
        long length;
        Span<byte> prefix = stackalloc byte[8];
        using (var f = File.OpenRead(path))
        {
            // The opened file's length, not FileInfo's: in a hub snapshot the path is a symlink to the blob, and
            // FileInfo reports the link's own size.
            length = f.Length;
            if (length < 8)
            {
                throw new InvalidDataException($"{path}: {length} bytes, too short for a safetensors header");
            }

            f.ReadExactly(prefix);
            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > (ulong)(length - 8) || headerLength > 100_000_000)
            {
                throw new InvalidDataException(
                    $"{path}: header length {headerLength} does not fit the file ({length} bytes); the file is truncated or not safetensors");
            }

            var header = new byte[headerLength];
            f.ReadExactly(header);
            dataStart = 8 + (long)headerLength;
            entries = ParseHeader(header, path);
        }

        var dataLength = length - dataStart;
        foreach (var e in entries.Values)
        {
            if (e.End > dataLength)
            {
                throw new InvalidDataException(
                    $"{path} is truncated: tensor {e.Name} needs data bytes up to {e.End}, the file has {dataLength} after its header");
            }
        }

        if (length > dataStart)
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            basePointer = p + view.PointerOffset;
        }
    }

    private static Dictionary<string, Entry> ParseHeader(byte[] header, string path)
    {
        var result = new Dictionary<string, Entry>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(header);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    continue;
                }

                var dtype = prop.Value.GetProperty("dtype").GetString() ?? "";
                var shape = prop.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var offsets = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || shape.Any(d => d < 0))
                {
                    throw new InvalidDataException($"{path}: tensor {prop.Name} has invalid data_offsets or shape");
                }

                var entry = new Entry(prop.Name, dtype, shape, offsets[0], offsets[1]);
                var size = ElementSize(dtype);
                if (size > 0 && entry.ElementCount * size != entry.End - entry.Begin)
                {
                    throw new InvalidDataException(
                        $"{path}: tensor {prop.Name} ({dtype} [{string.Join(", ", shape)}]) spans {entry.End - entry.Begin} bytes, expected {entry.ElementCount * size}");
                }

                result[prop.Name] = entry;
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not valid: {e.Message}", e);
        }

        return result;
    }

    /// <summary>Bytes per element of a safetensors dtype; 0 for dtypes this reader does not know.</summary>
    internal static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    /// <summary>Copies elements [start, start + destination.Length) of a float tensor, upcast to float32.</summary>
    public void Read(Entry e, long start, Span<float> destination)
    {
        if (start < 0 || start + destination.Length > e.ElementCount)
        {
            throw new ArgumentOutOfRangeException(nameof(start));
        }

        var p = basePointer + dataStart + e.Begin;
        switch (e.DType)
        {
            case "F32":
                new ReadOnlySpan<float>(p + (start * 4), destination.Length).CopyTo(destination);
                break;
            case "F16":
                var halves = new ReadOnlySpan<Half>(p + (start * 2), destination.Length);
                for (var i = 0; i < halves.Length; i++)
                {
                    destination[i] = (float)halves[i];
                }

                break;
            case "BF16":
                var bits = new ReadOnlySpan<ushort>(p + (start * 2), destination.Length);
                var asInt = MemoryMarshal.Cast<float, uint>(destination);
                for (var i = 0; i < bits.Length; i++)
                {
                    asInt[i] = (uint)bits[i] << 16;
                }

                break;
            default:
                throw new NotSupportedException(
                    $"{Path}: tensor {e.Name} has dtype {e.DType}; only F32, F16 and BF16 weights are supported");
        }
    }

    public void Dispose()
    {
        if (view is not null)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }

        map?.Dispose();
    }
}

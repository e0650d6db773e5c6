using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Reranker.Export;
using static Reranker.Tests.Export.ExportTestSupport;

namespace Reranker.Tests.Export;

/// <summary>Half-precision safetensors weights are upcast exactly, and such a snapshot exports.</summary>
public sealed class SafetensorsReadTests : IDisposable
{
    private readonly string snapshot = CopyTinySnapshot();
    private readonly string outRoot = NewTempDir();

    public void Dispose()
    {
        DeleteQuietly(snapshot);
        DeleteQuietly(outRoot);
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Half_precision_weights_are_upcast_and_export(string dtype)
    {
        var path = Path.Combine(snapshot, "model.safetensors");
        var original = ReadF32(path);
        WriteHalf(path, original, dtype);

        // Each value read back is the float32 value of its 16-bit encoding.
        using (var file = new SafetensorsFile(path))
        {
            foreach (var (name, values) in original)
            {
                var e = file.Entries[name];
                Assert.Equal(dtype, e.DType);
                var read = new float[values.Length];
                file.Read(e, 0, read);
                for (var i = 0; i < values.Length; i++)
                {
                    var expected = dtype == "F16"
                        ? (float)(Half)values[i]
                        : BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(values[i]) & unchecked((int)0xFFFF0000));
                    Assert.Equal(expected, read[i]);
                }
            }
        }

        // The half-precision snapshot exports and still ranks like the fp32 reference (weights rounded, so loosely).
        var result = ModelExporter.Export(ExportSource.FromSnapshot(snapshot), Path.Combine(outRoot, dtype));
        var rows = Pairs.Where(p => p.InputIds.Length <= 512).Take(16).ToArray();
        var logits = Logits(result.ModelPath, rows.Select(p => p.InputIds));
        AssertClose(logits, rows.Select(p => p.Logit).ToArray(), dtype == "F16" ? 0.01 : 0.1, dtype + " snapshot vs torch fp32");
    }

    private static Dictionary<string, float[]> ReadF32(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, headerLength))!.AsObject();
        var result = new Dictionary<string, float[]>();
        foreach (var (name, entry) in header)
        {
            if (name == "__metadata__")
            {
                continue;
            }

            var offsets = entry!["data_offsets"]!.AsArray().Select(n => (int)n!).ToArray();
            result[name] = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(8 + headerLength + offsets[0], offsets[1] - offsets[0])).ToArray();
        }

        return result;
    }

    private static void WriteHalf(string path, Dictionary<string, float[]> tensors, string dtype)
    {
        var original = File.ReadAllBytes(path);
        var oldHeader = JsonNode.Parse(original.AsSpan(8, (int)BinaryPrimitives.ReadUInt64LittleEndian(original)))!.AsObject();
        var header = new JsonObject();
        using var data = new MemoryStream();
        foreach (var (name, values) in tensors)
        {
            var begin = data.Position;
            foreach (var v in values)
            {
                var bits = dtype == "F16" ? BitConverter.HalfToUInt16Bits((Half)v) : (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16);
                data.WriteByte((byte)bits);
                data.WriteByte((byte)(bits >> 8));
            }

            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = oldHeader[name]!["shape"]!.DeepClone(),
                ["data_offsets"] = new JsonArray(begin, data.Position),
            };
        }

        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var f = File.Create(path);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)headerBytes.Length);
        f.Write(prefix);
        f.Write(headerBytes);
        data.Position = 0;
        data.CopyTo(f);
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Reranker.Export;

/// <summary>
/// Float32 parameters by Hugging Face name and torch layout, read range by range so that no caller needs a
/// whole embedding table in memory.
/// </summary>
internal abstract class WeightSource : IDisposable
{
    protected WeightSource(XlmRobertaConfig config)
    {
        Config = config;
        Shapes = config.ParameterShapes().ToDictionary(p => p.Name, p => p.Shape, StringComparer.Ordinal);
    }

    public XlmRobertaConfig Config { get; }

    /// <summary>The expected parameters and their shapes.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes { get; }

    public long ElementCount(string name) => Shapes[name].Aggregate(1L, (a, b) => a * b);

    /// <summary>Copies elements [start, start + destination.Length) of a parameter (row-major, torch layout).</summary>
    public abstract void Read(string name, long start, Span<float> destination);

    /// <summary>A whole parameter as a new array (only for tensors well below 2 GiB).</summary>
    public float[] ReadAll(string name)
    {
        var a = new float[checked((int)ElementCount(name))];
        Read(name, 0, a);
        return a;
    }

    public virtual void Dispose()
    {
    }
}

/// <summary>Weights of a Hugging Face snapshot's <c>model.safetensors</c>, checked against the config up front.</summary>
internal sealed class SafetensorsWeightSource : WeightSource
{
    private readonly SafetensorsFile file;

    public SafetensorsWeightSource(XlmRobertaConfig config, string path)
        : base(config)
    {
        file = new SafetensorsFile(path);
        try
        {
            foreach (var (name, shape) in Shapes)
            {
                if (!file.Entries.TryGetValue(name, out var e))
                {
                    throw new InvalidDataException($"{path}: tensor {name} is missing (the config needs it with shape [{string.Join(", ", shape)}])");
                }

                if (!e.Shape.SequenceEqual(shape))
                {
                    throw new InvalidDataException(
                        $"{path}: tensor {name} has shape [{string.Join(", ", e.Shape)}], config.json implies [{string.Join(", ", shape)}]");
                }

                if (e.DType is not ("F32" or "F16" or "BF16"))
                {
                    throw new NotSupportedException($"{path}: tensor {name} has dtype {e.DType}; only F32, F16 and BF16 are supported");
                }
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public override void Read(string name, long start, Span<float> destination) =>
        file.Read(file.Entries[name], start, destination);

    public override void Dispose() => file.Dispose();
}

/// <summary>
/// Seeded random weights with Hugging Face's initialization of this architecture: normal(0, initializer_range)
/// for matrices and embedding tables (the padding rows of the word and position tables zeroed), zero biases,
/// LayerNorm weight 1 and bias 0. Values come in fixed blocks of <see cref="BlockSize"/> elements, each from its
/// own generator seeded by (seed, parameter name, block index), so any read order and any parallelism give the
/// same numbers.
/// </summary>
internal sealed class RandomWeightSource : WeightSource
{
    public const int BlockSize = 1 << 16;
    private readonly ulong seed;

    public RandomWeightSource(XlmRobertaConfig config, long seed)
        : base(config) => this.seed = (ulong)seed;

    public override void Read(string name, long start, Span<float> destination)
    {
        if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
        {
            destination.Fill(1f);
            return;
        }

        if (name.EndsWith(".bias", StringComparison.Ordinal))
        {
            destination.Clear();
            return;
        }

        var nameHash = Fnv1a(name);
        var std = (float)Config.InitializerRange;
        var end = start + destination.Length;
        var firstBlock = start / BlockSize;
        var blockCount = (int)(((end + BlockSize - 1) / BlockSize) - firstBlock);
        unsafe
        {
            fixed (float* dst = destination)
            {
                var dstAddress = (nint)dst;
                Parallel.For(0, blockCount, () => new float[BlockSize], (k, _, block) =>
                {
                    var b = firstBlock + k;
                    FillBlock(nameHash, b, block, std);
                    var blockStart = b * BlockSize;
                    var from = Math.Max(start, blockStart);
                    var to = Math.Min(end, blockStart + BlockSize);
                    block.AsSpan((int)(from - blockStart), (int)(to - from))
                        .CopyTo(new Span<float>((float*)dstAddress + (from - start), (int)(to - from)));
                    return block;
                }, _ => { });
            }
        }

        if (name.EndsWith("word_embeddings.weight", StringComparison.Ordinal) ||
            (!Config.IsBert && name.EndsWith("position_embeddings.weight", StringComparison.Ordinal)))
        {
            // padding_idx row is zero (BERT's position table has no padding_idx)
            var width = Shapes[name][1];
            var padFrom = Config.PadTokenId * width;
            var from = Math.Max(start, padFrom);
            var to = Math.Min(end, padFrom + width);
            if (from < to)
            {
                destination.Slice((int)(from - start), (int)(to - from)).Clear();
            }
        }
    }

    private void FillBlock(ulong nameHash, long blockIndex, float[] block, float std)
    {
        var state = seed * 0x9E3779B97F4A7C15UL ^ nameHash ^ ((ulong)blockIndex * 0xD1B54A32D192ED03UL);
        for (var i = 0; i < block.Length; i += 2)
        {
            // Box-Muller on two uniforms in (0, 1].
            var u1 = ((SplitMix64(ref state) >> 11) + 1) * (1.0 / (1UL << 53));
            var u2 = (SplitMix64(ref state) >> 11) * (1.0 / (1UL << 53));
            var r = Math.Sqrt(-2.0 * Math.Log(u1));
            var (sin, cos) = Math.SinCos(2.0 * Math.PI * u2);
            block[i] = (float)(r * cos) * std;
            block[i + 1] = (float)(r * sin) * std;
        }
    }

    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Fnv1a(string s)
    {
        var h = 0xCBF29CE484222325UL;
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            h = (h ^ b) * 0x100000001B3UL;
        }

        return BinaryPrimitives.ReverseEndianness(h);
    }
}

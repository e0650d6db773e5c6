namespace Reranker.Export;

/// <summary>
/// The arithmetic of ONNX Runtime's <c>quantize_dynamic(weight_type=QInt8, per_channel=True)</c>, reproduced
/// step by step in the same float precisions so the quantized tensors come out bit-identical.
/// </summary>
internal static class Int8Quantizer
{
    /// <summary>The smallest positive normal float32 (numpy's finfo(float32).tiny).</summary>
    private const double SmallestNormalFloat = 1.1754943508222875e-38;

    /// <summary>
    /// Symmetric int8 per output column of a row-major [rows = in, cols = out] MatMul weight:
    /// scale = (2·max|w|, in float32) / 254 in float64, stored as float32 (1 where it would underflow);
    /// q = round-half-even(w / scale) in float32, clipped to [-128, 127]; zero point 0.
    /// </summary>
    public static (sbyte[] Q, float[] Scale) PerColumnSymmetric(ReadOnlySpan<float> w, int rows, int cols)
    {
        var absmax = new float[cols];
        for (var r = 0; r < rows; r++)
        {
            var row = w.Slice(r * cols, cols);
            for (var c = 0; c < cols; c++)
            {
                var a = MathF.Abs(row[c]);
                if (a > absmax[c])
                {
                    absmax[c] = a;
                }
            }
        }

        var scale = new float[cols];
        for (var c = 0; c < cols; c++)
        {
            var s = (double)(2f * absmax[c]) / 254.0;
            scale[c] = s < SmallestNormalFloat ? 1f : (float)s;
        }

        var q = new sbyte[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            var row = w.Slice(r * cols, cols);
            var qrow = q.AsSpan(r * cols, cols);
            for (var c = 0; c < cols; c++)
            {
                var v = MathF.Round(row[c] / scale[c], MidpointRounding.ToEven);
                qrow[c] = (sbyte)Math.Clamp(v, -128f, 127f);
            }
        }

        return (q, scale);
    }

    /// <summary>
    /// Asymmetric uint8 parameters over a whole tensor, from its min and max (each widened to include 0):
    /// scale = float32(rmax - rmin) / 255 in float64, stored as float32; zero point = round-half-even(-rmin / scale).
    /// </summary>
    public static (float Scale, byte ZeroPoint) PerTensorUint8Params(float min, float max)
    {
        var rmin = MathF.Min(min, 0f);
        var rmax = MathF.Max(max, 0f);
        var scale = (double)(rmax - rmin) / 255.0;
        if (scale < SmallestNormalFloat)
        {
            return (1f, 0);
        }

        var s = (float)scale;
        return (s, (byte)Math.Clamp(MathF.Round(-rmin / s, MidpointRounding.ToEven), 0f, 255f));
    }

    /// <summary>q = clip(round-half-even(x / scale) + zeroPoint, 0, 255), in float32 as numpy computes it.</summary>
    public static void QuantizeUint8(ReadOnlySpan<float> x, float scale, byte zeroPoint, Span<byte> q)
    {
        float zp = zeroPoint;
        for (var i = 0; i < x.Length; i++)
        {
            var v = MathF.Round(x[i] / scale, MidpointRounding.ToEven) + zp;
            q[i] = (byte)Math.Clamp(v, 0f, 255f);
        }
    }
}

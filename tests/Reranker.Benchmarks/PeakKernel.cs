using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Reranker.Benchmarks;

/// <summary>
/// The machine's arithmetic peak, measured: chains of independent register-only multiply-adds on every core at once.
/// fp32: AVX-512 <c>vfmadd</c> on zmm (16 lanes × 2 FLOP); int8: AVX-VNNI <c>vpdpbusd</c> on ymm (32 u8×s8 MACs × 2 ops),
/// where the CPU has it (Intel since Alder Lake / Sapphire Rapids; AMD Zen 4 and 5 have only the AVX-512 form, which
/// .NET 10 does not expose, so the int8 figures are then 0 and the C kernel of bench/peak/peak.c measures it).
/// 16 accumulators hide the FMA latency. No memory traffic, so no real kernel can beat these numbers; they are the
/// denominators of "percent of peak".
/// </summary>
internal static class PeakKernel
{
    private const int Accumulators = 16;

    public static (double Fp32PerThread, double Fp32AllCores, double Int8PerThread, double Int8AllCores) Measure(int cores)
    {
        if (!Avx512F.IsSupported)
        {
            throw new PlatformNotSupportedException("The peak kernel needs AVX-512F.");
        }

        const long fmaIterations = 100_000_000;  // ≈ 0.45 s on one Zen 4 core
        const long vnniIterations = 100_000_000;
        Warm();
        double Best(Func<double> f) => Enumerable.Range(0, 3).Select(_ => f()).Max();
        var fp32One = Best(() => Run(1, () => FmaLoop(fmaIterations)) is var s ? fmaIterations * Accumulators * 16 * 2.0 / s : 0);
        var fp32All = Best(() => Run(cores, () => FmaLoop(fmaIterations)) is var s ? cores * fmaIterations * Accumulators * 16 * 2.0 / s : 0);
        var int8One = AvxVnni.IsSupported ? Best(() => Run(1, () => VnniLoop(vnniIterations)) is var s ? vnniIterations * Accumulators * 32 * 2.0 / s : 0) : 0;
        var int8All = AvxVnni.IsSupported ? Best(() => Run(cores, () => VnniLoop(vnniIterations)) is var s ? cores * vnniIterations * Accumulators * 32 * 2.0 / s : 0) : 0;
        return (fp32One, fp32All, int8One, int8All);
    }

    private static void Warm()
    {
        FmaLoop(1000);
        if (AvxVnni.IsSupported)
        {
            VnniLoop(1000);
        }
    }

    /// <returns>Wall seconds for <paramref name="threads"/> threads each running <paramref name="body"/> once.</returns>
    private static double Run(int threads, Func<float> body)
    {
        using var start = new Barrier(threads + 1);
        var sink = new float[threads];
        var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            sink[i] = body();
        })).ToList();
        workers.ForEach(w => w.Start());
        start.SignalAndWait();
        var watch = Stopwatch.StartNew();
        workers.ForEach(w => w.Join());
        var seconds = watch.Elapsed.TotalSeconds;
        GC.KeepAlive(sink);
        return seconds;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop(long iterations)
    {
        var a = Vector512.Create(0.9999999f);
        var b = Vector512.Create(1e-7f);
        Vector512<float> c0 = Vector512.Create(0.10f), c1 = Vector512.Create(0.11f), c2 = Vector512.Create(0.12f), c3 = Vector512.Create(0.13f);
        Vector512<float> c4 = Vector512.Create(0.14f), c5 = Vector512.Create(0.15f), c6 = Vector512.Create(0.16f), c7 = Vector512.Create(0.17f);
        Vector512<float> c8 = Vector512.Create(0.18f), c9 = Vector512.Create(0.19f), c10 = Vector512.Create(0.20f), c11 = Vector512.Create(0.21f);
        Vector512<float> c12 = Vector512.Create(0.22f), c13 = Vector512.Create(0.23f), c14 = Vector512.Create(0.24f), c15 = Vector512.Create(0.25f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, a, b);
            c1 = Avx512F.FusedMultiplyAdd(c1, a, b);
            c2 = Avx512F.FusedMultiplyAdd(c2, a, b);
            c3 = Avx512F.FusedMultiplyAdd(c3, a, b);
            c4 = Avx512F.FusedMultiplyAdd(c4, a, b);
            c5 = Avx512F.FusedMultiplyAdd(c5, a, b);
            c6 = Avx512F.FusedMultiplyAdd(c6, a, b);
            c7 = Avx512F.FusedMultiplyAdd(c7, a, b);
            c8 = Avx512F.FusedMultiplyAdd(c8, a, b);
            c9 = Avx512F.FusedMultiplyAdd(c9, a, b);
            c10 = Avx512F.FusedMultiplyAdd(c10, a, b);
            c11 = Avx512F.FusedMultiplyAdd(c11, a, b);
            c12 = Avx512F.FusedMultiplyAdd(c12, a, b);
            c13 = Avx512F.FusedMultiplyAdd(c13, a, b);
            c14 = Avx512F.FusedMultiplyAdd(c14, a, b);
            c15 = Avx512F.FusedMultiplyAdd(c15, a, b);
        }

        var sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15;
        return Vector512.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float VnniLoop(long iterations)
    {
        var a = Vector256.Create((byte)3);
        var b = Vector256.Create((sbyte)-2);
        Vector256<int> c0 = Vector256.Create(0), c1 = Vector256.Create(1), c2 = Vector256.Create(2), c3 = Vector256.Create(3);
        Vector256<int> c4 = Vector256.Create(4), c5 = Vector256.Create(5), c6 = Vector256.Create(6), c7 = Vector256.Create(7);
        Vector256<int> c8 = Vector256.Create(8), c9 = Vector256.Create(9), c10 = Vector256.Create(10), c11 = Vector256.Create(11);
        Vector256<int> c12 = Vector256.Create(12), c13 = Vector256.Create(13), c14 = Vector256.Create(14), c15 = Vector256.Create(15);
        for (long i = 0; i < iterations; i++)
        {
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, a, b);
            c1 = AvxVnni.MultiplyWideningAndAdd(c1, a, b);
            c2 = AvxVnni.MultiplyWideningAndAdd(c2, a, b);
            c3 = AvxVnni.MultiplyWideningAndAdd(c3, a, b);
            c4 = AvxVnni.MultiplyWideningAndAdd(c4, a, b);
            c5 = AvxVnni.MultiplyWideningAndAdd(c5, a, b);
            c6 = AvxVnni.MultiplyWideningAndAdd(c6, a, b);
            c7 = AvxVnni.MultiplyWideningAndAdd(c7, a, b);
            c8 = AvxVnni.MultiplyWideningAndAdd(c8, a, b);
            c9 = AvxVnni.MultiplyWideningAndAdd(c9, a, b);
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, a, b);
            c11 = AvxVnni.MultiplyWideningAndAdd(c11, a, b);
            c12 = AvxVnni.MultiplyWideningAndAdd(c12, a, b);
            c13 = AvxVnni.MultiplyWideningAndAdd(c13, a, b);
            c14 = AvxVnni.MultiplyWideningAndAdd(c14, a, b);
            c15 = AvxVnni.MultiplyWideningAndAdd(c15, a, b);
        }

        var sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15;
        return Vector256.Sum(sum);
    }
}

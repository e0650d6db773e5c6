// Arithmetic peak of this CPU: register-only chains of independent multiply-adds, one OpenMP thread per core.
// fp32: AVX-512 vfmadd231ps zmm (16 lanes x 2 FLOP); int8: AVX512-VNNI vpdpbusd zmm (64 u8*s8 MACs x 2 ops) and
// the same on ymm (VEX AVX-VNNI where the CPU has it, else the EVEX form). Used by tests/Reranker.Benchmarks (`peak`) as the denominator of "percent of peak", because
// .NET 10 exposes VNNI only on 256-bit vectors. Build: gcc -O2 -march=native -fopenmp peak.c -o peak
// Output: one JSON object on stdout. The inner loops are unrolled by hand (16 named accumulators) so that they stay
// in registers at any optimization level.
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

#define ACC 16
#define ITER 100000000L
static volatile float vf[2] = {0.9999999f, 1e-7f};
static volatile int vi[2] = {0x03030303, 0xFEFEFEFE};

#define R16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

__attribute__((target("avx512f"))) static double fma512(void) {
    __m512 a = _mm512_set1_ps(vf[0]), b = _mm512_set1_ps(vf[1]);
#define D(k) __m512 c##k = _mm512_set1_ps(0.01f * k);
    R16(D)
#undef D
    for (long i = 0; i < ITER; i++) {
#define S(k) c##k = _mm512_fmadd_ps(c##k, a, b);
        R16(S)
#undef S
    }
    __m512 s = _mm512_setzero_ps();
#define A(k) s = _mm512_add_ps(s, c##k);
    R16(A)
#undef A
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) static double vnni512_kernel(void) {
    __m512i a = _mm512_set1_epi32(vi[0]), b = _mm512_set1_epi32(vi[1]);
#define D(k) __m512i c##k = _mm512_set1_epi32(k);
    R16(D)
#undef D
    for (long i = 0; i < ITER; i++) {
#define S(k) c##k = _mm512_dpbusd_epi32(c##k, a, b);
        R16(S)
#undef S
    }
    __m512i s = _mm512_setzero_si512();
#define A(k) s = _mm512_add_epi32(s, c##k);
    R16(A)
#undef A
    return _mm512_reduce_add_epi32(s);
}

__attribute__((target("avx2,avxvnni"))) static double vnni256_vex(void) {
    __m256i a = _mm256_set1_epi32(vi[0]), b = _mm256_set1_epi32(vi[1]);
#define D(k) __m256i c##k = _mm256_set1_epi32(k);
    R16(D)
#undef D
    for (long i = 0; i < ITER; i++) {
#define S(k) c##k = _mm256_dpbusd_avx_epi32(c##k, a, b);
        R16(S)
#undef S
    }
    __m256i s = _mm256_setzero_si256();
#define A(k) s = _mm256_add_epi32(s, c##k);
    R16(A)
#undef A
    int out[8];
    _mm256_storeu_si256((__m256i *)out, s);
    return out[0];
}

__attribute__((target("avx512f,avx512vl,avx512vnni"))) static double vnni256_evex(void) {
    __m256i a = _mm256_set1_epi32(vi[0]), b = _mm256_set1_epi32(vi[1]);
#define D(k) __m256i c##k = _mm256_set1_epi32(k);
    R16(D)
#undef D
    for (long i = 0; i < ITER; i++) {
#define S(k) c##k = _mm256_dpbusd_epi32(c##k, a, b);
        R16(S)
#undef S
    }
    __m256i s = _mm256_setzero_si256();
#define A(k) s = _mm256_add_epi32(s, c##k);
    R16(A)
#undef A
    int out[8];
    _mm256_storeu_si256((__m256i *)out, s);
    return out[0];
}

// Best of 3 runs of `threads` threads each doing ITER iterations; returns ops per second in total.
static double rate(double (*f)(void), int threads, double ops_per_iter) {
    double best = 0, sink = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += f();
        double t = omp_get_wtime() - t0;
        double v = threads * ITER * ACC * ops_per_iter / t;
        if (v > best) best = v;
    }
    if (sink == 12345.678) printf(" ");
    return best;
}

static double none(void) { return 0; }

int main(void) {
    int n = omp_get_num_procs();
    // Each kernel only where the CPU has its instructions (a kernel it lacks reports 0): Intel cores since Alder Lake
    // and Sapphire Rapids have the VEX AVX-VNNI form, AMD Zen 4/5 only the EVEX (AVX-512) one.
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f");
    int vnni512 = avx512 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
    int vnnivex = __builtin_cpu_supports("avxvnni");
    double (*f512)(void) = avx512 ? fma512 : none;
    double (*v512)(void) = vnni512 ? vnni512_kernel : none;
    double (*v256)(void) = vnnivex ? vnni256_vex : vnni512 ? vnni256_evex : none;
    printf("{\"threads\": %d, \"fp32_zmm_one\": %.4g, \"fp32_zmm_all\": %.4g, \"int8_zmm_one\": %.4g, \"int8_zmm_all\": %.4g, "
           "\"int8_ymm_one\": %.4g, \"int8_ymm_all\": %.4g}\n",
           n, rate(f512, 1, 32), rate(f512, n, 32), rate(v512, 1, 128), rate(v512, n, 128),
           rate(v256, 1, 64), rate(v256, n, 64));
    return 0;
}

using Reranker.Inference;
using Reranker.Tests.Support;

namespace Reranker.Tests;

/// <summary>The gate that keeps concurrent callers from oversubscribing the cores.</summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class RunGateTests
{
    [Theory]
    [InlineData(0, 2, 1)]   // ONNX Runtime's default spreads one run over all cores: one run at a time
    [InlineData(0, 64, 1)]
    [InlineData(1, 2, 2)]   // one thread per run on two cores: two runs at once
    [InlineData(2, 8, 4)]
    [InlineData(3, 8, 2)]
    [InlineData(16, 8, 1)]  // more threads than cores still allows one run
    public void Concurrent_runs_are_cores_divided_by_threads_per_run(int intraOpThreads, int processors, int expected) =>
        Assert.Equal(expected, LogitSession.ConcurrentRunLimit(intraOpThreads, processors));

    [Fact]
    public void Gated_concurrent_callers_get_the_sequential_results()
    {
        var rows = GoldenData.Pairs.Where(r => r.MaxLength == 512).Take(24).Select(r => (r.Query, r.Passage)).ToArray();
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { IntraOpNumThreads = 0 });
        Assert.Equal(1, encoder.Session.ConcurrentRuns);
        var sequential = encoder.Predict(rows);

        var parallel = new float[8][];
        Parallel.For(0, parallel.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = encoder.Predict(rows));

        Assert.All(parallel, p => Assert.Equal(sequential, p));
    }
}

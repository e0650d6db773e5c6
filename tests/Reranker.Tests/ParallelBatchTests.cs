using Reranker.Inference;
using Reranker.Tests.Support;

namespace Reranker.Tests;

/// <summary>
/// One call of many pairs with fewer intra-op threads than cores (<see cref="LogitSession.ConcurrentRuns"/> above 1)
/// runs that many batches at once, each on its own thread: the same logits as one after the other, progress that
/// counts up in order, and cancellation that stops every batch in flight.
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class ParallelBatchTests
{
    private const int PadId = 1;

    private static (string Query, string Passage)[] Rows =>
        GoldenData.Pairs.Where(r => r.MaxLength == 512).Take(40).Select(r => (r.Query, r.Passage)).ToArray();

    [Fact]
    public void Batches_of_one_call_run_at_once_when_a_run_leaves_cores_idle()
    {
        using var session = LogitSession.Load(Path.Combine(TestPaths.TinyModel, "model.onnx"), intraOpNumThreads: 1);
        var ids = GoldenData.Pairs.Where(r => r.InputIds.Length <= 512).Take(12).Select(r => r.InputIds).ToArray();
        if (Environment.ProcessorCount < 2)
        {
            // One core: one run at a time, so nothing may overlap.
            Assert.Equal(1, session.ConcurrentRuns);
            return;
        }

        Assert.Equal(Environment.ProcessorCount, session.ConcurrentRuns);

        // The first batch waits, before it runs, for a second one to start: only possible if two are in flight at
        // once. One after the other, the second cannot start until the first is done, and the wait times out.
        var arrived = 0;
        using var second = new ManualResetEventSlim();
        var firstSawSecond = false;
        session.Run(ids, PadId, batchSize: 1, maxBatchTokens: 8192, beforeBatch: () =>
        {
            switch (Interlocked.Increment(ref arrived))
            {
                case 1:
                    firstSawSecond = second.Wait(TimeSpan.FromSeconds(10));
                    break;
                case 2:
                    second.Set();
                    break;
            }
        });
        Assert.True(firstSawSecond, "the second batch did not start while the first was waiting");
        Assert.Equal(ids.Length, arrived);
    }

    [Fact]
    public void One_thread_per_run_gives_the_logits_of_all_threads_on_one_run_in_input_order()
    {
        var rows = Rows;
        using var wide = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { IntraOpNumThreads = 0 });
        using var narrow = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { IntraOpNumThreads = 1 });
        Assert.Equal(Math.Max(1, Environment.ProcessorCount), narrow.Session.ConcurrentRuns);

        var expected = wide.PredictLogits(rows);
        var actual = narrow.PredictLogits(rows);
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(Enumerable.Range(0, rows.Length), i => Assert.Equal(expected[i], actual[i], 1e-5f));

        // The model is not constant, so a permutation of the results would be caught.
        Assert.True(expected.Distinct().Count() > rows.Length / 2);
    }

    [Fact]
    public async Task Progress_counts_up_in_order_to_the_total_when_batches_finish_on_several_threads()
    {
        var rows = Rows;
        using var narrow = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { IntraOpNumThreads = 1 });
        var reports = new List<ScoringProgress>();
        var progress = new SynchronousProgress(p =>
        {
            lock (reports)
            {
                reports.Add(p);
            }
        });
        await narrow.PredictAsync(rows, progress, CancellationToken.None);
        Assert.Equal(rows.Length, reports.Count);
        Assert.Equal(Enumerable.Range(1, rows.Length), reports.Select(r => r.PairsScored));
        Assert.All(reports, r => Assert.Equal(rows.Length, r.TotalPairs));
    }

    [Fact]
    public async Task Cancelling_stops_every_batch_in_flight()
    {
        var rows = Rows;
        using var narrow = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { IntraOpNumThreads = 1 });
        using var cts = new CancellationTokenSource();
        var started = 0;
        narrow.BeforeModelRun = () =>
        {
            if (Interlocked.Increment(ref started) == 3)
            {
                cts.Cancel();
            }
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => narrow.PredictAsync(rows, progress: null, cts.Token));

        // Stopped early: far fewer batches started than pairs (each worker stops at its next batch).
        Assert.True(started < rows.Length, $"{started} of {rows.Length} batches started after the cancellation");
        narrow.BeforeModelRun = null;

        // And the instance still scores afterwards.
        Assert.Equal(rows.Length, narrow.Predict(rows).Length);
    }

    private sealed class SynchronousProgress(Action<ScoringProgress> report) : IProgress<ScoringProgress>
    {
        public void Report(ScoringProgress value) => report(value);
    }
}

using Microsoft.ML.OnnxRuntime;
using Reranker.Inference;
using Reranker.Tests.Hub;
using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests;

/// <summary><see cref="CrossEncoder.PredictAsync"/> and <see cref="CrossEncoder.RankAsync"/>: same results, progress, cancellation.</summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class AsyncTests
{
    private static readonly GoldenPair[] Rows512 =
        GoldenData.Pairs.Where(r => r.MaxLength == 512 && r.Truncation == TruncationStrategy.LongestFirst).ToArray();

    /// <summary>A document long enough to fill 8192 tokens, so that one model run on the tiny model takes a while.</summary>
    private static readonly string LongDocument =
        string.Concat(Enumerable.Repeat("머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다. Cross-encoders read both texts at once. ", 1200));

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task PredictAsync_equals_Predict_and_reports_progress_up_to_the_total(int batchSize)
    {
        using var encoder = GoldenPairEncoder.CreateCrossEncoder(new CrossEncoderOptions { BatchSize = batchSize });
        var pairs = Rows512.Select(r => (r.Query, r.Passage)).ToArray();
        var reports = new List<ScoringProgress>();

        var scores = await encoder.PredictAsync(pairs, new InlineProgress<ScoringProgress>(reports.Add));

        Assert.Equal(encoder.Predict(pairs), scores);
        Assert.NotEmpty(reports);
        Assert.All(reports, r => Assert.Equal(pairs.Length, r.TotalPairs));
        for (var i = 1; i < reports.Count; i++)
        {
            Assert.True(reports[i].PairsScored > reports[i - 1].PairsScored, $"report {i} did not advance: {reports[i - 1]} then {reports[i]}");
        }

        Assert.Equal(pairs.Length, reports[^1].PairsScored);
        Assert.Equal(LogitSession.PlanBatches(Rows512.Select(r => r.InputIds.Length).ToArray(), batchSize, encoder.Options.MaxBatchTokens, encoder.Session.RejectsPadding).Count, reports.Count);
    }

    [Fact]
    public async Task PredictLogitsAsync_equals_PredictLogits_and_honours_a_cancelled_token()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        var pairs = Rows512.Select(r => (r.Query, r.Passage)).ToArray();
        var reports = new List<ScoringProgress>();

        var logits = await encoder.PredictLogitsAsync(pairs, new InlineProgress<ScoringProgress>(reports.Add));

        // The torch goldens, not our own sync path, are the reference; the sync path must agree bit for bit.
        Assert.Equal(encoder.PredictLogits(pairs), logits);
        Assert.All(Rows512.Zip(logits), p => Assert.Equal(p.First.Logit, p.Second, 1e-4));
        Assert.Equal(pairs.Length, reports[^1].PairsScored);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => encoder.PredictLogitsAsync(pairs, cancellationToken: new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task RankAsync_equals_Rank_and_reports_progress()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { BatchSize = 4 });
        var query = Rows512[0].Query;
        var documents = Rows512.Select(r => r.Passage).ToArray();
        var reports = new List<ScoringProgress>();

        var ranked = await encoder.RankAsync(query, documents, topK: 10, new InlineProgress<ScoringProgress>(reports.Add));

        Assert.Equal(encoder.Rank(query, documents, topK: 10), ranked);
        Assert.Equal(documents.Length, reports[^1].PairsScored);
        Assert.Equal(reports.Select(r => r.PairsScored).Order(), reports.Select(r => r.PairsScored));
    }

    [Fact]
    public async Task Empty_input_gives_empty_results_and_no_progress()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        var reports = new List<ScoringProgress>();
        var progress = new InlineProgress<ScoringProgress>(reports.Add);

        Assert.Empty(await encoder.PredictAsync([], progress));
        Assert.Empty(await encoder.RankAsync("q", [], progress: progress));
        Assert.Empty(reports);
    }

    [Fact]
    public async Task Invalid_arguments_and_disposal_throw_before_a_task_is_returned()
    {
        var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        Assert.Throws<ArgumentNullException>(() => { _ = encoder.PredictAsync(null!); });
        Assert.Throws<ArgumentException>(() => { _ = encoder.PredictAsync([("q", null!)]); });
        Assert.Throws<ArgumentNullException>(() => { _ = encoder.RankAsync(null!, ["d"]); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = encoder.RankAsync("q", ["d"], topK: 0); });
        encoder.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { _ = encoder.PredictAsync([("q", "d")]); });
        Assert.Throws<ObjectDisposedException>(() => { _ = encoder.RankAsync("q", ["d"]); });
        await Task.CompletedTask;
    }

    [Fact]
    public async Task An_already_cancelled_token_cancels_without_scoring()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        var reports = new List<ScoringProgress>();

        var predict = encoder.PredictAsync([("q", "d")], new InlineProgress<ScoringProgress>(reports.Add), new CancellationToken(canceled: true));
        var rank = encoder.RankAsync("q", ["d"], cancellationToken: new CancellationToken(canceled: true));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => predict);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => rank);
        Assert.True(predict.IsCanceled);
        Assert.Empty(reports);
    }

    [Fact]
    public async Task Cancelling_as_a_model_run_starts_terminates_it_through_its_RunOptions()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        using var cts = new CancellationTokenSource();

        // One pair, one batch: after the hook there is no cancellation check left but the run's own RunOptions, so
        // the cancellation can only take effect through RunOptions.Terminate (ONNX Runtime then fails the run).
        encoder.BeforeModelRun = cts.Cancel;
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => encoder.PredictAsync([("q", "a document")], cancellationToken: cts.Token));

        Assert.IsType<OnnxRuntimeException>(e.InnerException);
        Assert.Equal(cts.Token, e.CancellationToken);

        // The instance is unharmed: the next calls, async and sync, score normally.
        encoder.BeforeModelRun = null;
        var expected = encoder.Predict([("q", "short document")]);
        Assert.Equal(expected, await encoder.PredictAsync([("q", "short document")], cancellationToken: CancellationToken.None));
        using var cts2 = new CancellationTokenSource();
        Assert.Equal(expected, await encoder.PredictAsync([("q", "short document")], cancellationToken: cts2.Token));
    }

    [Fact]
    public async Task Cancelling_from_another_thread_stops_a_long_call_before_the_end()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 8192 });
        var pairs = Enumerable.Range(0, 20).Select(i => ($"query {i}", LongDocument)).ToArray();
        using var cts = new CancellationTokenSource();
        using var firstBatchDone = new ManualResetEventSlim();
        var reports = new List<ScoringProgress>();

        var task = encoder.PredictAsync(
            pairs,
            new InlineProgress<ScoringProgress>(p =>
            {
                lock (reports)
                {
                    reports.Add(p);
                }

                firstBatchDone.Set();
            }),
            cts.Token);

        // Cancel from this thread once the call is under way (between batches or in the middle of one: either way).
        await Task.Run(() => firstBatchDone.Wait(TimeSpan.FromMinutes(2)));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task.WaitAsync(TimeSpan.FromMinutes(2)));
        lock (reports)
        {
            Assert.NotEmpty(reports);
            Assert.True(reports[^1].PairsScored < pairs.Length, $"all {pairs.Length} pairs were scored: the call was not stopped");
        }

        Assert.Single(encoder.Predict([("q", "short document")]));
    }
}

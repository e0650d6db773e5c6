using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Reranker.Tests.Support;

namespace Reranker.Tests;

public sealed class LoggingTests
{
    private static readonly (string Query, string Document)[] Pairs =
    [
        ("짧은 질문", "짧은 문서"),
        ("머신러닝이란?", string.Concat(Enumerable.Repeat("머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다. ", 40))),
        ("what is a reranker", string.Concat(Enumerable.Repeat("A cross-encoder reads the query and the passage together. ", 40))),
    ];

    [Fact]
    public void Create_logs_the_loaded_model_with_its_path_inputs_and_threads()
    {
        var logs = new CapturingLoggerFactory();

        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { IntraOpNumThreads = 1, LoggerFactory = logs });

        var loaded = Assert.Single(logs.WithEventId(CrossEncoderLogEvents.ModelLoaded));
        Assert.Equal(LogLevel.Information, loaded.Level);
        Assert.Equal("ModelLoaded", loaded.EventId.Name);
        Assert.Equal("Reranker.CrossEncoder", loaded.Category);
        Assert.Equal(Path.Combine(TestPaths.TinyModel, "model.onnx"), loaded.State["ModelPath"]);
        Assert.Equal("input_ids, attention_mask", loaded.State["Inputs"]);
        Assert.Equal(1, loaded.State["IntraOpNumThreads"]);
        Assert.Equal(512, loaded.State["MaxLength"]);
        Assert.IsType<long>(loaded.State["ElapsedMilliseconds"]);
        Assert.Contains("model.onnx", loaded.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_call_that_truncates_logs_how_many_of_its_pairs_were_cut()
    {
        var logs = new CapturingLoggerFactory();
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 32, LoggerFactory = logs });
        var expected = Pairs.Count(p => encoder.EncodePair(p.Query, p.Document).IsTruncated);
        Assert.Equal(2, expected);

        encoder.Predict(Pairs);
        encoder.Predict(Pairs.Take(1).ToArray());
        encoder.Rank("머신러닝이란?", Pairs.Select(p => p.Document).ToArray());

        var truncated = logs.WithEventId(CrossEncoderLogEvents.PairsTruncated).ToArray();
        Assert.Equal(2, truncated.Length); // none for the call that cut nothing
        Assert.All(truncated, e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Equal(expected, truncated[0].State["TruncatedCount"]);
        Assert.Equal(3, truncated[0].State["PairCount"]);
        Assert.Equal(32, truncated[0].State["MaxLength"]);
        Assert.Equal(2, truncated[1].State["TruncatedCount"]);
    }

    [Fact]
    public async Task A_cancelled_call_logs_at_debug()
    {
        var logs = new CapturingLoggerFactory();
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { LoggerFactory = logs });
        using var cts = new CancellationTokenSource();
        encoder.BeforeModelRun = cts.Cancel;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => encoder.PredictAsync(Pairs, cancellationToken: cts.Token));

        var cancelled = Assert.Single(logs.WithEventId(CrossEncoderLogEvents.ScoringCancelled));
        Assert.Equal(0, cancelled.State["PairsScored"]);
        Assert.Equal(3, cancelled.State["PairCount"]);
    }

    [Fact]
    public void Nothing_is_logged_below_the_enabled_level()
    {
        var logs = new CapturingLoggerFactory(LogLevel.Warning);
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 32, LoggerFactory = logs });
        encoder.Predict(Pairs);
        Assert.Empty(logs.Entries);
    }
}

[CollectionDefinition(nameof(MeterCollection), DisableParallelization = true)]
public sealed class MeterCollection;

/// <summary>
/// The meter is process-wide, so these tests run alone (their collection is not parallelized with any other) and
/// every measurement the listener sees comes from them.
/// </summary>
[Collection(nameof(MeterCollection))]
public sealed class MetricsTests
{
    private static readonly (string Query, string Document)[] Pairs =
    [
        ("짧은 질문", "짧은 문서"),
        ("머신러닝이란?", string.Concat(Enumerable.Repeat("머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다. ", 40))),
        ("what is a reranker", "A cross-encoder reads the query and the passage together."),
        ("q", ""),
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Scoring_records_pairs_tokens_batch_durations_and_truncations(int batchSize)
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 64, BatchSize = batchSize });
        var lengths = Pairs.Select(p => encoder.EncodePair(p.Query, p.Document).InputIds.Length).ToArray();
        var truncated = Pairs.Count(p => encoder.EncodePair(p.Query, p.Document).IsTruncated);
        var batches = Inference.LogitSession.PlanBatches(lengths, batchSize, encoder.Options.MaxBatchTokens, encoder.Session.RejectsPadding).Count;
        using var meter = new MeterCapture();

        encoder.Predict(Pairs);
        await encoder.PredictAsync(Pairs);
        encoder.Rank("q", Pairs.Select(p => p.Document).ToArray());

        Assert.Equal(2 * Pairs.Length + Pairs.Length, meter.Sum("reranker.scored_pairs"));
        Assert.Equal(2 * lengths.Sum() + Pairs.Select(p => encoder.EncodePair("q", p.Document).InputIds.Length).Sum(), meter.Sum("reranker.tokens"));
        Assert.Equal(1, truncated);
        var truncatedInRank = Pairs.Count(p => encoder.EncodePair("q", p.Document).IsTruncated);
        Assert.Equal(1, truncatedInRank);
        Assert.Equal(2 * truncated + truncatedInRank, meter.Sum("reranker.truncated_pairs"));
        var durations = meter.Values("reranker.batch.duration");
        Assert.True(durations.Count >= 2 * batches, $"{durations.Count} batch durations for 2 × {batches} batches and a Rank");
        Assert.All(durations, d => Assert.True(d >= 0));
        Assert.Equal("ms", meter.Units["reranker.batch.duration"]);
    }

    [Fact]
    public void The_meter_is_named_Reranker_and_records_nothing_for_empty_input()
    {
        Assert.Equal("Reranker", CrossEncoder.MeterName);
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        using var meter = new MeterCapture();

        encoder.Predict([]);

        Assert.Empty(meter.All);
        Assert.Contains("reranker.scored_pairs", meter.Published);
    }

    /// <summary>Listens to every instrument of the Reranker meter and keeps what it records.</summary>
    private sealed class MeterCapture : IDisposable
    {
        private readonly MeterListener _listener = new();

        public MeterCapture()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == CrossEncoder.MeterName)
                {
                    lock (Published)
                    {
                        Published.Add(instrument.Name);
                        Units[instrument.Name] = instrument.Unit;
                    }

                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Add(instrument.Name, value));
            _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Add(instrument.Name, value));
            _listener.Start();
        }

        public HashSet<string> Published { get; } = [];

        public Dictionary<string, string?> Units { get; } = [];

        public List<(string Name, double Value)> All { get; } = [];

        public double Sum(string name) => Values(name).Sum();

        public List<double> Values(string name)
        {
            lock (All)
            {
                return All.Where(m => m.Name == name).Select(m => m.Value).ToList();
            }
        }

        public void Dispose() => _listener.Dispose();

        private void Add(string name, double value)
        {
            lock (All)
            {
                All.Add((name, value));
            }
        }
    }
}

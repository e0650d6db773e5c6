using System.Diagnostics.Metrics;
using System.Globalization;

namespace Reranker.Server;

/// <summary>
/// The instruments of the service's meter <see cref="MeterName"/>, one set per application (created through the
/// host's <see cref="IMeterFactory"/>). docs/SERVING.md ("Metrics") maps each to its Hugging Face TEI counterpart.
/// </summary>
public sealed class ServerMetrics
{
    /// <summary>The meter's name, for <c>AddMeter</c>.</summary>
    public const string MeterName = "Reranker.Server";

    // TEI's buckets: durations a geometric series from 10 µs by 1.5 (35 buckets, up to about 9.7 s); counts powers of two.
    private static readonly double[] DurationBuckets = [.. Enumerable.Range(0, 35).Select(i => double.Parse((1e-5 * Math.Pow(1.5, i)).ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture))];
    private static readonly long[] PairBuckets = [.. Enumerable.Range(0, 11).Select(i => 1L << i)];
    private static readonly long[] TokenBuckets = [.. Enumerable.Range(0, 21).Select(i => 1L << i)];

    internal ServerMetrics(IMeterFactory meterFactory, RequestGate gate)
    {
        var meter = meterFactory.Create(MeterName, typeof(ServerMetrics).Assembly.GetName().Version?.ToString());
        Requests = meter.CreateCounter<long>("reranker.server.requests", "{request}", "Rerank requests answered, by endpoint and outcome.");
        RequestDuration = meter.CreateHistogram("reranker.server.request.duration", "s", "Time from the start of a rerank request to its answer.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        QueueDuration = meter.CreateHistogram("reranker.server.queue.duration", "s", "Time a rerank request waited for a scoring slot.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        InferenceDuration = meter.CreateHistogram("reranker.server.inference.duration", "s", "Time a rerank request held its scoring slot: tokenization and model runs.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        RequestPairs = meter.CreateHistogram("reranker.server.request.pairs", "{pair}", "Query-document pairs in one scored request.", advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = PairBuckets });
        RequestTokens = meter.CreateHistogram("reranker.server.request.tokens", "{token}", "Tokens of all pairs of one scored request, after truncation, special tokens included.", advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
        PairTokens = meter.CreateHistogram("reranker.server.pair.tokens", "{token}", "Tokens of one query-document pair, after truncation, special tokens included.", advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
        meter.CreateObservableGauge("reranker.server.queue.size", () => gate.Queued, "{request}", "Requests waiting for a scoring slot.");
        meter.CreateObservableGauge("reranker.server.active_requests", () => gate.Running, "{request}", "Requests holding a scoring slot.");
    }

    internal Counter<long> Requests { get; }

    internal Histogram<double> RequestDuration { get; }

    internal Histogram<double> QueueDuration { get; }

    internal Histogram<double> InferenceDuration { get; }

    internal Histogram<long> RequestPairs { get; }

    internal Histogram<long> RequestTokens { get; }

    internal Histogram<long> PairTokens { get; }
}

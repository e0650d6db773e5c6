using System.Diagnostics.Metrics;

namespace Reranker.Diagnostics;

/// <summary>The instruments of the <see cref="CrossEncoder.MeterName"/> meter, shared by all instances in the process.</summary>
internal static class RerankerMetrics
{
    public const string ScoredPairsName = "reranker.scored_pairs";
    public const string TokensName = "reranker.tokens";
    public const string BatchDurationName = "reranker.batch.duration";
    public const string TruncatedPairsName = "reranker.truncated_pairs";

    private static readonly Meter Meter = new(CrossEncoder.MeterName, typeof(CrossEncoder).Assembly.GetName().Version?.ToString());

    public static Counter<long> ScoredPairs { get; } =
        Meter.CreateCounter<long>(ScoredPairsName, "{pair}", "Pairs scored by the model.");

    public static Counter<long> Tokens { get; } =
        Meter.CreateCounter<long>(TokensName, "{token}", "Tokens fed to the model, special tokens included, padding excluded.");

    public static Histogram<double> BatchDuration { get; } =
        Meter.CreateHistogram<double>(BatchDurationName, "ms", "Time of one model run over one batch of pairs.");

    public static Counter<long> TruncatedPairs { get; } =
        Meter.CreateCounter<long>(TruncatedPairsName, "{pair}", "Pairs shortened to the maximum length before scoring.");
}

namespace Reranker;

/// <summary>Progress of <see cref="CrossEncoder.PredictAsync"/> or <see cref="CrossEncoder.RankAsync"/>, reported after each batch.</summary>
/// <param name="PairsScored">Pairs scored so far; it only grows, and equals <paramref name="TotalPairs"/> in the last report.</param>
/// <param name="TotalPairs">Pairs in the call.</param>
public readonly record struct ScoringProgress(int PairsScored, int TotalPairs);

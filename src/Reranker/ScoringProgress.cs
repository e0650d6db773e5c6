namespace Reranker;

/// <summary>Progress of <see cref="CrossEncoder.PredictAsync"/>, <see cref="CrossEncoder.RankAsync"/> or <see cref="CrossEncoder.ScorePairsAsync"/>, reported after each batch.</summary>
/// <param name="PairsScored">Pairs scored so far; it only grows, and equals <paramref name="TotalPairs"/> in the last report.</param>
/// <param name="TotalPairs">
/// Pairs the model scores in the call: one per document, or, with <see cref="Chunking.LongDocumentStrategy.Chunk"/>,
/// one per (query, chunk) pair.
/// </param>
public readonly record struct ScoringProgress(int PairsScored, int TotalPairs);

namespace Reranker;

/// <summary>One document of a <see cref="CrossEncoder.Rank"/> result.</summary>
/// <param name="Index">Position of the document in the list given to <see cref="CrossEncoder.Rank"/>.</param>
/// <param name="Score">Relevance to the query: the sigmoid of the model's logit, in [0, 1], higher is more relevant.</param>
/// <param name="IsTruncated">
/// <see langword="true"/> when the (query, document) pair was longer than <see cref="CrossEncoderOptions.MaxLength"/>
/// and was scored on a shortened text.
/// </param>
public sealed record RankedDocument(int Index, float Score, bool IsTruncated);

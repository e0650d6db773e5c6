namespace Reranker;

/// <summary>One search result after reranking: the record, the cross-encoder's score, and the first-stage score beside it.</summary>
/// <typeparam name="TRecord">The type of the search results (a vector store record, a text search result, ...).</typeparam>
/// <param name="Record">The result as the search returned it.</param>
/// <param name="Score">
/// The cross-encoder's relevance of the record's text to the query: the sigmoid of the model's logit, in [0, 1], higher
/// is more relevant; the results are sorted by it. Equal to <see cref="CrossEncoder.Predict"/> for the same
/// (query, text) pair under the same long-document settings.
/// </param>
/// <param name="VectorScore">
/// The score the first-stage search gave the record (<c>VectorSearchResult.Score</c>: a similarity or a distance,
/// as the store and its distance function define it); <see langword="null"/> when the store gives none or the results
/// did not come from a vector search.
/// </param>
/// <param name="CandidateIndex">The record's position, from 0, among the candidates as the search returned them.</param>
public sealed record RerankedResult<TRecord>(TRecord Record, float Score, double? VectorScore, int CandidateIndex)
{
    /// <summary>
    /// The characters of the record's text that produced <see cref="Score"/>: the winning chunk with
    /// <see cref="Chunking.LongDocumentStrategy.Chunk"/>, the whole text otherwise.
    /// </summary>
    public DocumentSpan Span { get; init; }

    /// <summary>How many (query, chunk) pairs were scored for this record: 1 when its text fits or is truncated.</summary>
    public int ChunksScored { get; init; } = 1;

    /// <summary>
    /// <see langword="true"/> when some of the record's text was not read (cut to <see cref="CrossEncoderOptions.MaxLength"/>,
    /// or left out past <see cref="Chunking.LongDocumentOptions.MaxChunksPerDocument"/>).
    /// </summary>
    public bool IsTruncated { get; init; }
}

namespace Reranker;

/// <summary>One document of a <see cref="CrossEncoder.Rank"/> result.</summary>
/// <param name="Index">Position of the document in the list given to <see cref="CrossEncoder.Rank"/>.</param>
/// <param name="Score">Relevance to the query: the sigmoid of the model's logit, in [0, 1], higher is more relevant.</param>
/// <param name="IsTruncated">
/// <see langword="true"/> when some of the text was not read: the (query, document) pair was longer than
/// <see cref="CrossEncoderOptions.MaxLength"/> and was scored on a shortened text, or, with
/// <see cref="Chunking.LongDocumentStrategy.Chunk"/>, the text after the last chunk was left out at
/// <see cref="Chunking.LongDocumentOptions.MaxChunksPerDocument"/> (or the query had to be cut beside a chunk).
/// </param>
public sealed record RankedDocument(int Index, float Score, bool IsTruncated)
{
    /// <summary>
    /// The characters of the document that produced <see cref="Score"/>: the winning chunk with
    /// <see cref="Chunking.LongDocumentStrategy.Chunk"/>, the whole document otherwise (and for a document that fits).
    /// </summary>
    /// <remarks>
    /// Scoring the query with <c>document.Substring(Span.Start, Span.Length)</c> alone, with the same options, gives
    /// this score (see <see cref="CrossEncoder.ScorePairs"/> for when that is bit for bit).
    /// </remarks>
    public DocumentSpan Span { get; init; }

    /// <summary>How many (query, chunk) pairs were scored for this document: 1 when it fits or is truncated.</summary>
    public int ChunksScored { get; init; } = 1;
}

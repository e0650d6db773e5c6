namespace Reranker;

/// <summary>The score of one (query, document) pair, with the part of the document that produced it.</summary>
/// <param name="Score">The sigmoid of <paramref name="Logit"/>, in [0, 1], higher is more relevant; equal to what <see cref="CrossEncoder.Predict"/> returns.</param>
/// <param name="Logit">The model's raw logit; with chunking, the highest logit over the chunks scored.</param>
/// <param name="Span">
/// The characters of the document that were scored as the pair's document text: the whole document with
/// <see cref="Chunking.LongDocumentStrategy.Truncate"/> (its tokens past the cut are dropped, see
/// <paramref name="IsTruncated"/>), the winning chunk with <see cref="Chunking.LongDocumentStrategy.Chunk"/>. Scoring
/// the query with <c>document.Substring(Span.Start, Span.Length)</c> alone, with the same options, gives this
/// <paramref name="Logit"/> (bit for bit when the pairs run one per model call, <see cref="CrossEncoderOptions.BatchSize"/> 1).
/// </param>
/// <param name="ChunksScored">How many (query, chunk) pairs the model scored for this document: 1 when it fits or is truncated.</param>
/// <param name="IsTruncated">
/// <see langword="true"/> when some of the text was not read: the pair was cut to <see cref="CrossEncoderOptions.MaxLength"/>
/// (truncation, or a query too long to keep whole beside a chunk), or the text after the last chunk was left out at
/// <see cref="Chunking.LongDocumentOptions.MaxChunksPerDocument"/>.
/// </param>
public sealed record PairScore(float Score, float Logit, DocumentSpan Span, int ChunksScored, bool IsTruncated);

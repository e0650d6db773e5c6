namespace Reranker.Chunking;

/// <summary>How documents that do not fit beside their query are scored: truncated (the default) or split into chunks.</summary>
/// <remarks>
/// <para>
/// Set it once in <see cref="CrossEncoderOptions.LongDocuments"/>, or per call with
/// <see cref="CrossEncoder.ScorePairs"/>. With <see cref="LongDocumentStrategy.Chunk"/>, a document is split into
/// character spans of the original text that each fit, with the query, in <see cref="CrossEncoderOptions.MaxLength"/>
/// tokens under <see cref="CrossEncoderOptions.Truncation"/>, so no chunk is cut. Chunk ends fall on a line end or a
/// sentence end in the last quarter of the chunk when there is one, else on white space in its second half, else on
/// any grapheme boundary (a text without spaces still splits); a surrogate pair or a grapheme cluster (emoji
/// sequence, base letter and its combining marks) is never split. Each (query, chunk) pair is scored as an
/// ordinary pair, and the document gets the highest logit; the result tells which chunk won
/// (<see cref="PairScore.Span"/>, <see cref="RankedDocument.Span"/>) and how many were scored.
/// </para>
/// <para>
/// Cost grows with the chunks: a document of N chunks costs about N pairs of <see cref="CrossEncoderOptions.MaxLength"/>
/// tokens, and <see cref="MaxChunksPerDocument"/> bounds it.
/// </para>
/// </remarks>
public sealed record LongDocumentOptions
{
    /// <summary>The default of <see cref="MaxChunksPerDocument"/>: 10, the default of Cohere's <c>max_chunks_per_doc</c>.</summary>
    public const int DefaultMaxChunksPerDocument = 10;

    /// <summary>The default of <see cref="ChunkOverlap"/>, in tokens.</summary>
    public const int DefaultChunkOverlap = 32;

    /// <summary>Truncate (the default) or chunk documents that do not fit.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="LongDocumentStrategy"/>.</exception>
    public LongDocumentStrategy Strategy
    {
        get;
        init
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(Strategy), value, "Not a defined LongDocumentStrategy.");
            }

            field = value;
        }
    } = LongDocumentStrategy.Truncate;

    /// <summary>Most chunks scored per document with <see cref="LongDocumentStrategy.Chunk"/>. Default 10.</summary>
    /// <remarks>
    /// Chunks are taken from the start of the document; the text after the last chunk is not read, as with
    /// Elasticsearch's and Cohere's <c>max_chunks_per_doc</c>. Such a result has <c>IsTruncated</c> set and a chunk
    /// count equal to this cap. At the default, 512-token pairs read about the first 4,500 document tokens. Use
    /// <see cref="int.MaxValue"/> to read every document whole, at a cost that grows with its length.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int MaxChunksPerDocument
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(MaxChunksPerDocument));
            field = value;
        }
    } = DefaultMaxChunksPerDocument;

    /// <summary>Tokens each chunk repeats from the end of the previous one. Default 32; 0 for none.</summary>
    /// <remarks>
    /// So that a sentence cut at a chunk end is read whole by the next chunk (about one sentence, like
    /// Elasticsearch's <c>sentence_overlap</c> of 1). The overlap starts at a word start when one is near and is
    /// never more than half of the previous chunk, so every chunk moves forward by at least half a chunk. The count
    /// is of document tokens tokenized on their own, so the overlap in the model input can differ by a token.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int ChunkOverlap
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(ChunkOverlap));
            field = value;
        }
    } = DefaultChunkOverlap;
}

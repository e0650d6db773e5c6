namespace Reranker.Chunking;

/// <summary>What <see cref="CrossEncoder"/> does with a document that does not fit beside its query in <see cref="CrossEncoderOptions.MaxLength"/> tokens.</summary>
public enum LongDocumentStrategy
{
    /// <summary>
    /// Score the pair once, cut to <see cref="CrossEncoderOptions.MaxLength"/> by <see cref="CrossEncoderOptions.Truncation"/>:
    /// the text past the cut is not read. What transformers, sentence-transformers and FlagEmbedding do; the default.
    /// </summary>
    Truncate = 0,

    /// <summary>
    /// Split the document into chunks that each fit beside the query, score every (query, chunk) pair and keep the
    /// highest logit, as Cohere rerank and Elasticsearch's <c>long_document_strategy: chunk</c> do. A document that
    /// fits is one chunk and gets exactly the score of <see cref="Truncate"/>.
    /// </summary>
    Chunk = 1,
}

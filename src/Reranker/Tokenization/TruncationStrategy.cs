namespace Reranker.Tokenization;

/// <summary>How a (query, document) pair longer than the maximum length is shortened.</summary>
public enum TruncationStrategy
{
    /// <summary>
    /// Hugging Face's <c>longest_first</c>, as used by transformers and sentence-transformers' <c>CrossEncoder</c>:
    /// tokens are removed from the end of the longer of the two sequences until the pair fits.
    /// </summary>
    LongestFirst = 0,

    /// <summary>
    /// FlagEmbedding's <c>FlagReranker</c>: the query is capped at <c>maxLength * 3 / 4</c> tokens, the document at
    /// <c>maxLength</c> tokens, then only the document is shortened until the pair fits, so a long document never
    /// pushes the query out. Below a <c>maxLength</c> of 16, where FlagEmbedding itself would exceed the length, the
    /// query is also capped at <c>maxLength</c> minus the special tokens, so no pair is ever longer than <c>maxLength</c>.
    /// </summary>
    QueryCapped = 1,
}

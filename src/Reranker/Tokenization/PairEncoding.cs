namespace Reranker.Tokenization;

/// <summary>The model input for one (query, document) pair: <c>&lt;s&gt; query &lt;/s&gt;&lt;/s&gt; document &lt;/s&gt;</c>.</summary>
/// <param name="InputIds">The token ids, special tokens included; the attention mask is all ones over them.</param>
/// <param name="QueryLength">How many query tokens were kept.</param>
/// <param name="DocumentLength">How many document tokens were kept.</param>
/// <param name="IsTruncated"><see langword="true"/> when tokens of the query or the document were cut to fit the maximum length.</param>
public sealed record PairEncoding(int[] InputIds, int QueryLength, int DocumentLength, bool IsTruncated);

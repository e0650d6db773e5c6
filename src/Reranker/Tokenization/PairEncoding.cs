namespace Reranker.Tokenization;

/// <summary>
/// The model input for one (query, document) pair: <c>&lt;s&gt; query &lt;/s&gt;&lt;/s&gt; document &lt;/s&gt;</c> for
/// XLM-RoBERTa, <c>[CLS] query [SEP] document [SEP]</c> for BERT.
/// </summary>
/// <param name="InputIds">The token ids, special tokens included; the attention mask is all ones over them.</param>
/// <param name="QueryLength">How many query tokens were kept.</param>
/// <param name="DocumentLength">How many document tokens were kept.</param>
/// <param name="IsTruncated"><see langword="true"/> when tokens of the query or the document were cut to fit the maximum length.</param>
public sealed record PairEncoding(int[] InputIds, int QueryLength, int DocumentLength, bool IsTruncated)
{
    /// <summary>
    /// The segment (token type) id of each token, as the tokenizer's post-processor gives them: all 0 for XLM-RoBERTa;
    /// for BERT 0 over <c>[CLS] query [SEP]</c> and 1 over <c>document [SEP]</c>. Fed to models that declare a
    /// <c>token_type_ids</c> input. All 0 when not set.
    /// </summary>
    public int[] TokenTypeIds
    {
        get => field ??= new int[InputIds.Length];
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Length != InputIds.Length)
            {
                throw new ArgumentException($"TokenTypeIds has {value.Length} entries for {InputIds.Length} input ids; expected one per id.", nameof(value));
            }

            field = value;
        }
    }
}

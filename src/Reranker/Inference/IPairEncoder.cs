using Reranker.Tokenization;

namespace Reranker.Inference;

/// <summary>
/// What inference needs from a tokenizer: the pad id and pair encoding. <see cref="CrossEncoder"/> talks to the
/// tokenizer only through this seam, so tests can feed golden token ids and check inference on its own.
/// </summary>
internal interface IPairEncoder
{
    /// <summary>Id of the padding token.</summary>
    int PadId { get; }

    /// <summary>Number of special tokens a pair adds (4 for XLM-R, 3 for BERT).</summary>
    int PairSpecialTokenCount { get; }

    /// <summary>Every id the encoder can produce, with what produces it (checked against the model's embedding table).</summary>
    IEnumerable<(int Id, string What)> ProducibleIds { get; }

    /// <summary>Encodes a pair with special tokens, truncated to <paramref name="maxLength"/> tokens.</summary>
    /// <param name="query">The query.</param>
    /// <param name="document">The document.</param>
    /// <param name="maxLength">Most tokens, special tokens included.</param>
    /// <param name="truncation">How an over-long pair is cut.</param>
    /// <param name="cancellationToken">Checked while the texts are encoded, also inside one long text.</param>
    PairEncoding EncodePair(string query, string document, int maxLength, TruncationStrategy truncation, CancellationToken cancellationToken = default);

    /// <summary>Tokens of one text without special tokens, as <see cref="EncodePair"/> counts them before truncating.</summary>
    int CountTokens(string text);
}

/// <summary>The production <see cref="IPairEncoder"/>: the tokenizer of the model directory (XLM-R or BERT).</summary>
internal sealed class TokenizerPairEncoder(CrossEncoderTokenizer tokenizer) : IPairEncoder
{
    public int PadId => tokenizer.PadId;

    public int PairSpecialTokenCount => tokenizer.PairSpecialTokenCount;

    public int CountTokens(string text) => tokenizer.EncodeToIds(text).Length;

    /// <summary>Whether the ids are those of the Hugging Face fast tokenizer (<c>tokenizer.json</c>), not the SentencePiece fallback.</summary>
    public bool MatchesHuggingFace => tokenizer.MatchesHuggingFace;

    public IEnumerable<(int Id, string What)> ProducibleIds => tokenizer.ProducibleIds();

    public PairEncoding EncodePair(string query, string document, int maxLength, TruncationStrategy truncation, CancellationToken cancellationToken = default) =>
        tokenizer.EncodePair(query, document, maxLength, truncation, cancellationToken);
}

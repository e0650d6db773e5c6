namespace Reranker.Tokenization;

/// <summary>STUB: the XLM-R tokenizer (being implemented).</summary>
public sealed class XlmRobertaTokenizer
{
    /// <summary>Loads the tokenizer of a model directory: <c>tokenizer.json</c>, else <c>sentencepiece.bpe.model</c>.</summary>
    public static XlmRobertaTokenizer Create(string modelDirectory) => throw new NotImplementedException();

    /// <summary>Id of <c>&lt;s&gt;</c>.</summary>
    public int BosId => 0;

    /// <summary>Id of <c>&lt;pad&gt;</c>.</summary>
    public int PadId => 1;

    /// <summary>Id of <c>&lt;/s&gt;</c>.</summary>
    public int EosId => 2;

    /// <summary>Token ids of one text, without special tokens.</summary>
    public int[] EncodeToIds(string text) => throw new NotImplementedException();

    /// <summary>Encodes a pair with special tokens, truncated to <paramref name="maxLength"/> tokens.</summary>
    public PairEncoding EncodePair(string query, string document, int maxLength, TruncationStrategy truncation) => throw new NotImplementedException();
}

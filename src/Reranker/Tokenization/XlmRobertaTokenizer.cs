namespace Reranker.Tokenization;

/// <summary>
/// The XLM-RoBERTa tokenizer of a cross-encoder (SentencePiece <c>Unigram</c>): builds the pair input
/// <c>&lt;s&gt; query &lt;/s&gt;&lt;/s&gt; document &lt;/s&gt;</c>, every token type 0. Used by bge-reranker-v2-m3 and its
/// fine-tunes, jina-reranker-v2 and gte-multilingual-reranker.
/// </summary>
/// <remarks>
/// Loaded from <c>tokenizer.json</c> (ids equal to the Hugging Face fast tokenizer) or, without one, from
/// <c>sentencepiece.bpe.model</c> (<see cref="FromSentencePieceModel"/>). See <see cref="CrossEncoderTokenizer"/> for
/// the pipeline components it follows.
/// </remarks>
public sealed class XlmRobertaTokenizer : CrossEncoderTokenizer
{
    private XlmRobertaTokenizer(ITextEncoder encoder, PairTemplate template, int padId, int unknownId, bool isExact)
        : base(encoder, template, padId, unknownId, isExact)
    {
    }

    /// <summary>
    /// Loads the tokenizer of a model directory: <c>tokenizer.json</c> when present, else <c>sentencepiece.bpe.model</c>.
    /// </summary>
    /// <param name="modelDirectory">A directory as written by <c>save_pretrained</c> or optimum's ONNX export.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="modelDirectory"/> is <see langword="null"/>.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither tokenizer file is in the directory.</exception>
    /// <exception cref="InvalidDataException">The tokenizer file is malformed.</exception>
    /// <exception cref="NotSupportedException">The file declares a component this library does not implement, or a model other than Unigram.</exception>
    public static new XlmRobertaTokenizer Create(string modelDirectory) => AsXlmRoberta(CrossEncoderTokenizer.Create(modelDirectory), modelDirectory);

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> with a <c>Unigram</c> model.</summary>
    /// <param name="path">Path of the file.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is <see langword="null"/>.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    /// <exception cref="NotSupportedException">The file declares a component this library does not implement, or a model other than Unigram.</exception>
    public static new XlmRobertaTokenizer FromTokenizerJson(string path) => AsXlmRoberta(CrossEncoderTokenizer.FromTokenizerJson(path), path);

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> with a <c>Unigram</c> model from a stream.</summary>
    /// <param name="stream">The file's content.</param>
    /// <param name="sourceName">A name for the source, used in error messages.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidDataException">The content is malformed.</exception>
    /// <exception cref="NotSupportedException">The file declares a component this library does not implement, or a model other than Unigram.</exception>
    public static new XlmRobertaTokenizer FromTokenizerJson(Stream stream, string sourceName = "tokenizer.json") =>
        AsXlmRoberta(CrossEncoderTokenizer.FromTokenizerJson(stream, sourceName), sourceName);

    /// <summary>
    /// Loads a SentencePiece <c>sentencepiece.bpe.model</c> through Microsoft.ML.Tokenizers, with ids moved to the
    /// XLM-RoBERTa (fairseq) layout. Prefer <c>tokenizer.json</c>: this path follows the SentencePiece library, which
    /// differs from the Hugging Face fast tokenizer on rare inputs (see docs/TOKENIZER.md, "The SentencePiece fallback").
    /// </summary>
    /// <param name="path">Path of the file.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is <see langword="null"/>.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a SentencePiece model.</exception>
    /// <exception cref="NotSupportedException">The model's special ids do not allow the XLM-RoBERTa mapping.</exception>
    public static XlmRobertaTokenizer FromSentencePieceModel(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = OpenExisting(path);
        var encoder = SentencePieceEncoder.Load(stream, path);
        var template = new PairTemplate([0], [2, 2], [2], [0], [2]);
        return new XlmRobertaTokenizer(encoder, template, padId: 1, unknownId: 3, isExact: false);
    }

    internal static XlmRobertaTokenizer FromPipeline(HfTokenizerPipeline pipeline, string sourceName)
    {
        var padId = pipeline.PaddingId ?? FindId(pipeline, "<pad>") ?? throw new InvalidDataException($"'{sourceName}' has no <pad> token.");
        var unknownId = FindId(pipeline, "<unk>") ?? pipeline.Model.UnknownId;
        return new XlmRobertaTokenizer(pipeline, pipeline.Template, padId, unknownId, isExact: true);
    }

    /// <summary>Pieces joined, <c>▁</c> read as a space, the leading space dropped (the Metaspace decoder).</summary>
    private protected override string JoinPieces(IReadOnlyList<string> pieces)
    {
        var text = string.Concat(pieces).Replace('\u2581', ' ');
        return text.Length > 0 && text[0] == ' ' ? text[1..] : text;
    }

    private static XlmRobertaTokenizer AsXlmRoberta(CrossEncoderTokenizer tokenizer, string source) =>
        tokenizer as XlmRobertaTokenizer ?? throw new NotSupportedException(
            $"'{source}' is a {tokenizer.GetType().Name} tokenizer (its tokenizer.json has a WordPiece model), not XLM-RoBERTa's Unigram: " +
            "load it with CrossEncoderTokenizer.Create or CrossEncoderTokenizer.FromTokenizerJson.");
}

using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Reranker.Tokenization;

/// <summary>
/// The tokenizer of a cross-encoder: gives the same ids as the Hugging Face fast tokenizer (<c>tokenizer.json</c>),
/// which is what transformers, sentence-transformers and FlagEmbedding feed the model, and builds the model's pair
/// input (<c>&lt;s&gt; query &lt;/s&gt;&lt;/s&gt; document &lt;/s&gt;</c> for XLM-RoBERTa, <c>[CLS] query [SEP] document [SEP]</c>
/// with segment ids for BERT) with truncation.
/// </summary>
/// <remarks>
/// <para>It follows the pipeline the file declares: added tokens matched in the raw text, or in the normalized text
/// for <c>normalized: true</c> (with their lstrip/rstrip flags); the normalizers <c>Precompiled</c>, <c>Strip</c>,
/// <c>Replace</c>, <c>BertNormalizer</c>, <c>Lowercase</c>, <c>StripAccents</c>, <c>NFC</c>/<c>NFD</c>/<c>NFKC</c>/<c>NFKD</c>
/// and <c>Sequence</c>; the pre-tokenizers <c>Metaspace</c>, <c>WhitespaceSplit</c>, <c>BertPreTokenizer</c> and
/// <c>Sequence</c>; the <c>Unigram</c> model (<see cref="XlmRobertaTokenizer"/>) or the <c>WordPiece</c> model
/// (<see cref="BertWordPieceTokenizer"/>); the <c>TemplateProcessing</c> (with its type ids), <c>BertProcessing</c> or
/// <c>RobertaProcessing</c> post-processor. A file that declares anything else (byte-level BPE among them) is refused
/// with a <see cref="NotSupportedException"/> naming the component. The <c>truncation</c> and <c>padding</c> stored in the
/// file are ignored, as transformers ignores them: truncation is chosen per call.</para>
/// <para>Lone UTF-16 surrogates, which UTF-8 cannot carry, are read as U+FFFD.</para>
/// <para>Instances are immutable and safe for concurrent use. It is also a Microsoft.ML.Tokenizers
/// <see cref="Tokenizer"/>: its token offsets point into the normalized text that <c>EncodeToTokens</c> returns.</para>
/// <para>Load tokenizer files only from a trusted provider.</para>
/// </remarks>
public abstract class CrossEncoderTokenizer : Tokenizer
{
    private readonly ITextEncoder _encoder;
    private readonly PairTemplate _template;
    private readonly HashSet<int> _specialIds;

    private protected CrossEncoderTokenizer(ITextEncoder encoder, PairTemplate template, int padId, int unknownId, bool isExact)
    {
        _encoder = encoder;
        _template = template;
        PadId = padId;
        UnknownId = unknownId;
        MatchesHuggingFace = isExact;
        BosId = template.Prefix.Length > 0 ? template.Prefix[0] : -1;
        EosId = template.Suffix.Length > 0 ? template.Suffix[^1] : -1;
        _specialIds = [.. template.Prefix, .. template.Middle, .. template.Suffix, padId];
    }

    /// <summary>Id of the first special token of a pair (<c>&lt;s&gt;</c>, 0 in XLM-RoBERTa; <c>[CLS]</c> in BERT).</summary>
    public int BosId { get; }

    /// <summary>Id of the padding token (<c>&lt;pad&gt;</c>, 1 in XLM-RoBERTa; <c>[PAD]</c> in BERT).</summary>
    public int PadId { get; }

    /// <summary>Id of the last special token of a pair (<c>&lt;/s&gt;</c>, 2 in XLM-RoBERTa; <c>[SEP]</c> in BERT).</summary>
    public int EosId { get; }

    /// <summary>Id of the unknown token (<c>&lt;unk&gt;</c>, 3 in XLM-RoBERTa; <c>[UNK]</c> in BERT).</summary>
    public int UnknownId { get; }

    /// <summary>Number of ids the tokenizer can produce.</summary>
    public int VocabularySize => _encoder.VocabularySize;

    /// <summary>Number of special tokens a pair adds (4 for <c>&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;</c>, 3 for <c>[CLS] A [SEP] B [SEP]</c>).</summary>
    public int PairSpecialTokenCount => _template.PairSpecialCount;

    /// <summary>
    /// <see langword="true"/> when loaded from <c>tokenizer.json</c> (ids equal to the Hugging Face fast tokenizer);
    /// <see langword="false"/> for the SentencePiece fallback, which follows the SentencePiece library instead.
    /// </summary>
    public bool MatchesHuggingFace { get; }

    /// <summary>
    /// Whether the model reads segment (token type) ids that are not all 0: BERT's template gives the document and its
    /// closing <c>[SEP]</c> type 1; XLM-RoBERTa's gives every token type 0.
    /// </summary>
    public bool UsesTokenTypeIds => !_template.AllTypeIdsZero;

    /// <summary>
    /// Loads the tokenizer of a model directory: <c>tokenizer.json</c> when present (a <c>Unigram</c> model gives an
    /// <see cref="XlmRobertaTokenizer"/>, a <c>WordPiece</c> model a <see cref="BertWordPieceTokenizer"/>), else the
    /// SentencePiece fallback <c>sentencepiece.bpe.model</c> (XLM-RoBERTa).
    /// </summary>
    /// <param name="modelDirectory">A directory as written by <c>save_pretrained</c> or optimum's ONNX export.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="modelDirectory"/> is <see langword="null"/>.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither tokenizer file is in the directory.</exception>
    /// <exception cref="InvalidDataException">The tokenizer file is malformed.</exception>
    /// <exception cref="NotSupportedException">The file declares a component this library does not implement.</exception>
    public static CrossEncoderTokenizer Create(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory))
        {
            throw new DirectoryNotFoundException($"The model directory '{modelDirectory}' does not exist.");
        }

        var json = Path.Combine(modelDirectory, "tokenizer.json");
        if (File.Exists(json))
        {
            return FromTokenizerJson(json);
        }

        var spm = Path.Combine(modelDirectory, "sentencepiece.bpe.model");
        if (File.Exists(spm))
        {
            return XlmRobertaTokenizer.FromSentencePieceModel(spm);
        }

        throw new FileNotFoundException(
            $"The model directory '{modelDirectory}' has neither tokenizer.json nor sentencepiece.bpe.model " +
            "(a BERT model with only vocab.txt needs its tokenizer.json: save it with transformers' AutoTokenizer.save_pretrained).", json);
    }

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> with a <c>Unigram</c> or <c>WordPiece</c> model.</summary>
    /// <param name="path">Path of the file.</param>
    /// <returns>An <see cref="XlmRobertaTokenizer"/> or a <see cref="BertWordPieceTokenizer"/>, as the file's model says.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is <see langword="null"/>.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    /// <exception cref="NotSupportedException">The file declares a component this library does not implement.</exception>
    public static CrossEncoderTokenizer FromTokenizerJson(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = OpenExisting(path);
        return FromTokenizerJson(stream, path);
    }

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> from a stream.</summary>
    /// <param name="stream">The file's content.</param>
    /// <param name="sourceName">A name for the source, used in error messages.</param>
    /// <returns>An <see cref="XlmRobertaTokenizer"/> or a <see cref="BertWordPieceTokenizer"/>, as the file's model says.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidDataException">The content is malformed.</exception>
    /// <exception cref="NotSupportedException">The file declares a component this library does not implement.</exception>
    public static CrossEncoderTokenizer FromTokenizerJson(Stream stream, string sourceName = "tokenizer.json")
    {
        ArgumentNullException.ThrowIfNull(stream);
        var pipeline = HfTokenizerPipeline.Load(stream, sourceName);
        return pipeline.Model is WordPieceModel
            ? BertWordPieceTokenizer.FromPipeline(pipeline, sourceName)
            : XlmRobertaTokenizer.FromPipeline(pipeline, sourceName);
    }

    /// <summary>
    /// Every id this tokenizer can put into a pair, with what produces it (added tokens and template specials first,
    /// so that a mismatch names the most specific source), for checking against the model's embedding table.
    /// </summary>
    internal IEnumerable<(int Id, string What)> ProducibleIds()
    {
        if (_encoder is HfTokenizerPipeline pipeline)
        {
            foreach (var token in pipeline.AddedTokens)
            {
                yield return (token.Id, $"the added token '{token.Content}'");
            }
        }

        foreach (var id in _template.Prefix.Concat(_template.Middle).Concat(_template.Suffix).Concat(_template.SinglePrefix).Concat(_template.SingleSuffix))
        {
            yield return (id, "a special token of the pair template (post_processor)");
        }

        yield return (PadId, "the padding token <pad>");
        yield return (UnknownId, "the unknown token <unk>");
        yield return (VocabularySize - 1, $"the vocabulary of {VocabularySize} pieces");
    }

    /// <summary>Token ids of one text, without special tokens.</summary>
    /// <param name="text">The text; an empty string gives no ids.</param>
    /// <returns>The ids.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is <see langword="null"/>.</exception>
    public int[] EncodeToIds(string text) => EncodeToIds(text, CancellationToken.None);

    /// <inheritdoc cref="EncodeToIds(string)"/>
    /// <param name="text">The text; an empty string gives no ids.</param>
    /// <param name="cancellationToken">Checked while the text is encoded, also inside one long text.</param>
    internal int[] EncodeToIds(string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 2);
        _encoder.Encode(text, ids, null, cancellationToken);
        return [.. ids];
    }

    /// <summary>
    /// Encodes a (query, document) pair with its special tokens, shortened to at most <paramref name="maxLength"/> tokens.
    /// </summary>
    /// <param name="query">The query.</param>
    /// <param name="document">The document (passage).</param>
    /// <param name="maxLength">Most tokens of the pair, special tokens included.</param>
    /// <param name="truncation">How a pair that is too long is shortened.</param>
    /// <returns>The ids and whether anything was cut.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> or <paramref name="document"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> leaves no room beside the special tokens,
    /// or <paramref name="truncation"/> is not a defined value.</exception>
    public PairEncoding EncodePair(string query, string document, int maxLength, TruncationStrategy truncation) =>
        EncodePair(query, document, maxLength, truncation, CancellationToken.None);

    /// <inheritdoc cref="EncodePair(string, string, int, TruncationStrategy)"/>
    /// <param name="query">The query.</param>
    /// <param name="document">The document (passage).</param>
    /// <param name="maxLength">Most tokens of the pair, special tokens included.</param>
    /// <param name="truncation">How a pair that is too long is shortened.</param>
    /// <param name="cancellationToken">Checked while the texts are encoded, also inside one long text.</param>
    internal PairEncoding EncodePair(string query, string document, int maxLength, TruncationStrategy truncation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        var specials = _template.PairSpecialCount;
        if (maxLength <= specials)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"A pair needs {specials} special tokens, so the maximum length must be more than {specials}.");
        }

        var q = EncodeToIds(query, cancellationToken);
        var d = EncodeToIds(document, cancellationToken);
        var (qKeep, dKeep) = truncation switch
        {
            TruncationStrategy.LongestFirst => LongestFirst(q.Length, d.Length, maxLength - specials),
            TruncationStrategy.QueryCapped => QueryCapped(q.Length, d.Length, maxLength, specials),
            _ => throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "Unknown truncation strategy."),
        };

        var (ids, typeIds) = _template.Pair(q.AsSpan(0, qKeep), d.AsSpan(0, dKeep));
        return new PairEncoding(ids, qKeep, dKeep, qKeep < q.Length || dKeep < d.Length) { TokenTypeIds = typeIds };
    }

    /// <summary>
    /// Encodes one text alone with its special tokens (<c>&lt;s&gt; text &lt;/s&gt;</c>, <c>[CLS] text [SEP]</c>), cut from the end to at most
    /// <paramref name="maxLength"/> tokens.
    /// </summary>
    /// <remarks>
    /// transformers encodes <c>tokenizer(query, "")</c> this way, because a single call treats an empty second text
    /// as no second text; batched calls, sentence-transformers and FlagEmbedding frame it as a pair with an empty
    /// document, which is what <see cref="EncodePair(string, string, int, TruncationStrategy)"/> does.
    /// </remarks>
    /// <param name="text">The text.</param>
    /// <param name="maxLength">Most tokens, special tokens included.</param>
    /// <returns>The ids; <see cref="PairEncoding.DocumentLength"/> is 0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> leaves no room beside the special tokens.</exception>
    public PairEncoding EncodeSingle(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        var specials = _template.SinglePrefix.Length + _template.SingleSuffix.Length;
        if (maxLength <= specials)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"A single text needs {specials} special tokens, so the maximum length must be more than {specials}.");
        }

        var ids = EncodeToIds(text);
        var keep = Math.Min(ids.Length, maxLength - specials);
        var (result, typeIds) = _template.Single(ids.AsSpan(0, keep));
        return new PairEncoding(result, keep, 0, keep < ids.Length) { TokenTypeIds = typeIds };
    }

    /// <summary>The tokenizers library's <c>longest_first</c> for a pair, given the budget left after special tokens.</summary>
    internal static (int First, int Second) LongestFirst(int n1, int n2, int budget)
    {
        if (n1 + n2 <= budget)
        {
            return (n1, n2);
        }

        var swap = n1 > n2;
        var (shorter, longer) = swap ? (n2, n1) : (n1, n2);
        longer = shorter > budget ? shorter : Math.Max(shorter, budget - shorter);
        if (shorter + longer > budget)
        {
            shorter = budget / 2;
            longer = shorter + (budget % 2);
        }

        var (first, second) = swap ? (longer, shorter) : (shorter, longer);
        return (Math.Min(first, n1), Math.Min(second, n2));
    }

    /// <summary>FlagEmbedding's reranker truncation: query to 3/4 of the length, then only the document is cut.</summary>
    /// <remarks>
    /// Below 16 tokens, 3/4 of the length plus the special tokens no longer fits, and FlagEmbedding (transformers'
    /// <c>only_second</c> truncation, which then logs an error and cuts nothing) returns more than
    /// <paramref name="maxLength"/> ids. Here the query is also capped at what is left beside the special tokens, so
    /// a pair never exceeds <paramref name="maxLength"/>; from 16 tokens on this changes nothing.
    /// </remarks>
    internal static (int First, int Second) QueryCapped(int queryLength, int documentLength, int maxLength, int specials)
    {
        var q = Math.Min(queryLength, Math.Min(maxLength * 3 / 4, maxLength - specials));
        var d = Math.Min(documentLength, maxLength);
        d = Math.Min(d, Math.Max(0, maxLength - q - specials));
        return (q, d);
    }

    /// <inheritdoc/>
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var input = text ?? textSpan.ToString();
        var ids = new List<int>();
        var pieces = new List<string>();
        _encoder.Encode(input, ids, pieces);
        var count = Limit(ids.Count, settings.MaxTokenCount);
        var tokens = new List<EncodedToken>(count);
        var normalized = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            var start = normalized.Length;
            normalized.Append(pieces[i]);
            tokens.Add(new EncodedToken(ids[i], pieces[i], new Range(start, normalized.Length)));
        }

        return new EncodeResults<EncodedToken>
        {
            Tokens = tokens,
            NormalizedText = normalized.ToString(),
            CharsConsumed = count == ids.Count ? input.Length : normalized.Length,
        };
    }

    /// <inheritdoc/>
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var input = text ?? textSpan.ToString();
        var ids = new List<int>();
        _encoder.Encode(input, ids, null);
        var count = Limit(ids.Count, settings.MaxTokenCount);
        if (count < ids.Count)
        {
            // The consumed length is only known from token offsets.
            var tokens = EncodeToTokens(input, ReadOnlySpan<char>.Empty, settings);
            return new EncodeResults<int>
            {
                Tokens = tokens.Tokens.Select(t => t.Id).ToList(),
                NormalizedText = tokens.NormalizedText,
                CharsConsumed = tokens.CharsConsumed,
            };
        }

        return new EncodeResults<int> { Tokens = ids, NormalizedText = null, CharsConsumed = input.Length };
    }

    /// <inheritdoc/>
    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var ids = new List<int>();
        _encoder.Encode(text ?? textSpan.ToString(), ids, null);
        return Limit(ids.Count, settings.MaxTokenCount);
    }

    /// <summary>Turns ids back into text, the special tokens of the pair template skipped.</summary>
    /// <param name="ids">The ids.</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="ids"/> is <see langword="null"/>.</exception>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var pieces = new List<string>();
        foreach (var id in ids)
        {
            if (!_specialIds.Contains(id))
            {
                pieces.Add(_encoder.IdToPiece(id) ?? string.Empty);
            }
        }

        return JoinPieces(pieces);
    }

    /// <summary>Joins decoded pieces into text, as the model's decoder does.</summary>
    private protected abstract string JoinPieces(IReadOnlyList<string> pieces);

    /// <inheritdoc/>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids as IReadOnlyList<int> ?? ids.ToList();
        var text = Decode(list);
        if (text.Length <= destination.Length)
        {
            text.AsSpan().CopyTo(destination);
            idsConsumed = list.Count;
            charsWritten = text.Length;
            return OperationStatus.Done;
        }

        idsConsumed = 0;
        charsWritten = 0;
        return OperationStatus.DestinationTooSmall;
    }

    private static int Limit(int count, int maxTokenCount) =>
        maxTokenCount > 0 && maxTokenCount < count ? maxTokenCount : count;

    private protected static int? FindId(HfTokenizerPipeline pipeline, string content)
    {
        foreach (var token in pipeline.AddedTokens)
        {
            if (token.Content == content)
            {
                return token.Id;
            }
        }

        return pipeline.TryGetPieceId(content, out var id) ? id : null;
    }

    private protected static FileStream OpenExisting(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The tokenizer file '{path}' does not exist.", path);
        }

        return File.OpenRead(path);
    }
}

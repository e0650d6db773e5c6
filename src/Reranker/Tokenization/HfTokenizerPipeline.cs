using System.Text;
using System.Text.Json;

namespace Reranker.Tokenization;

/// <summary>Encodes one text to ids without special tokens; the two implementations are the tokenizer.json pipeline
/// and the SentencePiece fallback.</summary>
internal interface ITextEncoder
{
    /// <summary>Appends the ids of <paramref name="text"/> (no special tokens). <paramref name="pieces"/>, when given,
    /// receives the normalized text each id covers. <paramref name="cancellationToken"/> is checked while the text is
    /// encoded (between words, and every few thousand characters inside one), so a long text can be abandoned.</summary>
    void Encode(string text, List<int> ids, List<string>? pieces, CancellationToken cancellationToken = default);

    /// <summary>The piece an id stands for, or <see langword="null"/> if the id is unknown.</summary>
    string? IdToPiece(int id);

    int VocabularySize { get; }
}

/// <summary>
/// The pipeline a Hugging Face <c>tokenizer.json</c> declares: added tokens, normalizer, pre-tokenizer, model
/// (<c>Unigram</c> or <c>WordPiece</c>) and post-processor. Only the components that XLM-RoBERTa and BERT tokenizers use
/// are implemented; anything else is refused when the file is read.
/// </summary>
internal sealed class HfTokenizerPipeline : ITextEncoder
{
    private readonly AddedTokenSplitter _added;
    private readonly AddedTokenSplitter? _normalizedAdded;
    private readonly INormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly ITokenModel _model;
    private readonly Dictionary<int, string> _addedById;

    private HfTokenizerPipeline(IReadOnlyList<AddedToken> addedTokens, INormalizer? normalizer, IPreTokenizer? preTokenizer, ITokenModel model, PairTemplate template, int? paddingId)
    {
        // Added tokens with normalized: false are found in the raw text; those with normalized: true in the text
        // after the normalizer, their own content normalized the same way (as the tokenizers library does).
        _added = new AddedTokenSplitter(addedTokens.Where(t => !t.Normalized).ToList());
        var normalizedTokens = addedTokens.Where(t => t.Normalized)
            .Select(t => t with { Content = normalizer?.Normalize(t.Content) ?? t.Content })
            .Where(t => t.Content.Length > 0)
            .ToList();
        _normalizedAdded = normalizedTokens.Count > 0 ? new AddedTokenSplitter(normalizedTokens) : null;
        AddedTokens = addedTokens;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _model = model;
        Template = template;
        PaddingId = paddingId;
        _addedById = new Dictionary<int, string>();
        foreach (var token in addedTokens)
        {
            _addedById[token.Id] = token.Content;
        }
    }

    public PairTemplate Template { get; }

    /// <summary>The model: <see cref="UnigramModel"/> or <see cref="WordPieceModel"/>.</summary>
    public ITokenModel Model => _model;

    /// <summary>The <c>pad_id</c> of the file's <c>padding</c> section, when it has one.</summary>
    public int? PaddingId { get; }

    public int VocabularySize => Math.Max(_model.VocabularySize, _addedById.Count == 0 ? 0 : _addedById.Keys.Max() + 1);

    public IReadOnlyList<AddedToken> AddedTokens { get; }

    public bool TryGetPieceId(string piece, out int id) => _model.TryGetId(piece, out id);

    public string? IdToPiece(int id) =>
        _addedById.TryGetValue(id, out var content) ? content : _model.IdToPiece(id);

    public void Encode(string text, List<int> ids, List<string>? pieces, CancellationToken cancellationToken = default)
    {
        text = TextSanitizer.ReplaceLoneSurrogates(text);
        var splits = new List<TextSplit>();
        _added.Split(text, splits);
        var words = new List<string>();
        var normalizedSplits = _normalizedAdded is null ? null : new List<TextSplit>();
        foreach (var split in splits)
        {
            if (split.Id >= 0)
            {
                ids.Add(split.Id);
                pieces?.Add(_addedById[split.Id]);
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var part = text[split.Start..split.End];
            if (_normalizer is not null)
            {
                part = _normalizer.Normalize(part);
            }

            if (normalizedSplits is null)
            {
                EncodeNormalized(part, split.Start == 0, words, ids, pieces, cancellationToken);
                continue;
            }

            _normalizedAdded!.Split(part, normalizedSplits);
            foreach (var inner in normalizedSplits)
            {
                if (inner.Id >= 0)
                {
                    ids.Add(inner.Id);
                    pieces?.Add(_addedById[inner.Id]);
                }
                else
                {
                    EncodeNormalized(part[inner.Start..inner.End], split.Start == 0 && inner.Start == 0, words, ids, pieces, cancellationToken);
                }
            }
        }
    }

    private void EncodeNormalized(string part, bool startsText, List<string> words, List<int> ids, List<string>? pieces, CancellationToken cancellationToken)
    {
        words.Clear();
        words.Add(part);
        _preTokenizer?.PreTokenize(words, startsText);
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var word in words)
        {
            _model.Encode(word, ids, pieces, cancellationToken);
        }
    }

    /// <summary>Reads a <c>tokenizer.json</c>.</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON or lacks a required field.</exception>
    /// <exception cref="NotSupportedException">The file declares a component this library does not implement.</exception>
    public static HfTokenizerPipeline Load(Stream stream, string sourceName)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{sourceName}' is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            try
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"'{sourceName}' is not a tokenizer.json: its root is a {root.ValueKind}, not an object.");
                }

                var model = ReadModel(Required(root, "model", sourceName), sourceName);
                var added = ReadAddedTokens(root, sourceName);
                var normalizer = ReadNormalizer(Optional(root, "normalizer"), sourceName);
                var preTokenizer = ReadPreTokenizer(Optional(root, "pre_tokenizer"), sourceName);
                var template = ReadPostProcessor(Optional(root, "post_processor"), sourceName);
                int? paddingId = Optional(root, "padding") is { } padding && padding.TryGetProperty("pad_id", out var padId) ? padId.GetInt32() : null;
                return new HfTokenizerPipeline(added, normalizer, preTokenizer, model, template, paddingId);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
            {
                throw new InvalidDataException($"'{sourceName}' is malformed: {e.Message}", e);
            }
            catch (InvalidDataException e) when (!e.Message.Contains(sourceName, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"'{sourceName}': {e.Message}", e);
            }
        }
    }

    private static JsonElement Required(JsonElement obj, string name, string sourceName) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : throw new InvalidDataException($"'{sourceName}' has no '{name}' field where one is required.");

    private static JsonElement? Optional(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string TypeOf(JsonElement component, string what, string sourceName) =>
        component.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()!
            : throw new InvalidDataException($"'{sourceName}': a {what} has no 'type'.");

    private static ITokenModel ReadModel(JsonElement model, string sourceName)
    {
        // Serializations of 2020 omit model.type: a vocab of [piece, score] pairs with unk_id is a Unigram model, a
        // vocab object with continuing_subword_prefix a WordPiece model.
        var type = model.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (type is null && model.TryGetProperty("vocab", out var v))
        {
            type = v.ValueKind == JsonValueKind.Array ? "Unigram"
                : v.ValueKind == JsonValueKind.Object && model.TryGetProperty("continuing_subword_prefix", out _) ? "WordPiece"
                : null;
        }

        return type switch
        {
            "Unigram" => ReadUnigram(model, sourceName),
            "WordPiece" => ReadWordPiece(model, sourceName),
            _ => throw new NotSupportedException(
                $"'{sourceName}' uses the tokenizer model '{type ?? "(none)"}'; supported: 'Unigram' (SentencePiece, as in XLM-RoBERTa) and 'WordPiece' (as in BERT). " +
                "Byte-level BPE tokenizers (GPT-2, Qwen, Llama) are not supported."),
        };
    }

    private static UnigramModel ReadUnigram(JsonElement model, string sourceName)
    {
        if (model.TryGetProperty("byte_fallback", out var byteFallback) && byteFallback.ValueKind == JsonValueKind.True)
        {
            throw new NotSupportedException($"'{sourceName}' uses a Unigram model with byte_fallback, which is not supported.");
        }

        var vocabElement = Required(model, "vocab", sourceName);
        var vocab = new List<(string, double)>(vocabElement.GetArrayLength());
        foreach (var entry in vocabElement.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() != 2)
            {
                throw new InvalidDataException($"'{sourceName}': a Unigram vocabulary entry is not a [piece, score] pair.");
            }

            vocab.Add((entry[0].GetString() ?? throw new InvalidDataException($"'{sourceName}': a vocabulary piece is null."), entry[1].GetDouble()));
        }

        var unkElement = Required(model, "unk_id", sourceName);
        return new UnigramModel(vocab, unkElement.GetInt32());
    }

    private static WordPieceModel ReadWordPiece(JsonElement model, string sourceName)
    {
        var vocabElement = Required(model, "vocab", sourceName);
        if (vocabElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{sourceName}': the WordPiece vocab is a {vocabElement.ValueKind}, not an object of piece to id.");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocabElement.EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }

        // The tokenizers library's defaults for fields a file leaves out.
        var unk = Optional(model, "unk_token")?.GetString() ?? "[UNK]";
        var prefix = Optional(model, "continuing_subword_prefix")?.GetString() ?? "##";
        var maxChars = Optional(model, "max_input_chars_per_word")?.GetInt32() ?? 100;
        return new WordPieceModel(vocab, unk, prefix, maxChars);
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, string sourceName)
    {
        var result = new List<AddedToken>();
        if (Optional(root, "added_tokens") is not { } tokens)
        {
            return result;
        }

        foreach (var token in tokens.EnumerateArray())
        {
            var content = Required(token, "content", sourceName).GetString()!;
            if (Flag(token, "single_word"))
            {
                throw new NotSupportedException($"'{sourceName}': the added token '{content}' is single_word, which is not supported.");
            }

            result.Add(new AddedToken(Required(token, "id", sourceName).GetInt32(), content, Flag(token, "lstrip"), Flag(token, "rstrip"))
            {
                Normalized = Flag(token, "normalized"),
            });
        }

        return result;
    }

    private static bool Flag(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static INormalizer? ReadNormalizer(JsonElement? element, string sourceName)
    {
        if (element is not { } n)
        {
            return null;
        }

        var type = TypeOf(n, "normalizer", sourceName);
        switch (type)
        {
            case "Sequence":
                return new SequenceNormalizer(Required(n, "normalizers", sourceName).EnumerateArray()
                    .Select(x => ReadNormalizer(x, sourceName)!).ToArray());
            case "Precompiled":
                var map = Required(n, "precompiled_charsmap", sourceName).GetString()!;
                byte[] blob;
                try
                {
                    blob = Convert.FromBase64String(map);
                }
                catch (FormatException e)
                {
                    throw new InvalidDataException($"'{sourceName}': the precompiled_charsmap is not valid base64.", e);
                }

                // An empty charsmap is written by converters for models without normalization rules: identity.
                return blob.Length == 0 ? new SequenceNormalizer([]) : PrecompiledCharsMap.Parse(blob);
            case "Strip":
                return new StripNormalizer(
                    !n.TryGetProperty("strip_left", out var l) || l.GetBoolean(),
                    !n.TryGetProperty("strip_right", out var r) || r.GetBoolean());
            case "Replace":
                var pattern = Required(n, "pattern", sourceName);
                var content = Required(n, "content", sourceName).GetString()!;
                if (pattern.TryGetProperty("String", out var literal))
                {
                    return ReplaceNormalizer.ForString(literal.GetString()!, content);
                }

                if (pattern.TryGetProperty("Regex", out var regex))
                {
                    return ReplaceNormalizer.ForRegex(regex.GetString()!, content);
                }

                throw new InvalidDataException($"'{sourceName}': a Replace normalizer's pattern is neither String nor Regex.");
            case "BertNormalizer":
                var lowercase = !n.TryGetProperty("lowercase", out var lc) || lc.ValueKind != JsonValueKind.False;
                var stripAccents = n.TryGetProperty("strip_accents", out var sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? sa.ValueKind == JsonValueKind.True
                    : lowercase; // null: follows lowercase, as in the tokenizers library and Google's BERT
                return new BertNormalizer(
                    !n.TryGetProperty("clean_text", out var ct) || ct.ValueKind != JsonValueKind.False,
                    !n.TryGetProperty("handle_chinese_chars", out var hc) || hc.ValueKind != JsonValueKind.False,
                    stripAccents,
                    lowercase);
            case "Lowercase":
                return new LowercaseNormalizer();
            case "StripAccents":
                return new StripAccentsNormalizer();
            case "NFC":
                return new UnicodeNormalizer(NormalizationForm.FormC);
            case "NFD":
                return new UnicodeNormalizer(NormalizationForm.FormD);
            case "NFKC":
                return new UnicodeNormalizer(NormalizationForm.FormKC);
            case "NFKD":
                return new UnicodeNormalizer(NormalizationForm.FormKD);
            default:
                throw new NotSupportedException(
                    $"'{sourceName}' uses the normalizer '{type}'; supported: Precompiled, Strip, Replace, BertNormalizer, Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Sequence.");
        }
    }

    private static IPreTokenizer? ReadPreTokenizer(JsonElement? element, string sourceName)
    {
        if (element is not { } p)
        {
            return null;
        }

        var type = TypeOf(p, "pre_tokenizer", sourceName);
        switch (type)
        {
            case "Sequence":
                return new SequencePreTokenizer(Required(p, "pretokenizers", sourceName).EnumerateArray()
                    .Select(x => ReadPreTokenizer(x, sourceName)!).ToArray());
            case "WhitespaceSplit":
                return new WhitespaceSplitPreTokenizer();
            case "BertPreTokenizer":
                return new BertPreTokenizer();
            case "Metaspace":
                var replacement = p.TryGetProperty("replacement", out var r) ? r.GetString()! : "\u2581";
                if (replacement.Length != 1)
                {
                    throw new NotSupportedException($"'{sourceName}': a Metaspace replacement of {replacement.Length} characters is not supported.");
                }

                var scheme = PrependScheme.Always;
                if (p.TryGetProperty("prepend_scheme", out var s) && s.ValueKind == JsonValueKind.String)
                {
                    scheme = s.GetString() switch
                    {
                        "always" => PrependScheme.Always,
                        "first" => PrependScheme.First,
                        "never" => PrependScheme.Never,
                        var other => throw new NotSupportedException($"'{sourceName}': Metaspace prepend_scheme '{other}' is not supported."),
                    };
                }

                // The legacy field: add_prefix_space false means never prepend.
                if (p.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.False)
                {
                    scheme = PrependScheme.Never;
                }

                var split = !p.TryGetProperty("split", out var sp) || sp.ValueKind != JsonValueKind.False;
                return new MetaspacePreTokenizer(replacement[0], scheme, split);
            default:
                throw new NotSupportedException(
                    $"'{sourceName}' uses the pre-tokenizer '{type}'; supported: Metaspace, WhitespaceSplit, BertPreTokenizer, Sequence.");
        }
    }

    private static PairTemplate ReadPostProcessor(JsonElement? element, string sourceName)
    {
        if (element is not { } p)
        {
            throw new NotSupportedException(
                $"'{sourceName}' has no post_processor, so it does not say how a (query, document) pair is framed with special tokens.");
        }

        var type = TypeOf(p, "post_processor", sourceName);
        switch (type)
        {
            case "RobertaProcessing":
            {
                // Every type id 0, as transformers gives RoBERTa-family models (they have one token type).
                var cls = Required(p, "cls", sourceName)[1].GetInt32();
                var sep = Required(p, "sep", sourceName)[1].GetInt32();
                return new PairTemplate([cls], [sep, sep], [sep], [cls], [sep]);
            }

            case "BertProcessing":
            {
                // [CLS] A [SEP] B [SEP], with B and its [SEP] of type 1.
                var cls = Required(p, "cls", sourceName)[1].GetInt32();
                var sep = Required(p, "sep", sourceName)[1].GetInt32();
                return new PairTemplate([cls], [sep], [sep], [cls], [sep]) { SecondTypeId = 1, SuffixTypeIds = [1] };
            }

            case "TemplateProcessing":
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (Optional(p, "special_tokens") is { } map)
                {
                    foreach (var entry in map.EnumerateObject())
                    {
                        specials[entry.Name] = Required(entry.Value, "ids", sourceName).EnumerateArray().Select(x => x.GetInt32()).ToArray();
                    }
                }

                var pair = ReadTemplate(Required(p, "pair", sourceName), 2, specials, sourceName);
                var single = ReadTemplate(Required(p, "single", sourceName), 1, specials, sourceName);
                return new PairTemplate(pair.Ids[0], pair.Ids[1], pair.Ids[2], single.Ids[0], single.Ids[1])
                {
                    PrefixTypeIds = pair.TypeIds[0],
                    MiddleTypeIds = pair.TypeIds[1],
                    SuffixTypeIds = pair.TypeIds[2],
                    FirstTypeId = pair.SequenceTypeIds[0],
                    SecondTypeId = pair.SequenceTypeIds[1],
                    SinglePrefixTypeIds = single.TypeIds[0],
                    SingleSuffixTypeIds = single.TypeIds[1],
                    SingleTypeId = single.SequenceTypeIds[0],
                };
            default:
                throw new NotSupportedException(
                    $"'{sourceName}' uses the post-processor '{type}'; supported: TemplateProcessing, BertProcessing, RobertaProcessing.");
        }
    }

    /// <summary>
    /// Splits a template into the special ids around its sequences ([before A, between A and B, after B]), with the
    /// type id of every special id and of each sequence.
    /// </summary>
    private static (int[][] Ids, int[][] TypeIds, int[] SequenceTypeIds) ReadTemplate(JsonElement template, int sequences, Dictionary<string, int[]> specials, string sourceName)
    {
        var ids = new List<int>[sequences + 1];
        var types = new List<int>[sequences + 1];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = [];
            types[i] = [];
        }

        var sequenceTypes = new int[sequences];
        var expected = new[] { "A", "B" };
        var seen = 0;
        foreach (var item in template.EnumerateArray())
        {
            if (item.TryGetProperty("SpecialToken", out var special))
            {
                var typeId = TypeId(special, sourceName);
                var name = Required(special, "id", sourceName).GetString()!;
                if (!specials.TryGetValue(name, out var specialIds))
                {
                    throw new InvalidDataException($"'{sourceName}': the template uses the special token '{name}', which special_tokens does not define.");
                }

                ids[seen].AddRange(specialIds);
                types[seen].AddRange(Enumerable.Repeat(typeId, specialIds.Length));
            }
            else if (item.TryGetProperty("Sequence", out var sequence))
            {
                var typeId = TypeId(sequence, sourceName);
                var id = Required(sequence, "id", sourceName).GetString();
                if (seen >= sequences || id != expected[seen])
                {
                    throw new NotSupportedException($"'{sourceName}': a template with sequence '{id}' at this place is not supported; expected A then B.");
                }

                sequenceTypes[seen] = typeId;
                seen++;
            }
            else
            {
                throw new InvalidDataException($"'{sourceName}': a template item is neither SpecialToken nor Sequence.");
            }
        }

        if (seen != sequences)
        {
            throw new InvalidDataException($"'{sourceName}': a template names {seen} sequences; {sequences} were expected.");
        }

        return (ids.Select(x => x.ToArray()).ToArray(), types.Select(x => x.ToArray()).ToArray(), sequenceTypes);
    }

    private static int TypeId(JsonElement item, string sourceName)
    {
        if (!item.TryGetProperty("type_id", out var typeId))
        {
            return 0;
        }

        var value = typeId.GetInt32();
        return value >= 0 ? value : throw new InvalidDataException($"'{sourceName}': the template gives the negative type_id {value}.");
    }
}

/// <summary>Makes .NET strings acceptable to a UTF-8 pipeline.</summary>
internal static class TextSanitizer
{
    /// <summary>Lone UTF-16 surrogates cannot be encoded in UTF-8; they become U+FFFD (which the model sees as unknown).</summary>
    public static string ReplaceLoneSurrogates(string text)
    {
        var span = text.AsSpan();
        var i = 0;
        for (; i < span.Length; i++)
        {
            if (char.IsSurrogate(span[i]))
            {
                break;
            }
        }

        if (i == span.Length)
        {
            return text;
        }

        var sb = new StringBuilder(text);
        for (; i < sb.Length; i++)
        {
            if (char.IsHighSurrogate(sb[i]) && i + 1 < sb.Length && char.IsLowSurrogate(sb[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(sb[i]))
            {
                sb[i] = '\uFFFD';
            }
        }

        return sb.ToString();
    }
}

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
/// The pipeline a Hugging Face <c>tokenizer.json</c> declares: added tokens, normalizer, pre-tokenizer, Unigram model.
/// Only the components that XLM-RoBERTa tokenizers use are implemented; anything else is refused when the file is read.
/// </summary>
internal sealed class HfTokenizerPipeline : ITextEncoder
{
    private readonly AddedTokenSplitter _added;
    private readonly INormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly UnigramModel _model;
    private readonly Dictionary<int, string> _addedById;

    private HfTokenizerPipeline(AddedTokenSplitter added, INormalizer? normalizer, IPreTokenizer? preTokenizer, UnigramModel model, PairTemplate template)
    {
        _added = added;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _model = model;
        Template = template;
        _addedById = added.Tokens.ToDictionary(t => t.Id, t => t.Content);
    }

    public PairTemplate Template { get; }

    public int VocabularySize => Math.Max(_model.VocabularySize, _addedById.Count == 0 ? 0 : _addedById.Keys.Max() + 1);

    public IReadOnlyList<AddedToken> AddedTokens => _added.Tokens;

    public bool TryGetPieceId(string piece, out int id) => _model.TryGetId(piece, out id);

    public string? IdToPiece(int id) =>
        _addedById.TryGetValue(id, out var content) ? content
        : (uint)id < (uint)_model.VocabularySize ? _model.Vocabulary[id].Piece
        : null;

    public void Encode(string text, List<int> ids, List<string>? pieces, CancellationToken cancellationToken = default)
    {
        text = TextSanitizer.ReplaceLoneSurrogates(text);
        var splits = new List<TextSplit>();
        _added.Split(text, splits);
        var words = new List<string>();
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

            words.Clear();
            words.Add(part);
            _preTokenizer?.PreTokenize(words, split.Start == 0);
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var word in words)
            {
                _model.Encode(word, ids, pieces, cancellationToken);
            }
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
                var added = new AddedTokenSplitter(ReadAddedTokens(root, sourceName));
                var normalizer = ReadNormalizer(Optional(root, "normalizer"), sourceName);
                var preTokenizer = ReadPreTokenizer(Optional(root, "pre_tokenizer"), sourceName);
                var template = ReadPostProcessor(Optional(root, "post_processor"), sourceName, model, added.Tokens);
                return new HfTokenizerPipeline(added, normalizer, preTokenizer, model, template);
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

    private static UnigramModel ReadModel(JsonElement model, string sourceName)
    {
        // Serializations of 2020 omit model.type; a vocab of [piece, score] pairs with unk_id is a Unigram model.
        var type = model.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (type is null && model.TryGetProperty("vocab", out var v) && v.ValueKind == JsonValueKind.Array)
        {
            type = "Unigram";
        }

        if (type != "Unigram")
        {
            throw new NotSupportedException(
                $"'{sourceName}' uses the tokenizer model '{type ?? "(none)"}'; only 'Unigram' (SentencePiece, as in XLM-RoBERTa) is supported.");
        }

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

            if (Flag(token, "normalized"))
            {
                throw new NotSupportedException(
                    $"'{sourceName}': the added token '{content}' is matched after normalization (normalized: true), which is not supported.");
            }

            result.Add(new AddedToken(Required(token, "id", sourceName).GetInt32(), content, Flag(token, "lstrip"), Flag(token, "rstrip")));
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
            default:
                throw new NotSupportedException(
                    $"'{sourceName}' uses the normalizer '{type}'; supported: Precompiled, Strip, Replace, Sequence.");
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
                    $"'{sourceName}' uses the pre-tokenizer '{type}'; supported: Metaspace, WhitespaceSplit, Sequence.");
        }
    }

    private static PairTemplate ReadPostProcessor(JsonElement? element, string sourceName, UnigramModel model, IReadOnlyList<AddedToken> added)
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
                var cls = Required(p, "cls", sourceName)[1].GetInt32();
                var sep = Required(p, "sep", sourceName)[1].GetInt32();
                return new PairTemplate([cls], [sep, sep], [sep], [cls], [sep]);
            case "TemplateProcessing":
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (Optional(p, "special_tokens") is { } map)
                {
                    foreach (var entry in map.EnumerateObject())
                    {
                        specials[entry.Name] = Required(entry.Value, "ids", sourceName).EnumerateArray().Select(x => x.GetInt32()).ToArray();
                    }
                }

                var (pairParts, _) = ReadTemplate(Required(p, "pair", sourceName), 2, specials, sourceName);
                var (singleParts, _) = ReadTemplate(Required(p, "single", sourceName), 1, specials, sourceName);
                return new PairTemplate(pairParts[0], pairParts[1], pairParts[2], singleParts[0], singleParts[1]);
            default:
                throw new NotSupportedException(
                    $"'{sourceName}' uses the post-processor '{type}'; supported: TemplateProcessing, RobertaProcessing.");
        }
    }

    /// <summary>Splits a template into the special ids around its sequences: [before A, between A and B, after B].</summary>
    private static (int[][] Parts, int Sequences) ReadTemplate(JsonElement template, int sequences, Dictionary<string, int[]> specials, string sourceName)
    {
        var parts = new List<int>[sequences + 1];
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = [];
        }

        var expected = new[] { "A", "B" };
        var seen = 0;
        foreach (var item in template.EnumerateArray())
        {
            if (item.TryGetProperty("SpecialToken", out var special))
            {
                CheckTypeId(special, sourceName);
                var name = Required(special, "id", sourceName).GetString()!;
                if (!specials.TryGetValue(name, out var ids))
                {
                    throw new InvalidDataException($"'{sourceName}': the template uses the special token '{name}', which special_tokens does not define.");
                }

                parts[seen].AddRange(ids);
            }
            else if (item.TryGetProperty("Sequence", out var sequence))
            {
                CheckTypeId(sequence, sourceName);
                var id = Required(sequence, "id", sourceName).GetString();
                if (seen >= sequences || id != expected[seen])
                {
                    throw new NotSupportedException($"'{sourceName}': a template with sequence '{id}' at this place is not supported; expected A then B.");
                }

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

        return (parts.Select(x => x.ToArray()).ToArray(), seen);
    }

    private static void CheckTypeId(JsonElement item, string sourceName)
    {
        if (item.TryGetProperty("type_id", out var typeId) && typeId.GetInt32() != 0)
        {
            throw new NotSupportedException(
                $"'{sourceName}': the pair template gives type_id {typeId.GetInt32()}; only single-segment models (type_id 0) are supported.");
        }
    }
}

/// <summary>The special ids around the sequences: <c>Prefix A Middle B Suffix</c> for a pair, <c>SinglePrefix A SingleSuffix</c> alone.</summary>
internal sealed record PairTemplate(int[] Prefix, int[] Middle, int[] Suffix, int[] SinglePrefix, int[] SingleSuffix)
{
    public int PairSpecialCount => Prefix.Length + Middle.Length + Suffix.Length;
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

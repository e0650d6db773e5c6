namespace Reranker.Tokenization;

/// <summary>
/// The <c>WordPiece</c> model of the tokenizers library (BERT): greedy longest-match-first over the vocabulary, the
/// pieces after the first carrying the continuing-subword prefix (<c>##</c>); a word that cannot be covered, or that
/// has more than <c>max_input_chars_per_word</c> characters (Unicode scalar values), becomes one unknown token.
/// </summary>
internal sealed class WordPieceModel : ITokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _pieces;
    private readonly string _prefix;
    private readonly int _maxInputCharsPerWord;
    private readonly string _unknownToken;

    /// <exception cref="InvalidDataException">The vocabulary is empty, has a negative id, or lacks the unknown token.</exception>
    public WordPieceModel(IReadOnlyDictionary<string, int> vocab, string unknownToken, string continuingSubwordPrefix, int maxInputCharsPerWord)
    {
        if (vocab.Count == 0)
        {
            throw new InvalidDataException("The WordPiece model has an empty vocabulary.");
        }

        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        var size = 0;
        foreach (var (piece, id) in _vocab)
        {
            if (id < 0)
            {
                throw new InvalidDataException($"The WordPiece vocabulary gives '{piece}' the negative id {id}.");
            }

            size = Math.Max(size, id + 1);
        }

        _pieces = new string[size];
        foreach (var (piece, id) in _vocab)
        {
            _pieces[id] = piece;
        }

        // The tokenizers library fails each encoding whose word is unknown when unk_token is not in the vocabulary;
        // refusing the file at load time says the same thing once, before any text is scored.
        if (!_vocab.TryGetValue(unknownToken, out var unknownId))
        {
            throw new InvalidDataException($"The WordPiece model's unk_token '{unknownToken}' is not in its vocabulary.");
        }

        UnknownId = unknownId;
        _unknownToken = unknownToken;
        _prefix = continuingSubwordPrefix;
        _maxInputCharsPerWord = maxInputCharsPerWord;
    }

    public int VocabularySize => _pieces.Length;

    public int UnknownId { get; }

    /// <summary>The prefix of a piece that continues a word (<c>##</c>).</summary>
    public string ContinuingSubwordPrefix => _prefix;

    public bool TryGetId(string piece, out int id) => _vocab.TryGetValue(piece, out id);

    public string? IdToPiece(int id) => (uint)id < (uint)_pieces.Length ? _pieces[id] : null;

    public void Encode(string word, List<int> ids, List<string>? pieces, CancellationToken cancellationToken)
    {
        if (word.Length == 0)
        {
            return;
        }

        if (CountScalars(word) > _maxInputCharsPerWord)
        {
            AddUnknown(ids, pieces);
            return;
        }

        var firstId = ids.Count;
        var firstPiece = pieces?.Count ?? 0;
        var start = 0;
        var candidate = new System.Text.StringBuilder(_prefix.Length + word.Length);
        while (start < word.Length)
        {
            if ((start & 0x3FFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var end = word.Length;
            var found = -1;
            while (start < end)
            {
                candidate.Clear();
                if (start > 0)
                {
                    candidate.Append(_prefix);
                }

                candidate.Append(word, start, end - start);
                if (_vocab.TryGetValue(candidate.ToString(), out var id))
                {
                    found = id;
                    break;
                }

                // Shorten by one character (a surrogate pair is one character).
                end -= end >= 2 && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }

            if (found < 0)
            {
                // One piece of the word is not in the vocabulary: the whole word is unknown.
                ids.RemoveRange(firstId, ids.Count - firstId);
                pieces?.RemoveRange(firstPiece, pieces.Count - firstPiece);
                AddUnknown(ids, pieces);
                return;
            }

            ids.Add(found);
            pieces?.Add(_pieces[found]);
            start = end;
        }
    }

    private void AddUnknown(List<int> ids, List<string>? pieces)
    {
        ids.Add(UnknownId);
        pieces?.Add(_unknownToken);
    }

    private static int CountScalars(string text)
    {
        var count = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }

            count++;
        }

        return count;
    }
}

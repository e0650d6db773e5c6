namespace Reranker.Tokenization;

/// <summary>An entry of <c>added_tokens</c> in <c>tokenizer.json</c>.</summary>
internal sealed record AddedToken(int Id, string Content, bool LeftStrip, bool RightStrip)
{
    /// <summary>Matched in the normalized text (<c>normalized: true</c>) instead of the raw text.</summary>
    public bool Normalized { get; init; }
}

/// <summary>One piece of the raw text: either an added token (Id &gt;= 0) or text for the normalizer (Id &lt; 0).</summary>
internal readonly record struct TextSplit(int Id, int Start, int End);

/// <summary>
/// Finds added tokens (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, <c>&lt;mask&gt;</c>...) in the raw text before normalization, as the
/// tokenizers library does: leftmost-longest, non-overlapping matches; <c>lstrip</c>/<c>rstrip</c> make a token absorb the
/// white space on its left/right.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IReadOnlyList<AddedToken> tokens)
    {
        Tokens = tokens;
        _byFirstChar = tokens
            .Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public IReadOnlyList<AddedToken> Tokens { get; }

    public void Split(string text, List<TextSplit> splits)
    {
        splits.Clear();
        if (_byFirstChar.Count == 0 || text.Length == 0)
        {
            splits.Add(new TextSplit(-1, 0, text.Length));
            return;
        }

        var startOffset = 0;
        var pos = 0;
        while (pos < text.Length)
        {
            var match = MatchAt(text, pos);
            if (match is null)
            {
                pos++;
                continue;
            }

            var start = pos;
            var stop = pos + match.Content.Length;
            pos = stop;
            if (match.LeftStrip)
            {
                var newStart = start;
                while (newStart > 0 && char.IsWhiteSpace(text[newStart - 1]))
                {
                    newStart--;
                }

                // Spaces already taken by the previous match stay with it.
                start = Math.Max(newStart, startOffset);
            }

            if (match.RightStrip)
            {
                while (stop < text.Length && char.IsWhiteSpace(text[stop]))
                {
                    stop++;
                }
            }

            if (startOffset < start)
            {
                splits.Add(new TextSplit(-1, startOffset, start));
            }

            splits.Add(new TextSplit(match.Id, start, stop));
            startOffset = stop;
        }

        if (startOffset < text.Length)
        {
            splits.Add(new TextSplit(-1, startOffset, text.Length));
        }
    }

    private AddedToken? MatchAt(string text, int pos)
    {
        if (!_byFirstChar.TryGetValue(text[pos], out var candidates))
        {
            return null;
        }

        foreach (var candidate in candidates)
        {
            if (string.CompareOrdinal(text, pos, candidate.Content, 0, candidate.Content.Length) == 0
                && pos + candidate.Content.Length <= text.Length)
            {
                return candidate;
            }
        }

        return null;
    }
}

namespace Reranker.Tokenization;

/// <summary>One step of a Hugging Face <c>pre_tokenizer</c>: splits a normalized piece into words for the model.</summary>
internal interface IPreTokenizer
{
    /// <summary>Splits every piece of <paramref name="pieces"/>; <paramref name="firstStartsText"/> says whether the first
    /// piece begins at the start of the original text (Metaspace's <c>prepend_scheme: first</c> depends on it).</summary>
    void PreTokenize(List<string> pieces, bool firstStartsText);
}

/// <summary><c>Sequence</c>: the pre-tokenizers in order, each applied to every piece the previous one produced.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> steps) : IPreTokenizer
{
    public void PreTokenize(List<string> pieces, bool firstStartsText)
    {
        foreach (var step in steps)
        {
            step.PreTokenize(pieces, firstStartsText);
        }
    }
}

/// <summary><c>WhitespaceSplit</c>: splits on Unicode white space and drops it.</summary>
internal sealed class WhitespaceSplitPreTokenizer : IPreTokenizer
{
    public void PreTokenize(List<string> pieces, bool firstStartsText)
    {
        var result = new List<string>(pieces.Count);
        foreach (var piece in pieces)
        {
            var start = -1;
            for (var i = 0; i < piece.Length; i++)
            {
                if (char.IsWhiteSpace(piece[i]))
                {
                    if (start >= 0)
                    {
                        result.Add(piece[start..i]);
                        start = -1;
                    }
                }
                else if (start < 0)
                {
                    start = i;
                }
            }

            if (start >= 0)
            {
                result.Add(start == 0 ? piece : piece[start..]);
            }
        }

        pieces.Clear();
        pieces.AddRange(result);
    }
}

/// <summary>When Metaspace prepends its replacement character to a piece.</summary>
internal enum PrependScheme
{
    Always,
    First,
    Never,
}

/// <summary>
/// <c>Metaspace</c>: spaces become the replacement character (<c>▁</c>), the replacement is prepended as the scheme says,
/// and with <c>split</c> the piece is cut before every replacement character.
/// </summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme prependScheme, bool split) : IPreTokenizer
{
    public void PreTokenize(List<string> pieces, bool firstStartsText)
    {
        var result = new List<string>(pieces.Count * 4);
        for (var p = 0; p < pieces.Count; p++)
        {
            var piece = pieces[p].Replace(' ', replacement);
            if (piece.Length == 0)
            {
                continue;
            }

            var prepend = prependScheme switch
            {
                PrependScheme.Always => true,
                PrependScheme.First => p == 0 && firstStartsText,
                _ => false,
            };
            if (prepend && piece[0] != replacement)
            {
                piece = replacement + piece;
            }

            if (!split)
            {
                result.Add(piece);
                continue;
            }

            var start = 0;
            for (var i = 1; i < piece.Length; i++)
            {
                if (piece[i] == replacement)
                {
                    result.Add(piece[start..i]);
                    start = i;
                }
            }

            result.Add(start == 0 ? piece : piece[start..]);
        }

        pieces.Clear();
        pieces.AddRange(result);
    }
}

/// <summary>
/// <c>BertPreTokenizer</c>: splits on white space (dropped), then isolates every punctuation character (ASCII
/// punctuation, and the Unicode punctuation categories Pc, Pd, Ps, Pe, Pi, Pf, Po) as a word of its own.
/// </summary>
internal sealed class BertPreTokenizer : IPreTokenizer
{
    public void PreTokenize(List<string> pieces, bool firstStartsText)
    {
        var result = new List<string>(pieces.Count * 4);
        foreach (var piece in pieces)
        {
            var start = -1;
            for (var i = 0; i < piece.Length;)
            {
                var rune = System.Text.Rune.GetRuneAt(piece, i);
                var width = rune.Utf16SequenceLength;
                if (System.Text.Rune.IsWhiteSpace(rune) || IsPunctuation(rune))
                {
                    if (start >= 0)
                    {
                        result.Add(piece[start..i]);
                        start = -1;
                    }

                    if (!System.Text.Rune.IsWhiteSpace(rune))
                    {
                        result.Add(piece.Substring(i, width));
                    }
                }
                else if (start < 0)
                {
                    start = i;
                }

                i += width;
            }

            if (start >= 0)
            {
                result.Add(start == 0 ? piece : piece[start..]);
            }
        }

        pieces.Clear();
        pieces.AddRange(result);
    }

    /// <summary>The tokenizers library's <c>is_bert_punc</c>: ASCII punctuation, or Unicode punctuation in the library's tables.</summary>
    internal static bool IsPunctuation(System.Text.Rune rune) =>
        (rune.Value is > 32 and < 127 && !char.IsAsciiLetterOrDigit((char)rune.Value)) || TokenizersUnicode.IsPunctuation(rune.Value);
}

using System.Text;

namespace Reranker.Tokenization;

/// <summary>
/// <c>BertNormalizer</c> of the tokenizers library, in its order: <c>clean_text</c> (drop NUL, U+FFFD and control
/// characters other than tab, LF and CR; every white-space character becomes a space), <c>handle_chinese_chars</c>
/// (a space on both sides of each CJK ideograph), <c>strip_accents</c> (NFD, then drop non-spacing marks; when the
/// file leaves it <c>null</c> it follows <c>lowercase</c>), <c>lowercase</c> (Unicode lower case, character by character).
/// </summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowercase) : INormalizer
{
    public string Normalize(string text)
    {
        if (cleanText)
        {
            text = CleanText(text);
        }

        if (handleChineseChars)
        {
            text = SpaceChineseChars(text);
        }

        if (stripAccents)
        {
            text = UnicodeSteps.Drop(UnicodeSteps.Nfd(text), TokenizersUnicode.IsNonSpacingMark);
        }

        if (lowercase)
        {
            text = UnicodeSteps.Lowercase(text);
        }

        return text;
    }

    private static string CleanText(string text) =>
        UnicodeSteps.Map(text, static rune =>
            rune.Value == 0 || rune.Value == 0xFFFD || IsControl(rune) ? string.Empty
            : rune.Value != ' ' && UnicodeSteps.IsWhiteSpace(rune) ? " "
            : null);

    /// <summary>
    /// The tokenizers library's <c>is_control</c>: control, format and private-use characters (Cc, Cf, Co, in the
    /// library's Unicode tables), except tab, LF and CR. Unassigned code points are kept (they become <c>[UNK]</c>).
    /// </summary>
    private static bool IsControl(Rune rune) =>
        rune.Value is not ('\t' or '\n' or '\r') && TokenizersUnicode.IsOther(rune.Value);

    private static string SpaceChineseChars(string text) =>
        UnicodeSteps.Map(text, static rune => IsChineseChar(rune.Value) ? " " + rune.ToString() + " " : null);

    /// <summary>The CJK blocks the tokenizers library (and Google's BERT) treats as Chinese characters.</summary>
    internal static bool IsChineseChar(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}

/// <summary>The Unicode steps normalizers share, as the tokenizers library applies them.</summary>
internal static class UnicodeSteps
{
    /// <summary>Rust's <c>char::is_whitespace</c> (the White_Space property).</summary>
    public static bool IsWhiteSpace(Rune rune) => Rune.IsWhiteSpace(rune);

    public static string Nfd(string text) => Normalize(text, NormalizationForm.FormD);

    /// <summary>
    /// Unicode normalization of the whole text. .NET refuses strings with noncharacters (U+FFFE, U+FFFF, U+FDD0..U+FDEF,
    /// U+nFFFE/F); they are starters that no normalization changes, so the text is normalized piece by piece around them.
    /// </summary>
    public static string Normalize(string text, NormalizationForm form)
    {
        try
        {
            return text.IsNormalized(form) ? text : text.Normalize(form);
        }
        catch (ArgumentException)
        {
            var sb = new StringBuilder(text.Length);
            var start = 0;
            for (var i = 0; i < text.Length;)
            {
                var rune = Rune.GetRuneAt(text, i);
                var width = rune.Utf16SequenceLength;
                if (IsNoncharacter(rune.Value))
                {
                    sb.Append(text.AsSpan(start, i - start).ToString().Normalize(form)).Append(text, i, width);
                    start = i + width;
                }

                i += width;
            }

            return sb.Append(text[start..].Normalize(form)).ToString();
        }
    }

    private static bool IsNoncharacter(int c) => c is >= 0xFDD0 and <= 0xFDEF || (c & 0xFFFE) == 0xFFFE;

    /// <summary>Drops the characters of a class.</summary>
    public static string Drop(string text, Func<int, bool> inClass) =>
        Map(text, rune => inClass(rune.Value) ? string.Empty : null);

    /// <summary>
    /// Rewrites a text character (Unicode scalar value) by character: <paramref name="replace"/> returns
    /// <see langword="null"/> to keep one, else what stands in its place (possibly nothing). The text is copied only
    /// from the first change on.
    /// </summary>
    public static string Map(string text, Func<Rune, string?> replace)
    {
        StringBuilder? sb = null;
        for (var i = 0; i < text.Length;)
        {
            var rune = Rune.GetRuneAt(text, i);
            var width = rune.Utf16SequenceLength;
            var replacement = replace(rune);
            if (replacement is not null && sb is null)
            {
                sb = new StringBuilder(text.Length + 8);
                sb.Append(text, 0, i);
            }

            if (replacement is not null)
            {
                sb!.Append(replacement);
            }
            else
            {
                sb?.Append(text, i, width);
            }

            i += width;
        }

        return sb?.ToString() ?? text;
    }

    /// <summary>
    /// Rust's <c>char::to_lowercase</c>, character by character: the simple lower-case mapping, except U+0130 (İ),
    /// whose unconditional full mapping is two characters (i and U+0307).
    /// </summary>
    public static string Lowercase(string text) =>
        Map(text, static rune =>
        {
            if (rune.Value == 0x130)
            {
                return "i\u0307";
            }

            var lower = Rune.ToLowerInvariant(rune);
            return lower == rune ? null : lower.ToString();
        });
}

/// <summary><c>Lowercase</c>.</summary>
internal sealed class LowercaseNormalizer : INormalizer
{
    public string Normalize(string text) => UnicodeSteps.Lowercase(text);
}

/// <summary><c>StripAccents</c>: drops combining marks (meant after <c>NFD</c>).</summary>
internal sealed class StripAccentsNormalizer : INormalizer
{
    public string Normalize(string text) => UnicodeSteps.Drop(text, TokenizersUnicode.IsCombiningMark);
}

/// <summary><c>NFC</c>, <c>NFD</c>, <c>NFKC</c>, <c>NFKD</c>: Unicode normalization of the whole piece.</summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : INormalizer
{
    public string Normalize(string text) => UnicodeSteps.Normalize(text, form);
}

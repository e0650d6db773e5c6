namespace Reranker.Tokenization;

/// <summary>
/// The character classes of the Hugging Face tokenizers library's BERT pipeline. The library takes them from crates
/// with tables of an older Unicode version than .NET's, so .NET's <c>GetUnicodeCategory</c> would disagree on a few
/// hundred code points (characters added or re-categorised since, such as U+061D, U+2E43 or U+0890); the tables in
/// <c>TokenizersUnicodeTables.cs</c> hold the library's own classes, measured for every code point through the library.
/// </summary>
internal static partial class TokenizersUnicode
{
    /// <summary><c>is_other</c> of the unicode_categories crate: control, format and private-use characters.</summary>
    public static bool IsOther(int codePoint) => InRanges(ControlRanges, codePoint);

    /// <summary><c>is_punctuation</c> of the unicode_categories crate (Pc, Pd, Ps, Pe, Pi, Pf, Po); ASCII punctuation is added by the caller.</summary>
    public static bool IsPunctuation(int codePoint) => InRanges(PunctuationRanges, codePoint);

    /// <summary><c>is_mark_nonspacing</c> of the unicode_categories crate (Mn): what BertNormalizer's accent stripping drops after NFD.</summary>
    public static bool IsNonSpacingMark(int codePoint) => InRanges(NonSpacingMarkRanges, codePoint);

    /// <summary>The combining marks the <c>StripAccents</c> normalizer drops.</summary>
    public static bool IsCombiningMark(int codePoint) => InRanges(CombiningMarkRanges, codePoint);

    private static bool InRanges(int[] ranges, int codePoint)
    {
        // ranges holds inclusive [start, end] pairs in ascending order.
        int lo = 0, hi = (ranges.Length / 2) - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (codePoint < ranges[2 * mid])
            {
                hi = mid - 1;
            }
            else if (codePoint > ranges[(2 * mid) + 1])
            {
                lo = mid + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }
}

using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Reranker.Tokenization;

/// <summary>
/// The <c>Precompiled</c> normalizer: SentencePiece's compiled character map (a Darts double-array trie over UTF-8
/// keys plus a blob of NUL-terminated replacements), applied the way the Hugging Face tokenizers library applies it.
/// </summary>
/// <remarks>
/// The tokenizers library walks the text by extended grapheme cluster. A cluster shorter than 6 UTF-8 bytes for which
/// some prefix has a rule is replaced whole by the replacement of its <em>shortest</em> matching prefix; otherwise each
/// character is looked up alone. This differs from SentencePiece itself (longest match over the raw bytes): decomposed
/// Hangul stays decomposed, and a combining mark after a mapped character is dropped. Parity with the fast tokenizer
/// requires this rule, so it is reproduced exactly.
/// </remarks>
internal sealed class PrecompiledCharsMap : INormalizer
{
    private readonly uint[] _units;
    private readonly byte[] _normalized;
    private readonly string?[] _asciiReplacement = new string?[128];
    private readonly bool[] _asciiHasRule = new bool[128];

    // Replacement of a lone BMP character, filled on first use; NoRule marks a character without a rule.
    private static readonly string NoRule = new('\0', 1);
    private readonly string?[] _bmpReplacement = new string?[char.MaxValue + 1];

    private PrecompiledCharsMap(uint[] units, byte[] normalized)
    {
        _units = units;
        _normalized = normalized;
        Span<byte> one = stackalloc byte[1];
        for (var c = 0; c < 128; c++)
        {
            one[0] = (byte)c;
            var value = ShortestPrefixValue(one);
            if (value >= 0)
            {
                _asciiHasRule[c] = true;
                _asciiReplacement[c] = ReadReplacement(value);
            }
        }
    }

    /// <summary>Parses the charsmap blob (as stored base64-decoded in <c>tokenizer.json</c> or a SentencePiece model).</summary>
    /// <exception cref="InvalidDataException">The blob is truncated or inconsistent.</exception>
    public static PrecompiledCharsMap Parse(byte[] blob)
    {
        if (blob.Length < 4)
        {
            throw new InvalidDataException($"The precompiled charsmap is {blob.Length} bytes long; at least 4 bytes were expected.");
        }

        var trieSize = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieSize % 4 != 0 || trieSize == 0 || trieSize > (uint)(blob.Length - 4))
        {
            throw new InvalidDataException(
                $"The precompiled charsmap declares a trie of {trieSize} bytes, which does not fit in its {blob.Length - 4} bytes of data.");
        }

        var units = new uint[trieSize / 4];
        for (var i = 0; i < units.Length; i++)
        {
            units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(4 + (i * 4)));
        }

        var normalized = blob.AsSpan(4 + (int)trieSize).ToArray();
        return new PrecompiledCharsMap(units, normalized);
    }

    public string Normalize(string text)
    {
        if (text.Length == 0)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        Span<byte> utf8 = stackalloc byte[64];
        var span = text.AsSpan();
        var pos = 0;
        while (pos < span.Length)
        {
            var c = span[pos];

            // Fast path: an ASCII character that is a whole grapheme (CR LF is one grapheme, so it goes the slow way).
            if (c < 0x80 && c != '\r' && (pos + 1 == span.Length || span[pos + 1] < 0x80))
            {
                if (_asciiHasRule[c])
                {
                    sb.Append(_asciiReplacement[c]);
                }
                else
                {
                    sb.Append(c);
                }

                pos++;
                continue;
            }

            // Fast path: Hangul syllables and CJK ideographs (and ASCII) next to each other never join into one grapheme
            // cluster (no Extend, ZWJ, SpacingMark or Prepend among them, and a syllable only joins a following jamo).
            if (IsSimple(c) && c != '\r' && (pos + 1 == span.Length || IsSimple(span[pos + 1])))
            {
                var replacement = _bmpReplacement[c] ??= LookUpSingle(c);
                if (ReferenceEquals(replacement, NoRule))
                {
                    sb.Append(c);
                }
                else
                {
                    sb.Append(replacement);
                }

                pos++;
                continue;
            }

            var length = StringInfo.GetNextTextElementLength(span[pos..]);
            var grapheme = span.Slice(pos, length);
            pos += length;

            var byteCount = Encoding.UTF8.GetByteCount(grapheme);
            if (byteCount < 6)
            {
                var written = Encoding.UTF8.GetBytes(grapheme, utf8);
                var value = ShortestPrefixValue(utf8[..written]);
                if (value >= 0)
                {
                    sb.Append(ReadReplacement(value));
                    continue;
                }
            }

            // Each character (code point) of the cluster alone.
            var i = 0;
            while (i < grapheme.Length)
            {
                var charLength = char.IsHighSurrogate(grapheme[i]) && i + 1 < grapheme.Length && char.IsLowSurrogate(grapheme[i + 1]) ? 2 : 1;
                var scalar = grapheme.Slice(i, charLength);
                var written = Encoding.UTF8.GetBytes(scalar, utf8);
                var value = ShortestPrefixValue(utf8[..written]);
                if (value >= 0)
                {
                    sb.Append(ReadReplacement(value));
                }
                else
                {
                    sb.Append(scalar);
                }

                i += charLength;
            }
        }

        return sb.ToString();
    }

    private static bool IsSimple(char c) => c < 0x80 || (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x4E00 && c <= 0x9FFF);

    private string LookUpSingle(char c)
    {
        Span<byte> utf8 = stackalloc byte[4];
        var written = Encoding.UTF8.GetBytes([c], utf8);
        var value = ShortestPrefixValue(utf8[..written]);
        return value >= 0 ? ReadReplacement(value) : NoRule;
    }

    /// <summary>Value of the shortest key in the trie that is a prefix of <paramref name="key"/>, or -1.</summary>
    private int ShortestPrefixValue(ReadOnlySpan<byte> key)
    {
        var units = _units;
        uint nodePos = 0;
        var unit = units[0];
        nodePos ^= Offset(unit);
        foreach (var b in key)
        {
            if (b == 0)
            {
                break;
            }

            nodePos ^= b;
            if (nodePos >= (uint)units.Length)
            {
                return -1;
            }

            unit = units[nodePos];
            if (Label(unit) != b)
            {
                return -1;
            }

            nodePos ^= Offset(unit);
            if (HasLeaf(unit))
            {
                return nodePos < (uint)units.Length ? (int)Value(units[nodePos]) : -1;
            }
        }

        return -1;
    }

    private string ReadReplacement(int offset)
    {
        if ((uint)offset >= (uint)_normalized.Length)
        {
            throw new InvalidDataException($"The precompiled charsmap points to offset {offset} beyond its {_normalized.Length} bytes of replacements.");
        }

        var rest = _normalized.AsSpan(offset);
        var end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }

    private static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;

    private static uint Value(uint unit) => unit & ((1u << 31) - 1);

    private static uint Label(uint unit) => unit & ((1u << 31) | 0xFF);

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);
}

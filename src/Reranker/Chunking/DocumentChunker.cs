using System.Globalization;

namespace Reranker.Chunking;

/// <summary>The chunks of one document.</summary>
/// <param name="Spans">The chunks, in document order; never empty (an empty or fitting document is one chunk, the whole text).</param>
/// <param name="LeftOut"><see langword="true"/> when text (other than white space) after the last chunk was not covered, because of the chunk cap.</param>
/// <param name="Oversized"><see langword="true"/> when a chunk is a single grapheme cluster that alone has more tokens than the budget (it will be cut).</param>
internal sealed record ChunkPlan(DocumentSpan[] Spans, bool LeftOut, bool Oversized);

/// <summary>
/// Splits a document into character spans that each tokenize to at most a budget of tokens, ending at line ends,
/// sentence ends or white space where one is near, and never inside a grapheme cluster.
/// </summary>
/// <remarks>
/// Token counts come from tokenizing each candidate substring exactly as it will be scored, never from adding up
/// token counts of pieces: normalization (NFKC) and the unigram segmentation make the count of a text differ from
/// the sum over its parts, and a longer text can even have fewer tokens than its prefix. Every chunk returned is
/// checked against the budget as it stands.
/// </remarks>
internal static class DocumentChunker
{
    /// <summary>Line and sentence ends count as "near" in the last quarter of the longest chunk that fits.</summary>
    private const int SentenceRegionDivisor = 4;

    /// <summary>White space counts as near in the second half of the longest chunk that fits.</summary>
    private const int SpaceRegionDivisor = 2;

    /// <summary>Splits <paramref name="text"/> into chunks of at most <paramref name="budget"/> tokens each.</summary>
    /// <param name="text">The document.</param>
    /// <param name="budget">Most tokens of one chunk, as counted by <paramref name="countTokens"/>.</param>
    /// <param name="overlap">Tokens each chunk repeats from the end of the previous one (at most half of it).</param>
    /// <param name="maxChunks">Most chunks; the text after the last one is left out.</param>
    /// <param name="countTokens">Token count of a text, without special tokens.</param>
    /// <param name="cancellationToken">Checked before each chunk.</param>
    /// <returns>The chunks.</returns>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="budget"/> is below 1 while the text does not fit, <paramref name="overlap"/> is negative or
    /// <paramref name="maxChunks"/> is below 1.
    /// </exception>
    public static ChunkPlan Split(string text, int budget, int overlap, int maxChunks, Func<string, int> countTokens, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(overlap);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChunks);
        var total = countTokens(text);
        if (total <= budget)
        {
            return new ChunkPlan([new DocumentSpan(0, text.Length)], LeftOut: false, Oversized: false);
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(budget);
        return new Splitter(text, budget, Math.Min(overlap, budget / 2), countTokens, total).Run(maxChunks, cancellationToken);
    }

    /// <summary>Starts of the grapheme clusters (extended, UAX #29) of <paramref name="text"/>, then its length.</summary>
    internal static int[] GraphemeBoundaries(string text)
    {
        var boundaries = new List<int>(text.Length + 1);
        var i = 0;
        while (i < text.Length)
        {
            boundaries.Add(i);
            i += StringInfo.GetNextTextElementLength(text.AsSpan(i));
        }

        boundaries.Add(text.Length);
        return [.. boundaries];
    }

    internal static bool IsLineBreak(char c) => c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029' or '\f' or '\v';

    /// <summary>Whether a sentence ends right before <paramref name="end"/>.</summary>
    internal static bool IsSentenceEnd(string text, int end)
    {
        if (end <= 0)
        {
            return false;
        }

        return text[end - 1] switch
        {
            // CJK full stops need no following space.
            '。' or '！' or '？' or '｡' or '．' => true,
            // "3.14", "e.g.x" are not sentence ends: these need white space (or the end of the text) after them.
            '.' or '!' or '?' or '…' => end == text.Length || char.IsWhiteSpace(text[end]),
            _ => false,
        };
    }

    private sealed class Splitter(string text, int budget, int overlap, Func<string, int> countTokens, int totalTokens)
    {
        private readonly int[] _bounds = GraphemeBoundaries(text);
        private bool _oversized;

        private int Last => _bounds.Length - 1;

        public ChunkPlan Run(int maxChunks, CancellationToken cancellationToken)
        {
            var spans = new List<DocumentSpan>();
            // The end of the last grapheme cluster that is not only white space (a CR LF is one cluster).
            var lastContentEnd = _bounds[TrimSpace(0, Last)];

            var si = SkipSpace(0);
            var covered = 0;
            while (_bounds[si] < lastContentEnd && spans.Count < maxChunks)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var ei = FurthestFit(si);
                var end = _bounds[ei] >= lastContentEnd ? _bounds[ei] : Break(si, ei);
                end = TrimEnd(_bounds[si], end);
                spans.Add(new DocumentSpan(_bounds[si], end - _bounds[si]));
                covered = end;
                if (end >= lastContentEnd)
                {
                    break;
                }

                si = SkipSpace(NextStart(si, IndexOf(end)));
            }

            return new ChunkPlan([.. spans], LeftOut: covered < lastContentEnd, _oversized);
        }

        private bool Fits(int start, int end) => countTokens(text[start..end]) <= budget;

        /// <summary>Index in <see cref="_bounds"/> of a boundary position (which must be one).</summary>
        private int IndexOf(int position)
        {
            var i = Array.BinarySearch(_bounds, position);
            return i >= 0 ? i : throw new InvalidOperationException($"Position {position} is not a grapheme boundary.");
        }

        private bool IsBoundary(int position) => Array.BinarySearch(_bounds, position) >= 0;

        private bool IsSpaceCluster(int i)
        {
            for (var c = _bounds[i]; c < _bounds[i + 1]; c++)
            {
                if (!char.IsWhiteSpace(text[c]))
                {
                    return false;
                }
            }

            return true;
        }

        private int SkipSpace(int i)
        {
            while (i < Last && IsSpaceCluster(i))
            {
                i++;
            }

            return i;
        }

        /// <summary>
        /// The furthest boundary after <paramref name="si"/> whose chunk fits: a first guess from the document's
        /// characters per token, a doubling search beyond it, then bisection. At least one cluster: a single cluster
        /// that alone exceeds the budget becomes an oversized chunk.
        /// </summary>
        private int FurthestFit(int si)
        {
            var start = _bounds[si];
            if (!Fits(start, _bounds[si + 1]))
            {
                _oversized = true;
                return si + 1;
            }

            var good = si + 1;
            var guessPosition = start + (int)Math.Min(text.Length, (double)budget * text.Length / totalTokens);
            var guess = Array.BinarySearch(_bounds, Math.Min(guessPosition, text.Length));
            guess = Math.Clamp(guess >= 0 ? guess : ~guess, good, Last);
            int bad;
            if (Fits(start, _bounds[guess]))
            {
                good = guess;
                var step = Math.Max(1, (guess - si) / 8);
                while (true)
                {
                    if (good == Last)
                    {
                        return good;
                    }

                    var probe = Math.Min(Last, good + step);
                    if (!Fits(start, _bounds[probe]))
                    {
                        bad = probe;
                        break;
                    }

                    good = probe;
                    step *= 2;
                }
            }
            else
            {
                bad = guess;
            }

            while (bad - good > 1)
            {
                var mid = good + ((bad - good) / 2);
                if (Fits(start, _bounds[mid]))
                {
                    good = mid;
                }
                else
                {
                    bad = mid;
                }
            }

            return good;
        }

        /// <summary>
        /// Where the chunk from <paramref name="si"/> ends, given that it fits up to boundary <paramref name="fi"/>: the last
        /// line end, else sentence end, in the last quarter; else the last white space in the second half; else the
        /// boundary itself. A preferred end is checked against the budget again (a prefix can have more tokens).
        /// </summary>
        private int Break(int si, int fi)
        {
            var start = _bounds[si];
            var fit = _bounds[fi];
            var near = fit - ((fit - start) / SentenceRegionDivisor);
            var half = fit - ((fit - start) / SpaceRegionDivisor);
            int? line = null, sentence = null, space = null;
            for (var p = fit; p > start && p >= half; p--)
            {
                if (!IsBoundary(p))
                {
                    continue;
                }

                if (p >= near && line is null && p < text.Length && IsLineBreak(text[p]))
                {
                    line = p;
                    break;
                }

                if (p >= near && sentence is null && IsSentenceEnd(text, p))
                {
                    sentence = p;
                }

                if (space is null && p < text.Length && char.IsWhiteSpace(text[p]))
                {
                    space = p;
                }
            }

            foreach (var candidate in new[] { line, sentence, space })
            {
                if (candidate is { } end && end > start && (end == fit || Fits(start, end)))
                {
                    return end;
                }
            }

            return fit;
        }

        /// <summary>
        /// Drops the grapheme clusters made only of white space at the end of a chunk, when the shorter chunk still fits.
        /// Whole clusters: a CR LF is one cluster, so a character-by-character check of boundaries would stop at it.
        /// </summary>
        private int TrimEnd(int start, int end)
        {
            var trimmed = _bounds[TrimSpace(IndexOf(start) + 1, IndexOf(end))];
            return trimmed == end || Fits(start, trimmed) ? trimmed : end;
        }

        /// <summary>
        /// The boundary index <paramref name="ei"/> moved back over clusters made only of white space, to no lower than
        /// <paramref name="lowest"/>.
        /// </summary>
        private int TrimSpace(int lowest, int ei)
        {
            while (ei > lowest && IsSpaceCluster(ei - 1))
            {
                ei--;
            }

            return ei;
        }

        /// <summary>
        /// Where the next chunk starts: the earliest boundary in the chunk's second half from which the rest of the chunk
        /// has at most <c>overlap</c> tokens, moved forward to a word start when one follows in the chunk.
        /// </summary>
        private int NextStart(int si, int ei)
        {
            if (overlap == 0)
            {
                return ei;
            }

            var end = _bounds[ei];
            var middle = _bounds[si] + ((end - _bounds[si]) / 2);
            var lo = Array.BinarySearch(_bounds, middle);
            lo = Math.Max(si + 1, lo >= 0 ? lo : ~lo);
            if (lo >= ei)
            {
                return ei;
            }

            // The smallest index whose suffix fits in the overlap; the empty suffix at ei always does.
            var hi = ei;
            while (lo < hi)
            {
                var mid = lo + ((hi - lo) / 2);
                if (countTokens(text[_bounds[mid]..end]) <= overlap)
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }

            if (hi == ei || (_bounds[hi] > 0 && char.IsWhiteSpace(text[_bounds[hi] - 1])))
            {
                return hi;
            }

            for (var i = hi; i < ei; i++)
            {
                if (IsSpaceCluster(i))
                {
                    return i + 1;
                }
            }

            return hi;
        }
    }
}

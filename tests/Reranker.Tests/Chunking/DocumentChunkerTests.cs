using System.Globalization;
using System.Text;
using Reranker.Chunking;
using Reranker.Tokenization;

namespace Reranker.Tests.Chunking;

/// <summary>
/// <see cref="DocumentChunker"/> with the real XLM-R tokenizer: chunks fit, end at the preferred places, never split a
/// grapheme cluster, overlap as asked, stop at the cap, and cover the document.
/// </summary>
public sealed class DocumentChunkerTests
{
    private static readonly XlmRobertaTokenizer Tokenizer = XlmRobertaTokenizer.Create(TestPaths.TinyModel);

    private static int Count(string text) => Tokenizer.EncodeToIds(text).Length;

    private static string Slice(string text, DocumentSpan span) => text.Substring(span.Start, span.Length);

    private const string English =
        "Cross-encoders read the query and the passage together. They are slow but accurate. " +
        "A reranker orders what a first-stage retriever found. The answer may be near the bottom of a long page! " +
        "Does the model see it? Only if the page is split.\nA new line starts here and goes on for a while.\n";

    [Fact]
    public void A_document_that_fits_is_one_chunk_the_whole_text()
    {
        var plan = DocumentChunker.Split(English, budget: 500, overlap: 32, maxChunks: 10, Count);

        Assert.Equal([new DocumentSpan(0, English.Length)], plan.Spans);
        Assert.False(plan.LeftOut);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t ")]
    public void An_empty_or_blank_document_is_one_chunk_even_with_no_budget(string text)
    {
        var plan = DocumentChunker.Split(text, budget: 0, overlap: 0, maxChunks: 1, Count);

        Assert.Equal([new DocumentSpan(0, text.Length)], plan.Spans);
        Assert.False(plan.LeftOut);
    }

    [Fact]
    public void Latin_text_splits_at_sentence_or_word_ends_and_every_chunk_fits()
    {
        var text = string.Concat(Enumerable.Repeat(English, 6));
        var plan = DocumentChunker.Split(text, budget: 40, overlap: 0, maxChunks: int.MaxValue, Count);

        Assert.True(plan.Spans.Length > 5);
        Assert.False(plan.LeftOut);
        foreach (var span in plan.Spans)
        {
            Assert.True(Count(Slice(text, span)) <= 40, $"chunk {span} has {Count(Slice(text, span))} tokens");
            // Never inside a word: the chunk ends before white space, after a sentence end, or at the end.
            Assert.True(
                span.End == text.Length || char.IsWhiteSpace(text[span.End]) || ".!?".Contains(text[span.End - 1], StringComparison.Ordinal),
                $"chunk {span} ends inside a word: '...{text[Math.Max(0, span.End - 10)..span.End]}|{text[span.End..Math.Min(text.Length, span.End + 10)]}...'");
            Assert.False(char.IsWhiteSpace(text[span.Start]));
            Assert.False(char.IsWhiteSpace(text[span.End - 1]));
        }

        // Most chunks end at a sentence or line end: each is near (the sentences are short against the budget).
        var atSentence = plan.Spans[..^1].Count(s => ".!?".Contains(text[s.End - 1], StringComparison.Ordinal) || text[s.End] == '\n');
        Assert.True(atSentence >= (plan.Spans.Length - 1) * 3 / 4, $"{atSentence} of {plan.Spans.Length - 1} chunks end at a sentence");
        AssertCovers(text, plan.Spans);
    }

    [Fact]
    public void A_line_end_near_the_limit_wins_over_a_later_sentence_end()
    {
        // Sentences end every few tokens; a line break, then one more sentence end, sit in the last quarter of what fits.
        var words = string.Join(' ', Enumerable.Range(0, 30).Select(i => $"w{i}."));
        var text = words + "\nTail. Words follow here and go on. " + words;
        var fit = DocumentChunker.Split(text, budget: Count(words + "\nTail. Words"), overlap: 0, maxChunks: 1, Count);

        Assert.Equal(words.Length, fit.Spans[0].End);
        Assert.True(fit.LeftOut);
    }

    [Fact]
    public void A_text_without_any_white_space_still_splits_and_is_covered()
    {
        var random = new Random(7);
        var letters = new char[100_000];
        for (var i = 0; i < letters.Length; i++)
        {
            letters[i] = (char)('a' + random.Next(26));
        }

        var text = new string(letters);
        var capped = DocumentChunker.Split(text, budget: 100, overlap: 10, maxChunks: 8, Count);
        Assert.Equal(8, capped.Spans.Length);
        Assert.True(capped.LeftOut);
        Assert.All(capped.Spans, s => Assert.InRange(Count(Slice(text, s)), 1, 100));

        var shorter = text[..6000];
        var all = DocumentChunker.Split(shorter, budget: 100, overlap: 0, maxChunks: int.MaxValue, Count);
        Assert.False(all.LeftOut);
        Assert.All(all.Spans, s => Assert.InRange(Count(Slice(shorter, s)), 1, 100));
        // No overlap: the chunks tile the text exactly.
        Assert.Equal(0, all.Spans[0].Start);
        for (var i = 1; i < all.Spans.Length; i++)
        {
            Assert.Equal(all.Spans[i - 1].End, all.Spans[i].Start);
        }

        Assert.Equal(shorter.Length, all.Spans[^1].End);
    }

    [Fact]
    public void Cjk_without_spaces_splits_after_full_stops_when_near()
    {
        // Korean with its spaces taken out (the test tokenizer knows Hangul; kanji would be fused unknown tokens).
        const string Sentence = "머신러닝은데이터에서규칙을배우는인공지능의한분야이다。";
        var text = string.Concat(Enumerable.Repeat(Sentence, 40));
        var plan = DocumentChunker.Split(text, budget: 50, overlap: 0, maxChunks: int.MaxValue, Count);

        Assert.True(plan.Spans.Length > 3);
        Assert.All(plan.Spans, s => Assert.True(Count(Slice(text, s)) <= 50));
        Assert.All(plan.Spans, s => Assert.Equal('。', text[s.End - 1]));
        AssertCovers(text, plan.Spans);
    }

    [Fact]
    public void Emoji_sequences_and_combining_marks_are_never_split()
    {
        // Clusters known by construction: ZWJ families, flags (regional indicator pairs), skin tones, keycaps,
        // a Hangul syllable from conjoining jamo, letters with stacked combining marks, astral CJK.
        string[] clusters =
        [
            "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇰🇷", "👍🏽", "1️⃣", "\u1100\u1161\u11A8", "e\u0301\u0323", "a\u0308\u0304", "𠀋", "é", "x",
        ];
        var random = new Random(11);
        var parts = new List<string>();
        for (var i = 0; i < 600; i++)
        {
            parts.Add(clusters[random.Next(clusters.Length)]);
        }

        var text = string.Concat(parts);
        var allowed = new HashSet<int> { 0 };
        var position = 0;
        foreach (var part in parts)
        {
            position += part.Length;
            allowed.Add(position);
        }

        foreach (var overlap in new[] { 0, 8 })
        {
            var plan = DocumentChunker.Split(text, budget: 30, overlap, maxChunks: int.MaxValue, Count);
            Assert.True(plan.Spans.Length > 5);
            Assert.False(plan.LeftOut);
            Assert.All(plan.Spans, s =>
            {
                Assert.Contains(s.Start, allowed);
                Assert.Contains(s.End, allowed);
                Assert.True(Count(Slice(text, s)) <= 30);
            });
            AssertCovers(text, plan.Spans);
        }
    }

    [Fact]
    public void A_cluster_longer_than_the_budget_becomes_its_own_oversized_chunk()
    {
        var family = "👨‍👩‍👧‍👦";
        var budget = Count(family) - 1;
        Assert.True(budget >= 1, "the fixture needs a cluster of several tokens");
        var text = family + family + family;

        var plan = DocumentChunker.Split(text, budget, overlap: 0, maxChunks: 10, Count);

        Assert.True(plan.Oversized);
        Assert.Equal([new DocumentSpan(0, family.Length), new DocumentSpan(family.Length, family.Length), new DocumentSpan(2 * family.Length, family.Length)], plan.Spans);
    }

    [Fact]
    public void Chunks_overlap_by_at_most_the_asked_tokens_and_at_most_half_a_chunk()
    {
        var text = string.Concat(Enumerable.Repeat(English, 8));
        var without = DocumentChunker.Split(text, budget: 60, overlap: 0, maxChunks: int.MaxValue, Count);
        var with = DocumentChunker.Split(text, budget: 60, overlap: 12, maxChunks: int.MaxValue, Count);

        Assert.True(with.Spans.Length > without.Spans.Length, $"{with.Spans.Length} chunks with overlap, {without.Spans.Length} without");
        for (var i = 1; i < with.Spans.Length; i++)
        {
            var previous = with.Spans[i - 1];
            var current = with.Spans[i];
            Assert.True(current.Start < previous.End, $"chunk {i} {current} does not overlap {previous}");
            Assert.True(current.Start >= previous.Start + (previous.Length / 2), $"chunk {i} {current} repeats more than half of {previous}");
            Assert.True(Count(text[current.Start..previous.End]) <= 12, $"overlap '{text[current.Start..previous.End]}' has more than 12 tokens");
            // The overlap starts at a word start.
            Assert.True(char.IsWhiteSpace(text[current.Start - 1]));
        }

        for (var i = 1; i < without.Spans.Length; i++)
        {
            Assert.True(without.Spans[i].Start >= without.Spans[i - 1].End);
        }

        AssertCovers(text, with.Spans);
    }

    [Fact]
    public void The_cap_keeps_the_first_chunks_and_reports_the_rest_left_out()
    {
        var text = string.Concat(Enumerable.Repeat(English, 8));
        var all = DocumentChunker.Split(text, budget: 50, overlap: 0, maxChunks: int.MaxValue, Count);
        var capped = DocumentChunker.Split(text, budget: 50, overlap: 0, maxChunks: 3, Count);

        Assert.True(all.Spans.Length > 3);
        Assert.False(all.LeftOut);
        Assert.Equal(all.Spans[..3], capped.Spans);
        Assert.True(capped.LeftOut);

        var exact = DocumentChunker.Split(text, budget: 50, overlap: 0, maxChunks: all.Spans.Length, Count);
        Assert.False(exact.LeftOut);
    }

    [Fact]
    public void A_document_that_does_not_fit_needs_a_budget()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DocumentChunker.Split(English, budget: 0, overlap: 0, maxChunks: 10, Count));
    }

    [Fact]
    public void Random_texts_budgets_and_options_keep_every_invariant()
    {
        string[] pieces =
        [
            "word", "단어", "機械", "학습은", "the", "data", ".", "!", "?", "。", ",", " ", " ", " ", "  ", "\n", "\r\n", "\n\n",
            "👨‍👩‍👧", "🇯🇵", "e\u0301", "ﬁ", "①", "Ａ", "ｶ", "\u3000", "3.14", "https://example.com/a_b", "\t", "〜",
        ];
        var cases = 0;
        for (var seed = 0; seed < 60; seed++)
        {
            var random = new Random(seed);
            var builder = new StringBuilder();
            var length = random.Next(0, 3000);
            while (builder.Length < length)
            {
                builder.Append(pieces[random.Next(pieces.Length)]);
            }

            var text = builder.ToString();
            var budget = random.Next(1, 120);
            var overlap = random.Next(0, 40);
            var maxChunks = random.Next(4) == 0 ? random.Next(1, 4) : int.MaxValue;
            var plan = DocumentChunker.Split(text, budget, overlap, maxChunks, Count);
            var context = $"seed {seed}: {text.Length} chars, budget {budget}, overlap {overlap}, cap {maxChunks}";
            cases++;

            Assert.NotEmpty(plan.Spans);
            Assert.True(plan.Spans.Length <= maxChunks, context);
            if (Count(text) <= budget)
            {
                Assert.Equal([new DocumentSpan(0, text.Length)], plan.Spans);
                continue;
            }

            var boundaries = new HashSet<int>(StringInfo.ParseCombiningCharacters(text)) { text.Length };
            for (var i = 0; i < plan.Spans.Length; i++)
            {
                var span = plan.Spans[i];
                var chunk = Slice(text, span);
                Assert.True(span.Length > 0, context);
                Assert.Contains(span.Start, boundaries);
                Assert.Contains(span.End, boundaries);
                Assert.False(char.IsWhiteSpace(text[span.Start]), $"{context}: chunk {i} starts with white space");
                var tokens = Count(chunk);
                Assert.True(
                    tokens <= budget || (plan.Oversized && new StringInfo(chunk).LengthInTextElements == 1),
                    $"{context}: chunk {i} {span} has {tokens} tokens");
                if (i > 0)
                {
                    Assert.True(span.Start > plan.Spans[i - 1].Start, $"{context}: chunk {i} does not move forward");
                    Assert.True(span.Start >= plan.Spans[i - 1].Start + (plan.Spans[i - 1].Length / 2), $"{context}: chunk {i} moves less than half a chunk");
                }
            }

            Assert.Equal(plan.LeftOut, plan.Spans.Length == maxChunks && !CoversAll(text, plan.Spans));
            if (!plan.LeftOut)
            {
                AssertCovers(text, plan.Spans);
            }
        }

        Assert.Equal(60, cases);
    }

    /// <summary>Every UTF-16 code unit that <see cref="char.IsWhiteSpace(char)"/> calls white space (all are in the BMP).</summary>
    private static readonly string[] WhiteSpace =
        [.. Enumerable.Range(0, char.MaxValue + 1).Select(c => (char)c).Where(char.IsWhiteSpace).Select(c => c.ToString())];

    [Fact]
    public void Leading_and_trailing_white_space_of_every_kind_is_left_out_of_every_chunk()
    {
        // White space as single characters and as grapheme clusters of several (CR LF is one cluster), and clusters that
        // hold white space but are not only white space (a space carrying a combining mark, a ZWJ, a prepended sign):
        // those are text and stay in.
        Assert.True(WhiteSpace.Length >= 25, string.Join(",", WhiteSpace.Select(w => $"U+{(int)w[0]:X4}")));
        string[] blank = [.. WhiteSpace, "\r\n", "\r\n\r\n", " \r\n", "\t\r\n", "\u3000\r\n", "\r\n ", "\u2028\r\n", "\n\r"];
        string[] notBlank = [" \u0301", "\u00A0\u0308", " \u200D", "\u0600 ", "\r\n\u0301x", "\u3000\u20DD"];
        string[] words = ["word", "단어", "機械", "data.", "e\u0301", "👨‍👩‍👧", "3.14", "end!"];
        var checkedCases = 0;
        for (var seed = 0; seed < 400; seed++)
        {
            var random = new Random(seed);
            string Run(int most) => string.Concat(Enumerable.Range(0, random.Next(1, most + 1)).Select(_ => blank[random.Next(blank.Length)]));
            var builder = new StringBuilder(Run(4));
            var count = random.Next(8, 40);
            for (var w = 0; w < count; w++)
            {
                builder.Append(words[random.Next(words.Length)]).Append(w + 1 < count ? Run(2) : "");
            }

            if (random.Next(5) == 0)
            {
                builder.Append(notBlank[random.Next(notBlank.Length)]);
            }

            builder.Append(Run(4));
            var text = builder.ToString();
            var budget = random.Next(3, 30);
            if (Count(text) <= budget)
            {
                continue; // a document that fits is the whole text, white space included (documented)
            }

            var plan = DocumentChunker.Split(text, budget, overlap: random.Next(0, 8), maxChunks: int.MaxValue, Count);
            var bounds = DocumentChunker.GraphemeBoundaries(text);
            bool IsBlankCluster(int start, int end) => text[start..end].All(char.IsWhiteSpace);
            var clusters = bounds.Zip(bounds.Skip(1)).ToArray();
            var firstText = clusters.First(c => !IsBlankCluster(c.First, c.Second)).First;
            var lastText = clusters.Last(c => !IsBlankCluster(c.First, c.Second)).Second;
            var context = $"seed {seed}, budget {budget}: {Escape(text)}";

            Assert.False(plan.LeftOut, context);
            Assert.Equal(firstText, plan.Spans[0].Start);
            Assert.True(lastText == plan.Spans[^1].End, $"{context}: the last chunk ends at {plan.Spans[^1].End}, the text at {lastText}: {Escape(text[plan.Spans[^1].Start..])}");
            foreach (var span in plan.Spans)
            {
                var first = clusters.First(c => c.First == span.Start);
                var last = clusters.First(c => c.Second == span.End);
                Assert.False(IsBlankCluster(first.First, first.Second), $"{context}: chunk {span} starts with white space");
                Assert.False(IsBlankCluster(last.First, last.Second), $"{context}: chunk {span} ends with white space {Escape(text[last.First..last.Second])}");
            }

            checkedCases++;
        }

        Assert.True(checkedCases > 300, $"only {checkedCases} documents needed chunks");
    }

    private static string Escape(string text) =>
        string.Concat(text.Select(c => c is > ' ' and < '\u007f' ? c.ToString() : $"\\u{(int)c:X4}"));

    [Theory]
    [InlineData(TruncationStrategy.LongestFirst)]
    [InlineData(TruncationStrategy.QueryCapped)]
    public void The_budget_keeps_chunks_whole_and_the_query_whole_when_it_leaves_room(TruncationStrategy truncation)
    {
        foreach (var maxLength in new[] { 8, 9, 16, 17, 20, 64, 127, 512 })
        {
            for (var query = 0; query <= maxLength + 5; query += maxLength > 64 ? 7 : 1)
            {
                var budget = ChunkBudget.ForDocument(query, maxLength, 4, truncation);
                var context = $"{truncation}, max {maxLength}, query {query}, budget {budget}";
                // Checked on the encoder itself: documents of up to 'budget' tokens (sampled) are kept whole.
                int[] lengths = [0, 1, 2, budget / 3, budget / 2, (budget / 2) + 1, budget - 1, budget];
                foreach (var d in lengths.Where(d => d >= 0 && d <= budget).Distinct())
                {
                    Assert.True(EncodeSynthetic(query, d, maxLength, truncation).DocumentLength == d, $"{context}: a document of {d} tokens is cut");
                }

                var atBudget = EncodeSynthetic(query, budget, maxLength, truncation);
                var beyond = EncodeSynthetic(query, budget + 1, maxLength, truncation);
                if (atBudget.QueryLength == query)
                {
                    // The query stays whole: the budget is all the room it leaves.
                    Assert.True(beyond.QueryLength < query || beyond.DocumentLength <= budget, $"{context}: one more token would still fit beside the whole query");
                }
                else
                {
                    // The query is cut as truncation cuts it: then the chunk is as long as the strategy keeps whole at all,
                    // and keeping the query whole would have left less than half of it.
                    Assert.True(beyond.DocumentLength <= budget, $"{context}: one more document token would still be kept");
                    var roomBesideWholeQuery = Enumerable.Range(0, budget + 1).LastOrDefault(d => EncodeSynthetic(query, d, maxLength, truncation) is var e && e.QueryLength == query && e.DocumentLength == d);
                    Assert.True(budget == 0 || roomBesideWholeQuery * 2 < budget, $"{context}: the whole query leaves {roomBesideWholeQuery} tokens, yet it was cut");
                }
            }
        }
    }

    /// <summary>Encodes a query of <paramref name="query"/> tokens and a document of <paramref name="document"/> tokens.</summary>
    private static PairEncoding EncodeSynthetic(int query, int document, int maxLength, TruncationStrategy truncation)
    {
        // "a" and "b" separated by spaces are one token each.
        static string Words(string word, int n) => string.Join(' ', Enumerable.Repeat(word, n));
        Assert.Equal(3, Count(Words("a", 3)));
        return Tokenizer.EncodePair(Words("a", query), Words("b", document), maxLength, truncation);
    }

    private static bool CoversAll(string text, DocumentSpan[] spans)
    {
        var covered = new bool[text.Length];
        foreach (var span in spans)
        {
            Array.Fill(covered, true, span.Start, span.Length);
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (!covered[i] && !char.IsWhiteSpace(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static void AssertCovers(string text, DocumentSpan[] spans) =>
        Assert.True(CoversAll(text, spans), "some text outside white space is in no chunk");
}

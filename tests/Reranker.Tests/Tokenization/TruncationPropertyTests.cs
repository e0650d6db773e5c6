using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests.Tokenization;

/// <summary>
/// No option combination yields more than MaxLength ids: every MaxLength from 8 to 600 against random query and
/// document lengths, both strategies, at the split level and through the real tokenizer. Where the reference
/// defines the result (longest_first always; FlagEmbedding from MaxLength 16 on), it is kept.
/// </summary>
public sealed class TruncationPropertyTests
{
    private const int Specials = 4;
    private static readonly XlmRobertaTokenizer Tokenizer = XlmRobertaTokenizer.FromTokenizerJson(Path.Combine(TestPaths.TinyModel, "tokenizer.json"));

    public static TheoryData<TruncationStrategy> Strategies() => [TruncationStrategy.LongestFirst, TruncationStrategy.QueryCapped];

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Split_never_exceeds_MaxLength_and_keeps_the_reference_where_it_is_defined(TruncationStrategy strategy)
    {
        var random = new Random(20261203);
        for (var maxLength = CrossEncoderOptions.MinMaxLength; maxLength <= 600; maxLength++)
        {
            for (var trial = 0; trial < 60; trial++)
            {
                // Lengths around the interesting edges: empty, short, about the budget, far beyond it.
                var n1 = Length(random, maxLength);
                var n2 = Length(random, maxLength);
                var (q, d) = strategy == TruncationStrategy.LongestFirst
                    ? XlmRobertaTokenizer.LongestFirst(n1, n2, maxLength - Specials)
                    : XlmRobertaTokenizer.QueryCapped(n1, n2, maxLength, Specials);

                var where = $"maxLength {maxLength}, lengths ({n1}, {n2}) -> ({q}, {d})";
                Assert.True(q + d + Specials <= maxLength, "too long: " + where);
                Assert.True(q >= 0 && q <= n1 && d >= 0 && d <= n2, "kept more than there was: " + where);

                if (strategy == TruncationStrategy.LongestFirst)
                {
                    // tokenizers' longest_first: a pair that fits is untouched; one that does not fills the budget.
                    var fits = n1 + n2 + Specials <= maxLength;
                    Assert.True(fits ? (q, d) == (n1, n2) : q + d + Specials == maxLength, "longest_first: " + where);
                }
                else if (maxLength * 3 / 4 + Specials <= maxLength)
                {
                    // FlagEmbedding: query cut to max*3//4, then only the document is cut to what is left.
                    var expectedQuery = Math.Min(n1, maxLength * 3 / 4);
                    Assert.Equal((expectedQuery, Math.Min(n2, maxLength - expectedQuery - Specials)), (q, d));
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void EncodePair_never_exceeds_MaxLength(TruncationStrategy strategy)
    {
        var random = new Random(42);
        var words = new[] { "검색", "결과를", "문서", "질문입니다", "reranker", "model", "the", "a", "😀", "１２３", "données", "x" };
        string Text(int maxWords) => string.Join(' ', Enumerable.Range(0, random.Next(maxWords + 1)).Select(_ => words[random.Next(words.Length)]));

        for (var trial = 0; trial < 400; trial++)
        {
            var maxLength = trial < 100 ? random.Next(8, 17) : random.Next(8, 601);
            var query = Text(random.Next(2) == 0 ? 10 : 2 * maxLength);
            var document = Text(random.Next(2) == 0 ? 10 : 2 * maxLength);

            var encoding = Tokenizer.EncodePair(query, document, maxLength, strategy);

            var fullQuery = Tokenizer.EncodeToIds(query).Length;
            var fullDocument = Tokenizer.EncodeToIds(document).Length;
            var where = $"maxLength {maxLength}, {strategy}, query {fullQuery} tokens, document {fullDocument} tokens";
            Assert.True(encoding.InputIds.Length <= maxLength, $"{encoding.InputIds.Length} ids: {where}");
            Assert.Equal(encoding.QueryLength + encoding.DocumentLength + Specials, encoding.InputIds.Length);
            Assert.Equal(encoding.QueryLength < fullQuery || encoding.DocumentLength < fullDocument, encoding.IsTruncated);
            Assert.Equal(0, encoding.InputIds[0]);
            Assert.Equal(2, encoding.InputIds[^1]);
        }
    }

    private static int Length(Random random, int maxLength) => random.Next(4) switch
    {
        0 => random.Next(0, 4),
        1 => random.Next(0, maxLength),
        2 => random.Next(maxLength - 6, maxLength + 6),
        _ => random.Next(maxLength, 3 * maxLength),
    } is var n && n < 0 ? 0 : n;
}

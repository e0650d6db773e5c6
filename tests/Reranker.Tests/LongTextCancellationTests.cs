using System.Text;
using Reranker.Tokenization;

namespace Reranker.Tests;

/// <summary>
/// Cancellation reaches inside the tokenization of one long document, not only between pairs. (The latency bound is
/// measured, not asserted: docs/LIFETIME-AND-ERRORS.md, "Async and cancellation".)
/// </summary>
public sealed class LongTextCancellationTests
{
    private static readonly XlmRobertaTokenizer Tokenizer = XlmRobertaTokenizer.Create(TestPaths.TinyModel);

    public static TheoryData<string> LongTexts() => ["words", "one word"];

    private static string Text(string kind)
    {
        if (kind == "one word")
        {
            return new string('가', 4_000_000);
        }

        var words = new[] { "검색", "결과를", "문서", "reranker", "model", "the", "données" };
        var random = new Random(7);
        var text = new StringBuilder(4_000_100);
        while (text.Length < 4_000_000)
        {
            text.Append(words[random.Next(words.Length)]).Append(' ');
        }

        return text.ToString();
    }

    [Theory]
    [MemberData(nameof(LongTexts))]
    public void A_cancelled_token_stops_the_tokenizer_inside_one_text(string kind)
    {
        var text = Text(kind);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Tokenizer.EncodePair("질문", text, 512, TruncationStrategy.LongestFirst, cts.Token));
        Assert.ThrowsAny<OperationCanceledException>(() => Tokenizer.EncodeToIds(text, cts.Token));
    }

    [Fact]
    public void The_unigram_model_checks_the_token_inside_one_word()
    {
        // One word can be a whole document (text without spaces): the Viterbi pass itself must see the token.
        var model = new UnigramModel([("<unk>", 0), ("가", -1), ("가가", -1.5)], unknownId: 0);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => model.Encode(new string('가', 100_000), [], null, cts.Token));

        var ids = new List<int>();
        model.Encode(new string('가', 100_000), ids, null, CancellationToken.None);
        Assert.Equal(50_000, ids.Count);
    }
}

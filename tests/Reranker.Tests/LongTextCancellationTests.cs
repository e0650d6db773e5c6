using System.Diagnostics;
using System.Text;
using Reranker.Tokenization;

namespace Reranker.Tests;

/// <summary>Cancellation reaches inside the tokenization of one long document, not only between pairs.</summary>
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

    [Theory]
    [MemberData(nameof(LongTexts))]
    public async Task Cancelling_while_one_4_MB_document_is_tokenized_ends_the_call_long_before_the_tokenizer_would(string kind)
    {
        var text = Text(kind);
        var full = Stopwatch.StartNew();
        Tokenizer.EncodeToIds(text);
        var tokenizeAll = full.Elapsed;

        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        using var cts = new CancellationTokenSource();
        var call = encoder.RankAsync("질문", [text], cancellationToken: cts.Token);
        await Task.Delay(tokenizeAll / 5);
        var cancelled = Stopwatch.StartNew();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        // Checked between pairs only, the call would run on for most of tokenizeAll; checked inside the text it ends
        // within milliseconds. Half of tokenizeAll leaves room for a busy machine.
        Assert.True(cancelled.Elapsed < tokenizeAll / 2, $"cancel took {cancelled.Elapsed.TotalMilliseconds:F0} ms; tokenizing the text takes {tokenizeAll.TotalMilliseconds:F0} ms");
    }
}

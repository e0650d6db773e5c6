using Reranker.Tests.Support;
using Microsoft.ML.Tokenizers;
using Reranker.Tokenization;
using Xunit.Abstractions;

namespace Reranker.Tests.Tokenization;

/// <summary>
/// The sentencepiece.bpe.model fallback (Microsoft.ML.Tokenizers with fairseq ids) against the SentencePiece library's
/// ids (<c>ids_sentencepiece</c>) and the fast tokenizer's (<c>ids</c>) on the 3,520 golden texts.
/// </summary>
public class SentencePieceFallbackTests(ITestOutputHelper output)
{
    private static readonly string ModelPath = Path.Combine(TestPaths.TinyModel, "sentencepiece.bpe.model");

    [Fact]
    public void Fallback_EqualsSentencePieceLibrary_OnEveryGoldenText()
    {
        var fallback = XlmRobertaTokenizer.FromSentencePieceModel(ModelPath);
        Assert.False(fallback.MatchesHuggingFace);
        var rows = GoldenData.Tokens(TestPaths.Golden("tokens.jsonl"));
        var mismatches = rows
            .Select(r => (r.Text, Expected: r.IdsSentencePiece, Actual: fallback.EncodeToIds(r.Text)))
            .Where(m => !m.Expected.SequenceEqual(m.Actual))
            .ToList();
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {rows.Count} texts differ:{Environment.NewLine}{GoldenData.Describe(mismatches)}");
    }

    [Fact]
    public void Fallback_DiffersFromFastTokenizer_ExactlyWhereSentencePieceDoes()
    {
        var fallback = XlmRobertaTokenizer.FromSentencePieceModel(ModelPath);
        var rows = GoldenData.Tokens(TestPaths.Golden("tokens.jsonl"));
        var differing = rows.Where(r => !r.Ids.SequenceEqual(fallback.EncodeToIds(r.Text))).Select(r => r.Text).ToList();
        var documented = rows.Where(r => !r.Ids.SequenceEqual(r.IdsSentencePiece)).Select(r => r.Text).ToList();
        output.WriteLine($"fallback vs fast tokenizer: {differing.Count} of {rows.Count} texts differ");
        Assert.Equal(70, documented.Count);
        Assert.Equal(documented, differing);
    }

    [Fact]
    public void RawMicrosoftMLTokenizers_NeedsTheTwoFixes()
    {
        // Without deleting the characters the charsmap deletes and fusing unknown runs, the library alone is further off.
        using var stream = File.OpenRead(ModelPath);
        var raw = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        var rows = GoldenData.Tokens(TestPaths.Golden("tokens.jsonl"));
        var differing = rows.Count(r => !r.IdsSentencePiece.SequenceEqual(raw.EncodeToIds(r.Text, false, false).Select(Fairseq)));
        output.WriteLine($"raw Microsoft.ML.Tokenizers vs SentencePiece: {differing} of {rows.Count} texts differ");
        Assert.True(differing > 0);

        static int Fairseq(int id) => id switch { 0 => 3, 1 => 0, 2 => 2, _ => id + 1 };
    }

    [Fact]
    public void Fallback_FramesPairsLikeXlmRoberta()
    {
        var fallback = XlmRobertaTokenizer.FromSentencePieceModel(ModelPath);
        var json = XlmRobertaTokenizer.FromTokenizerJson(Path.Combine(TestPaths.TinyModel, "tokenizer.json"));
        var row = GoldenData.RawPairs.First(r => r.Truncation == TruncationStrategy.LongestFirst && r.MaxLength == 512);
        Assert.Equal(row.InputIds, fallback.EncodePair(row.Query, row.Passage, 512, TruncationStrategy.LongestFirst).InputIds);
        Assert.Equal((fallback.BosId, fallback.PadId, fallback.EosId, fallback.UnknownId), (json.BosId, json.PadId, json.EosId, json.UnknownId));
        Assert.Equal(json.VocabularySize, fallback.VocabularySize);
    }
}

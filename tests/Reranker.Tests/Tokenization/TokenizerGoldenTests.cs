using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests.Tokenization;

/// <summary>Token ids against the Hugging Face fast tokenizer's goldens (tokenizers 0.23.2), for each pipeline generation.</summary>
public class TokenizerGoldenTests
{
    public static TheoryData<string, string> Variants => new()
    {
        // tokenizer.json, tokens.jsonl (ids column)
        { Path.Combine(TestPaths.TinyModel, "tokenizer.json"), Path.Combine(TestPaths.Fixture, "golden", "tokens.jsonl") },
        { Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2021", "tokenizer.json"), Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2021", "tokens.jsonl") },
        { Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2020", "tokenizer.json"), Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2020", "tokens.jsonl") },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void EncodeToIds_EqualsFastTokenizer_OnEveryGoldenText(string tokenizerJson, string goldens)
    {
        var tokenizer = XlmRobertaTokenizer.FromTokenizerJson(tokenizerJson);
        var rows = GoldenData.Tokens(goldens);
        Assert.Equal(3520, rows.Count);

        var mismatches = rows
            .Select(r => (r.Text, Expected: r.Ids, Actual: tokenizer.EncodeToIds(r.Text)))
            .Where(m => !m.Expected.SequenceEqual(m.Actual))
            .ToList();

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {rows.Count} texts differ:{Environment.NewLine}{GoldenData.Describe(mismatches)}");
    }

    [Fact]
    public void Variants_DifferWhereTheGoldensSayTheyDo()
    {
        // The three files must not be read as one pipeline: v2021's Replace(" {2,}" -> " ") without Strip gives other ids.
        var modern = GoldenData.Tokens(TestPaths.Golden("tokens.jsonl"));
        var v2021 = GoldenData.Tokens(Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2021", "tokens.jsonl"));
        var differing = modern.Zip(v2021).Where(p => !p.First.Ids.SequenceEqual(p.Second.Ids)).Select(p => p.First.Text).ToList();
        Assert.NotEmpty(differing);

        var a = XlmRobertaTokenizer.FromTokenizerJson(Path.Combine(TestPaths.TinyModel, "tokenizer.json"));
        var b = XlmRobertaTokenizer.FromTokenizerJson(Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2021", "tokenizer.json"));
        Assert.All(differing, text => Assert.NotEqual(a.EncodeToIds(text), b.EncodeToIds(text)));
    }

    [Fact]
    public void SpecialTokensWrittenInText_AreMatchedAsSpecialTokens()
    {
        var tokenizer = XlmRobertaTokenizer.FromTokenizerJson(Path.Combine(TestPaths.TinyModel, "tokenizer.json"));
        Assert.Equal([0, 2, 1, 3, 8001], tokenizer.EncodeToIds("<s> </s> <pad> <unk> <mask>"));
        Assert.Empty(tokenizer.EncodeToIds(string.Empty));
        Assert.Empty(tokenizer.EncodeToIds("   "));
    }

    [Fact]
    public void LoneSurrogates_AreReadAsReplacementCharacter()
    {
        var tokenizer = XlmRobertaTokenizer.FromTokenizerJson(Path.Combine(TestPaths.TinyModel, "tokenizer.json"));
        Assert.Equal(tokenizer.EncodeToIds("a\uFFFDb"), tokenizer.EncodeToIds("a\uD800b"));
        Assert.Equal(tokenizer.EncodeToIds("a\uFFFD"), tokenizer.EncodeToIds("a\uDC00"));
    }
}

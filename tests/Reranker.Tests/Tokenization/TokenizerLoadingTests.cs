using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using Reranker.Tokenization;

namespace Reranker.Tests.Tokenization;

/// <summary>Loading: which files are accepted, and the error each malformed or unsupported one gives.</summary>
public sealed class TokenizerLoadingTests : IDisposable
{
    private static readonly string TokenizerJson = Path.Combine(TestPaths.TinyModel, "tokenizer.json");
    private readonly string _temp = Directory.CreateTempSubdirectory("reranker-tok-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static XlmRobertaTokenizer LoadEdited(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(TokenizerJson))!.AsObject();
        edit(json);
        return XlmRobertaTokenizer.FromTokenizerJson(new MemoryStream(Encoding.UTF8.GetBytes(json.ToJsonString())), "edited.json");
    }

    [Theory]
    [InlineData("model", """{"type": "BPE", "vocab": {}, "merges": []}""", "BPE")]
    [InlineData("normalizer", """{"type": "Nmt"}""", "Nmt")]
    [InlineData("normalizer", """{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "x"}]}""", "Prepend")]
    [InlineData("pre_tokenizer", """{"type": "ByteLevel", "add_prefix_space": false}""", "ByteLevel")]
    [InlineData("pre_tokenizer", """{"type": "Sequence", "pretokenizers": [{"type": "Punctuation"}]}""", "Punctuation")]
    [InlineData("post_processor", """{"type": "ByteLevel", "trim_offsets": true}""", "ByteLevel")]
    [InlineData("post_processor", "null", "post_processor")]
    public void UnsupportedComponent_IsRefusedByName(string field, string replacement, string named)
    {
        var e = Assert.Throws<NotSupportedException>(() => LoadEdited(j => j[field] = JsonNode.Parse(replacement)));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ByteFallbackAndSingleWordTokens_AreRefused()
    {
        var e1 = Assert.Throws<NotSupportedException>(() => LoadEdited(j => j["model"]!["byte_fallback"] = true));
        Assert.Contains("byte_fallback", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<NotSupportedException>(() => LoadEdited(j => j["added_tokens"]![4]!["single_word"] = true));
        Assert.Contains("<mask>", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TemplateTypeIds_BecomeTheSegmentIdsOfThePair()
    {
        // <s> A </s> </s> B:1 </s>: the document's tokens get type 1, every special token keeps type 0.
        var tokenizer = LoadEdited(j => j["post_processor"]!["pair"]![4]!["Sequence"]!["type_id"] = 1);
        var pair = tokenizer.EncodePair("hello", "world there", 64, TruncationStrategy.LongestFirst);
        var expected = Enumerable.Repeat(0, 1 + pair.QueryLength + 2).Concat(Enumerable.Repeat(1, pair.DocumentLength)).Append(0).ToArray();
        Assert.Equal(expected, pair.TokenTypeIds);
        Assert.True(tokenizer.UsesTokenTypeIds);
        Assert.False(XlmRobertaTokenizer.FromTokenizerJson(TokenizerJson).UsesTokenTypeIds);
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("[1, 2, 3]")]
    [InlineData("""{"model": {"type": "Unigram", "unk_id": 3}}""")]
    [InlineData("""{"model": {"type": "Unigram", "unk_id": 99, "vocab": [["a", -1.0]]}}""")]
    [InlineData("""{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a", "x"]]}}""")]
    public void MalformedFile_IsInvalidData(string content)
    {
        var path = Path.Combine(_temp, "tokenizer.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<InvalidDataException>(() => XlmRobertaTokenizer.FromTokenizerJson(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CorruptCharsMap_IsInvalidData()
    {
        Assert.Throws<InvalidDataException>(() => LoadEdited(j => j["normalizer"]!["normalizers"]![0]!["precompiled_charsmap"] = "!!notbase64"));
        Assert.Throws<InvalidDataException>(() => LoadEdited(j => j["normalizer"]!["normalizers"]![0]!["precompiled_charsmap"] = Convert.ToBase64String([0xFF, 0xFF, 0, 0, 1])));
    }

    [Fact]
    public void MissingFiles_NameThePath()
    {
        var missing = Path.Combine(_temp, "nope.json");
        var e = Assert.Throws<FileNotFoundException>(() => XlmRobertaTokenizer.FromTokenizerJson(missing));
        Assert.Equal(missing, e.FileName);
        Assert.Throws<DirectoryNotFoundException>(() => XlmRobertaTokenizer.Create(Path.Combine(_temp, "no-dir")));
        var empty = Assert.Throws<FileNotFoundException>(() => XlmRobertaTokenizer.Create(_temp));
        Assert.Contains("sentencepiece.bpe.model", empty.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => XlmRobertaTokenizer.Create(null!));
        Assert.Throws<ArgumentNullException>(() => XlmRobertaTokenizer.FromTokenizerJson((string)null!));
    }

    [Fact]
    public void GarbageSentencePieceModel_IsInvalidData()
    {
        var path = Path.Combine(_temp, "sentencepiece.bpe.model");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8]);
        Assert.Throws<InvalidDataException>(() => XlmRobertaTokenizer.Create(_temp));
    }

    [Fact]
    public void Create_PrefersTokenizerJson_AndFallsBackToSentencePiece()
    {
        Assert.True(XlmRobertaTokenizer.Create(TestPaths.TinyModel).MatchesHuggingFace);
        File.Copy(Path.Combine(TestPaths.TinyModel, "sentencepiece.bpe.model"), Path.Combine(_temp, "sentencepiece.bpe.model"));
        Assert.False(XlmRobertaTokenizer.Create(_temp).MatchesHuggingFace);
    }

    [Fact]
    public void WorksAsMicrosoftMLTokenizer()
    {
        Tokenizer tokenizer = XlmRobertaTokenizer.FromTokenizerJson(TokenizerJson);
        var text = "분해된 한글: 각 한 <mask> tokens";
        var ids = ((XlmRobertaTokenizer)tokenizer).EncodeToIds(text);

        Assert.Equal(ids, tokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true));
        Assert.Equal(ids.Length, tokenizer.CountTokens(text));
        var tokens = tokenizer.EncodeToTokens(text, out var normalized);
        Assert.Equal(ids, tokens.Select(t => t.Id));
        Assert.NotNull(normalized);
        Assert.All(tokens, t => Assert.Equal(t.Value, normalized![t.Offset]));
        Assert.Equal(ids[..3], tokenizer.EncodeToIds(text, maxTokenCount: 3, out _, out _));
        Assert.Equal("hello world", tokenizer.Decode(((XlmRobertaTokenizer)tokenizer).EncodePair("hello", "world", 64, TruncationStrategy.LongestFirst).InputIds.Where(i => i > 3)));
    }
}

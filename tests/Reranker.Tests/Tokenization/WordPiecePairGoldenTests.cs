using System.Text.Json;
using Reranker.Tokenization;

namespace Reranker.Tests.Tokenization;

/// <summary>
/// BERT pairs against the Rust tokenizers library's own pair encoding (tests/TestData/bert-wordpiece/golden/pairs.jsonl,
/// written by generator/make-pair-goldens.mjs with tokenizers 0.22.2): <c>[CLS] query [SEP] document [SEP]</c>, the
/// segment ids, and LongestFirst truncation at lengths from 8 to 512.
/// </summary>
public class WordPiecePairGoldenTests
{
    private static readonly string Golden = Path.Combine(Path.GetDirectoryName(TestPaths.BertTokenizerJson)!, "golden", "pairs.jsonl");

    [Fact]
    public void Pairs_EqualRustTokenizersPairEncoding_IdsAndSegmentIds()
    {
        var tokenizer = CrossEncoderTokenizer.FromTokenizerJson(TestPaths.BertTokenizerJson);
        var rows = File.ReadLines(Golden).Skip(1).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(300, rows.Count);
        var truncated = 0;
        foreach (var row in rows)
        {
            var query = row.GetProperty("query").GetString()!;
            var document = row.GetProperty("document").GetString()!;
            var maxLength = row.GetProperty("max_length").GetInt32();
            var expectedIds = row.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var expectedTypes = row.GetProperty("type_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();

            var pair = tokenizer.EncodePair(query, document, maxLength, TruncationStrategy.LongestFirst);
            Assert.True(expectedIds.SequenceEqual(pair.InputIds), $"ids differ for max_length {maxLength}, query \"{query}\", document \"{document}\"");
            Assert.Equal(expectedTypes, pair.TokenTypeIds);
            Assert.Equal(pair.InputIds.Length, 3 + pair.QueryLength + pair.DocumentLength);
            if (pair.IsTruncated)
            {
                truncated++;
                Assert.Equal(maxLength, pair.InputIds.Length);
            }
        }

        // The file must exercise truncation, or this test proves little about it.
        Assert.InRange(truncated, 100, 300);
    }

    [Fact]
    public void Pair_SegmentIds_AreZeroThroughFirstSepAndOneAfter()
    {
        var tokenizer = CrossEncoderTokenizer.FromTokenizerJson(TestPaths.BertTokenizerJson);
        var pair = tokenizer.EncodePair("what is a reranker?", "a cross-encoder scores a query and a passage together.", 512, TruncationStrategy.LongestFirst);
        Assert.Equal(101, pair.InputIds[0]);
        var firstSep = Array.IndexOf(pair.InputIds, 102);
        Assert.Equal(1 + pair.QueryLength, firstSep);
        Assert.All(pair.TokenTypeIds[..(firstSep + 1)], t => Assert.Equal(0, t));
        Assert.All(pair.TokenTypeIds[(firstSep + 1)..], t => Assert.Equal(1, t));
        Assert.Equal(102, pair.InputIds[^1]);
        Assert.True(tokenizer.UsesTokenTypeIds);
        Assert.Equal(3, tokenizer.PairSpecialTokenCount);
        Assert.Equal(0, tokenizer.PadId);
        Assert.Equal(100, tokenizer.UnknownId);
        Assert.Equal("what is a reranker ?", tokenizer.Decode(pair.InputIds[..(firstSep + 1)]));
    }
}

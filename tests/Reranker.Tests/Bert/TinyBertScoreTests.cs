using System.Globalization;
using System.Text.Json;
using Reranker.Tests.Support;
using Reranker.Tokenization;
using Xunit.Abstractions;

namespace Reranker.Tests.Bert;

/// <summary>
/// The tiny BERT cross-encoder (tests/TestData/tiny-bert-reranker: random weights, the real bert-base-uncased
/// vocabulary, onnx/model.onnx with input_ids, attention_mask, token_type_ids) against Transformers.js 4.3.1 running
/// the same file (golden/scores.jsonl, generator/make-score-goldens.mjs): ids, segment ids and logits for 320 pairs,
/// 114 of them truncated (tokenized there by the Rust tokenizers library, as transformers truncates).
/// </summary>
public class TinyBertScoreTests(ITestOutputHelper output)
{
    private sealed record Row(string Query, string Document, int MaxLength, bool Truncated, int[] Ids, int[] TypeIds, double Logit);

    private static List<Row> Golden() =>
        File.ReadLines(Path.Combine(TestPaths.TinyBert, "golden", "scores.jsonl")).Skip(1).Select(line =>
        {
            var r = JsonDocument.Parse(line).RootElement;
            return new Row(
                r.GetProperty("query").GetString()!,
                r.GetProperty("document").GetString()!,
                r.GetProperty("max_length").GetInt32(),
                r.GetProperty("truncated").GetBoolean(),
                r.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                r.GetProperty("type_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                r.GetProperty("logit").GetDouble());
        }).ToList();

    [Fact]
    public void Loads_FromOnnxFolder_AsBert()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyBert);
        Assert.EndsWith(Path.Combine("onnx", "model.onnx"), encoder.Model.ModelPath, StringComparison.Ordinal);
        Assert.True(encoder.Model.TokenizerMatchesHuggingFace);
        Assert.True(encoder.Session.TakesTokenTypeIds);
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], encoder.Session.InputNames);
        // BERT numbers positions from 0: all 512 rows of the position table are usable, and the attention of the
        // torch-layout graph is rewritten like XLM-R's.
        Assert.Equal(512, encoder.Options.MaxLength);
        Assert.Equal(2, encoder.Session.Attention!.BlocksRewritten);
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEncoder.Create(TestPaths.TinyBert, new CrossEncoderOptions { MaxLength = 513 }));
    }

    [Fact]
    public void Encodings_EqualReferenceIdsAndSegmentIds()
    {
        var rows = Golden();
        Assert.Equal(320, rows.Count);
        Assert.InRange(rows.Count(r => r.Truncated), 60, 200);
        foreach (var group in rows.GroupBy(r => r.MaxLength))
        {
            using var encoder = CrossEncoder.Create(TestPaths.TinyBert, new CrossEncoderOptions { MaxLength = group.Key });
            foreach (var row in group)
            {
                var pair = encoder.EncodePair(row.Query, row.Document);
                Assert.True(row.Ids.SequenceEqual(pair.InputIds), $"ids differ (max_length {row.MaxLength}): \"{row.Query}\" / \"{row.Document}\"");
                Assert.Equal(row.TypeIds, pair.TokenTypeIds);
                Assert.Equal(row.Truncated, pair.IsTruncated);
            }
        }
    }

    public static TheoryData<string, int, bool> Settings => new()
    {
        { "one pair per run, attention rewritten (default)", 1, true },
        { "length-sorted batches of 16, attention rewritten (equal lengths only)", 16, true },
        { "padded batches of 16, as exported (padding mask, segment ids padded with 0)", 16, false },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void Logits_EqualTransformersJs_Within1e5(string setting, int batchSize, bool rewriteAttention)
    {
        var rows = Golden();
        var expected = new List<double>();
        var actual = new List<float>();
        foreach (var group in rows.GroupBy(r => r.MaxLength))
        {
            using var encoder = CrossEncoder.Create(TestPaths.TinyBert, new CrossEncoderOptions
            {
                MaxLength = group.Key,
                BatchSize = batchSize,
                MaxBatchTokens = 1 << 20,
                RewriteAttention = rewriteAttention,
            });
            var logits = encoder.PredictLogits(group.Select(r => (r.Query, r.Document)).ToList());
            expected.AddRange(group.Select(r => r.Logit));
            actual.AddRange(logits);
        }

        LogitAssert.Close(output, expected, actual, 1e-5, setting);
    }

    /// <summary>The test above can fail on segment ids: the same ids with every type 0 give other logits.</summary>
    [Fact]
    public void SegmentIds_ChangeTheLogit()
    {
        var rows = Golden().Where(r => r.MaxLength == 512 && r.TypeIds.Contains(1)).Take(20).ToList();
        using var encoder = CrossEncoder.Create(TestPaths.TinyBert);
        var ids = rows.Select(r => r.Ids).ToList();
        var right = encoder.Session.Run(ids, 0, 1, 8192, tokenTypeIds: rows.Select(r => r.TypeIds).ToList());
        var zeros = encoder.Session.Run(ids, 0, 1, 8192);
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.True(Math.Abs(right[i] - rows[i].Logit) <= 1e-5, string.Create(CultureInfo.InvariantCulture, $"row {i}: {right[i]} vs {rows[i].Logit}"));
            Assert.True(Math.Abs(zeros[i] - rows[i].Logit) > 1e-3, $"row {i}: segment ids made no difference");
        }
    }

    /// <summary>Chunked long documents work with BERT's three special tokens: each chunk fits, and scoring the winning
    /// span alone gives the reported logit.</summary>
    [Fact]
    public void Chunking_WithBert_ScoresTheWinningSpanAsAPairOfItsOwn()
    {
        var options = new CrossEncoderOptions
        {
            MaxLength = 64,
            LongDocuments = new Reranker.Chunking.LongDocumentOptions { Strategy = Reranker.Chunking.LongDocumentStrategy.Chunk, MaxChunksPerDocument = 20 },
        };
        using var encoder = CrossEncoder.Create(TestPaths.TinyBert, options);
        var rows = Golden().Where(r => r.Document.Length > 1500).Take(5).ToList();
        Assert.NotEmpty(rows);
        var results = encoder.ScorePairs(rows.Select(r => (r.Query, r.Document)).ToList());
        using var plain = CrossEncoder.Create(TestPaths.TinyBert, new CrossEncoderOptions { MaxLength = 64 });
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.True(results[i].ChunksScored > 1);
            var span = rows[i].Document.Substring(results[i].Span.Start, results[i].Span.Length);
            Assert.False(plain.EncodePair(rows[i].Query, span).IsTruncated);
            Assert.Equal(plain.PredictLogits([(rows[i].Query, span)])[0], results[i].Logit);
        }
    }
}

using Reranker.Chunking;
using Reranker.Tests.Hub;
using Reranker.Tokenization;

namespace Reranker.Tests.Chunking;

/// <summary>
/// <see cref="LongDocumentStrategy.Chunk"/> through <see cref="CrossEncoder"/> on the tiny model: the span contract,
/// max aggregation, today's scores for documents that fit, the cap, progress, cancellation and the no-room query.
/// </summary>
public sealed class ChunkedScoringTests
{
    private const int MaxLength = 128;

    private static readonly LongDocumentOptions ChunkAll = new() { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = int.MaxValue };

    private static readonly Lazy<IReadOnlyList<string>> Passages = new(AutoRagData.Passages);

    private static readonly Lazy<IReadOnlyList<string>> Queries = new(AutoRagData.Queries);

    private static CrossEncoder Create(LongDocumentOptions? longDocuments = null, TruncationStrategy truncation = TruncationStrategy.LongestFirst, int maxLength = MaxLength, string modelFile = "model.onnx") =>
        CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions
        {
            MaxLength = maxLength,
            Truncation = truncation,
            ModelFileName = modelFile,
            LongDocuments = longDocuments ?? new LongDocumentOptions(),
        });

    private static string Chunk(string document, DocumentSpan span) => document.Substring(span.Start, span.Length);

    private static int Bits(float value) => BitConverter.SingleToInt32Bits(value);

    private static (string Query, string Document)[] CorpusPairs() =>
        Passages.Value.Select((p, i) => (Queries.Value[i % Queries.Value.Count], p)).ToArray();

    [Fact]
    public void The_default_is_truncation_with_documented_chunk_settings()
    {
        var options = new CrossEncoderOptions().LongDocuments;

        Assert.Equal(LongDocumentStrategy.Truncate, options.Strategy);
        Assert.Equal(10, options.MaxChunksPerDocument);
        Assert.Equal(32, options.ChunkOverlap);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LongDocumentOptions { MaxChunksPerDocument = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new LongDocumentOptions { ChunkOverlap = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new LongDocumentOptions { Strategy = (LongDocumentStrategy)7 });
        Assert.Throws<ArgumentNullException>(() => new CrossEncoderOptions { LongDocuments = null! });
    }

    /// <summary>The whole corpus with the default truncation; every fifth passage with FlagEmbedding's (time bound).</summary>
    [Theory]
    [InlineData(TruncationStrategy.LongestFirst, 1)]
    [InlineData(TruncationStrategy.QueryCapped, 5)]
    public void Over_the_whole_AutoRAG_corpus_each_reported_logit_is_its_span_scored_alone(TruncationStrategy truncation, int every)
    {
        using var chunked = Create(ChunkAll, truncation);
        using var truncated = Create(truncation: truncation);
        var tokenizer = XlmRobertaTokenizer.Create(TestPaths.TinyModel);
        var pairs = CorpusPairs().Where((_, i) => i % every == 0).ToArray();

        var results = chunked.ScorePairs(pairs);
        var today = truncated.PredictLogits(pairs);
        var alone = chunked.PredictLogits(pairs.Select((p, i) => (p.Query, Chunk(p.Document, results[i].Span))).ToArray());
        var aloneTruncating = truncated.PredictLogits(pairs.Select((p, i) => (p.Query, Chunk(p.Document, results[i].Span))).ToArray());

        var split = 0;
        for (var i = 0; i < pairs.Length; i++)
        {
            var r = results[i];
            Assert.True(Bits(r.Logit) == Bits(alone[i]), $"passage {i}: reported {r.Logit}, its span {r.Span} alone {alone[i]}");
            Assert.True(Bits(r.Logit) == Bits(aloneTruncating[i]), $"passage {i}: reported {r.Logit}, its span alone without chunking {aloneTruncating[i]}");
            Assert.True(r.Span.Start >= 0 && r.Span.End <= pairs[i].Document.Length);
            // The winning chunk is never cut; with no cap, only a query too long to keep whole makes a result truncated.
            var encoding = chunked.EncodePair(pairs[i].Query, Chunk(pairs[i].Document, r.Span));
            Assert.Equal(tokenizer.EncodeToIds(Chunk(pairs[i].Document, r.Span)).Length, encoding.DocumentLength);
            var queryCut = encoding.QueryLength < tokenizer.EncodeToIds(pairs[i].Query).Length;
            Assert.True(!r.IsTruncated || queryCut, $"passage {i} was cut although every chunk was scored whole beside the whole query");
            if (r.ChunksScored == 1)
            {
                // A document that fits: exactly today's score, on the whole text.
                Assert.Equal(new DocumentSpan(0, pairs[i].Document.Length), r.Span);
                Assert.True(Bits(today[i]) == Bits(r.Logit), $"passage {i} fits but scores {r.Logit}, not today's {today[i]}");
            }
            else
            {
                split++;
            }
        }

        // The corpus is OCR'd pages: at 128 tokens most of them must have been split.
        Assert.True(split > pairs.Length / 2, $"only {split} of {pairs.Length} passages were split");
    }

    [Fact]
    public void The_document_keeps_the_highest_chunk_logit_and_the_first_chunk_among_equals()
    {
        using var chunked = Create(ChunkAll);
        var tokenizer = XlmRobertaTokenizer.Create(TestPaths.TinyModel);
        var pairs = CorpusPairs().Where((_, i) => i % 12 == 0).ToArray();
        var results = chunked.ScorePairs(pairs);

        for (var i = 0; i < pairs.Length; i++)
        {
            var (query, document) = pairs[i];
            // The chunks as the splitter makes them, each scored as a pair of its own.
            var budget = ChunkBudget.ForDocument(tokenizer.EncodeToIds(query).Length, MaxLength, tokenizer.PairSpecialTokenCount, TruncationStrategy.LongestFirst);
            var spans = DocumentChunker.Split(document, budget, ChunkAll.ChunkOverlap, int.MaxValue, t => tokenizer.EncodeToIds(t).Length).Spans;
            var logits = chunked.PredictLogits(spans.Select(s => (query, Chunk(document, s))).ToArray());

            Assert.Equal(spans.Length, results[i].ChunksScored);
            var best = Array.IndexOf(logits, logits.Max());
            Assert.Equal(spans[best], results[i].Span);
            Assert.True(Bits(logits[best]) == Bits(results[i].Logit));
        }
    }

    [Fact]
    public async Task Predict_Rank_sync_and_async_agree_with_ScorePairs()
    {
        using var chunked = Create(new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk });
        var query = Queries.Value[3];
        var documents = Passages.Value.Take(24).Append("").ToArray();
        var pairs = documents.Select(d => (query, d)).ToArray();

        var detailed = chunked.ScorePairs(pairs);
        Assert.Equal(detailed.Select(r => r.Score), chunked.Predict(pairs));
        Assert.Equal(detailed.Select(r => r.Logit), chunked.PredictLogits(pairs));
        Assert.Equal(detailed.Select(r => r.Score), await chunked.PredictAsync(pairs));
        Assert.Equal(detailed.Select(r => r.Logit), await chunked.PredictLogitsAsync(pairs));
        Assert.Equal(detailed, await chunked.ScorePairsAsync(pairs));

        var ranked = chunked.Rank(query, documents);
        Assert.Equal(ranked, await chunked.RankAsync(query, documents));
        Assert.Equal(documents.Length, ranked.Count);
        foreach (var r in ranked)
        {
            Assert.Equal(detailed[r.Index].Score, r.Score);
            Assert.Equal(detailed[r.Index].Span, r.Span);
            Assert.Equal(detailed[r.Index].ChunksScored, r.ChunksScored);
            Assert.Equal(detailed[r.Index].IsTruncated, r.IsTruncated);
        }

        Assert.Equal(ranked.OrderByDescending(r => r.Score).ThenBy(r => r.Index), ranked);
        Assert.Contains(ranked, r => r.ChunksScored > 1);

        // The empty document is one empty chunk, scored as today.
        var empty = ranked.Single(r => r.Index == documents.Length - 1);
        Assert.Equal((new DocumentSpan(0, 0), 1), (empty.Span, empty.ChunksScored));
        using var plain = Create();
        Assert.Equal(plain.Predict([(query, "")])[0], empty.Score);
    }

    [Fact]
    public void A_per_call_setting_overrides_the_instance_default_and_truncation_reports_the_whole_document()
    {
        using var plain = Create();
        using var chunked = Create(ChunkAll);
        var pairs = CorpusPairs().Take(10).ToArray();

        Assert.Equal(chunked.ScorePairs(pairs), plain.ScorePairs(pairs, ChunkAll));
        var truncated = chunked.ScorePairs(pairs, new LongDocumentOptions());
        Assert.Equal(plain.PredictLogits(pairs), truncated.Select(r => r.Logit));
        Assert.All(truncated.Zip(pairs), p => Assert.Equal((new DocumentSpan(0, p.Second.Document.Length), 1), (p.First.Span, p.First.ChunksScored)));
        Assert.Equal(pairs.Select(p => plain.EncodePair(p.Query, p.Document).IsTruncated), truncated.Select(r => r.IsTruncated));
    }

    [Fact]
    public void A_document_ending_in_CR_LF_gets_a_last_span_without_it()
    {
        // The independent check's case: the last chunk wins, and it kept the trailing CR LF (one grapheme cluster), ending at
        // 271. (The check reported [158, 271); with the default 32-token overlap the last chunk starts at 151 here.)
        var document = string.Join(" ", Enumerable.Range(0, 40).Select(i => $"word{i}")) + "\r\n";
        using var encoder = Create(new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk }, maxLength: 64);

        var result = encoder.ScorePairs([("etc., as appropriate. The file foo.list in that directory lists", document)])[0];

        Assert.Equal(269, result.Span.End);
        Assert.StartsWith("word", Chunk(document, result.Span), StringComparison.Ordinal);
        Assert.EndsWith("word39", Chunk(document, result.Span), StringComparison.Ordinal);
    }

    [Fact]
    public void Past_the_cap_the_rest_is_left_out_and_the_result_says_so()
    {
        var (query, document) = CorpusPairs().MaxBy(p => p.Document.Length);
        using var all = Create(ChunkAll);
        using var capped = Create(new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = 2 });

        var whole = all.ScorePairs([(query, document)])[0];
        var first2 = capped.Rank(query, [document])[0];

        Assert.True(whole.ChunksScored > 2);
        Assert.False(whole.IsTruncated);
        Assert.Equal(2, first2.ChunksScored);
        Assert.True(first2.IsTruncated);
        // Only the start of the document was read: the winning chunk is one of the first two of the uncapped split.
        Assert.True(first2.Span.End < document.Length / 2, $"span {first2.Span} of {document.Length} characters");
    }

    [Fact]
    public async Task Progress_counts_chunks_and_cancellation_stops_between_them()
    {
        using var chunked = Create(ChunkAll);
        var query = Queries.Value[0];
        var documents = Passages.Value.Take(6).ToArray();
        var reports = new List<ScoringProgress>();

        var ranked = await chunked.RankAsync(query, documents, progress: new InlineProgress<ScoringProgress>(reports.Add));

        var chunks = ranked.Sum(r => r.ChunksScored);
        Assert.True(chunks > documents.Length);
        Assert.Equal(chunks, reports.Count); // one report per model run: one chunk each at BatchSize 1
        Assert.All(reports, r => Assert.Equal(chunks, r.TotalPairs));
        Assert.Equal(Enumerable.Range(1, chunks), reports.Select(r => r.PairsScored));

        using var cts = new CancellationTokenSource();
        var runs = 0;
        chunked.BeforeModelRun = () =>
        {
            if (++runs == 3)
            {
                cts.Cancel();
            }
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => chunked.ScorePairsAsync(documents.Select(d => (query, d)).ToArray(), progress: null, cancellationToken: cts.Token));
        Assert.Equal(3, runs);
    }

    [Fact]
    public void A_query_that_leaves_no_room_fails_only_for_a_document_that_must_be_split()
    {
        // FlagEmbedding's truncation keeps 3/4 of MaxLength for the query: at 16 tokens that leaves 0 for the document.
        using var encoder = Create(ChunkAll, TruncationStrategy.QueryCapped, maxLength: 16);
        var query = string.Join(' ', Enumerable.Repeat("검색 질문", 20));
        var document = Passages.Value[0];

        var e = Assert.Throws<ArgumentException>(() => encoder.ScorePairs([(query, document)]));
        Assert.Contains("no room", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxLength 16", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => encoder.Rank(query, ["", document]));

        // An empty document needs no room: it scores as today.
        using var plain = Create(truncation: TruncationStrategy.QueryCapped, maxLength: 16);
        Assert.Equal(plain.PredictLogits([(query, "")]), encoder.PredictLogits([(query, "")]));

        // LongestFirst never leaves no room: a long query is cut beside chunks of half the budget, as truncation cuts it.
        using var longest = Create(ChunkAll, TruncationStrategy.LongestFirst, maxLength: 16);
        var result = longest.ScorePairs([(query, document)])[0];
        Assert.True(result.ChunksScored > 1);
        Assert.True(result.IsTruncated);
        Assert.Equal(longest.PredictLogits([(query, Chunk(document, result.Span))])[0], result.Logit);
    }

    [Fact]
    public void In_padded_fp32_batches_the_contract_holds_to_float_rounding()
    {
        using var batched = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = MaxLength, BatchSize = 8, LongDocuments = ChunkAll });
        var pairs = CorpusPairs().Where((_, i) => i % 30 == 0).ToArray();

        var results = batched.ScorePairs(pairs);
        using var alone = Create(ChunkAll);
        var expected = alone.ScorePairs(pairs);

        Assert.Contains(results, r => r.ChunksScored > 1);
        for (var i = 0; i < pairs.Length; i++)
        {
            Assert.Equal(expected[i].Span, results[i].Span);
            Assert.Equal(expected[i].Logit, results[i].Logit, 1e-5);
        }
    }

    [Fact]
    public void The_int8_model_keeps_the_span_contract()
    {
        using var chunked = Create(ChunkAll, modelFile: "model_int8.onnx");
        var pairs = CorpusPairs().Where((_, i) => i % 40 == 0).ToArray();

        var results = chunked.ScorePairs(pairs);
        var alone = chunked.PredictLogits(pairs.Select((p, i) => (p.Query, Chunk(p.Document, results[i].Span))).ToArray());

        Assert.Contains(results, r => r.ChunksScored > 1);
        Assert.Equal(results.Select(r => Bits(r.Logit)), alone.Select(Bits));
    }
}

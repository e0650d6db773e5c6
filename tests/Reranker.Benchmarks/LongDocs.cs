using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reranker.Chunking;
using Reranker.Tokenization;

namespace Reranker.Benchmarks;

/// <summary>
/// One Rank of whole AutoRAG pages (an AutoRAG query, its ground-truth page and other pages drawn with the workload's
/// seed) under one long-document setting: <c>truncate</c> (MaxLength 512, the default), <c>chunk</c> (MaxLength 512,
/// every chunk of every page: no cap) or <c>full</c> (MaxLength 8192, each page read whole in one pair). Meant to run
/// in a fresh process per setting (bench/long-docs.sh), so that the peak resident set belongs to that setting alone.
/// Truncate and chunk also time one 512-token pair on the same instance: the unit the chunked cost is compared with.
/// </summary>
internal static class LongDocs
{
    public static JsonObject Run(string repoRoot, string modelDirectory, string modelFile, string mode, int documents, int unitRuns)
    {
        var options = mode switch
        {
            "truncate" => new CrossEncoderOptions { MaxLength = 512 },
            "chunk" => new CrossEncoderOptions
            {
                MaxLength = 512,
                LongDocuments = new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = int.MaxValue },
            },
            "full" => new CrossEncoderOptions { MaxLength = 8192 },
            _ => throw new ArgumentException($"--mode must be truncate, chunk or full, not '{mode}'"),
        };
        options = options with { ModelFileName = modelFile };

        var request = Workload.Requests(repoRoot, 1, documents)[0];
        var tokenizer = XlmRobertaTokenizer.Create(modelDirectory);
        var pageTokens = request.Documents.Select(d => tokenizer.EncodeToIds(d).Length).ToArray();
        var queryTokens = tokenizer.EncodeToIds(request.Query).Length;

        var load = Stopwatch.StartNew();
        using var encoder = CrossEncoder.Create(modelDirectory, options);
        var loadSeconds = load.Elapsed.TotalSeconds;

        var result = new JsonObject
        {
            ["mode"] = mode,
            ["model"] = Path.Combine(modelDirectory, modelFile),
            ["attention_rewritten"] = encoder.Session.Attention?.Rewritten ?? false,
            ["documents"] = documents,
            ["query_id"] = request.QueryId,
            ["query_tokens"] = queryTokens,
            ["page_tokens_total"] = pageTokens.Sum(),
            ["page_tokens_max"] = pageTokens.Max(),
            ["pages_cut_at_512"] = request.Documents.Count(d => encoder.Options.MaxLength == 512 && tokenizer.EncodePair(request.Query, d, 512, encoder.Options.Truncation).IsTruncated),
            ["load_seconds"] = loadSeconds,
        };

        // The unit: one pair of exactly 512 tokens (a page cut to 512 with the query), after one warm-up run.
        if (mode != "full")
        {
            var longPage = request.Documents.First(d => tokenizer.EncodePair(request.Query, d, 512, encoder.Options.Truncation).IsTruncated);
            var unitPair = new[] { (request.Query, longPage) };
            var truncating = encoder.Options.LongDocuments.Strategy == LongDocumentStrategy.Truncate;
            var unitScorer = truncating ? encoder : null;
            using var unitEncoder = truncating ? null : CrossEncoder.Create(modelDirectory, options with { LongDocuments = new LongDocumentOptions() });
            var scorer = unitScorer ?? unitEncoder!;
            scorer.PredictLogits(unitPair);
            var unit = new List<double>();
            for (var i = 0; i < unitRuns; i++)
            {
                var t = Stopwatch.StartNew();
                scorer.PredictLogits(unitPair);
                unit.Add(t.Elapsed.TotalSeconds);
            }

            result["one_512_pair_seconds"] = Stats.Median(unit);
        }
        else
        {
            // Warm the session up on a short pair so that the timed Rank does not pay for the first run alone.
            encoder.PredictLogits([(request.Query, "짧은 문서")]);
        }

        var before = Machine.CpuSnapshot.Take(Environment.ProcessId);
        result["load_before"] = Machine.LoadAverage();
        var timer = Stopwatch.StartNew();
        var ranked = encoder.Rank(request.Query, request.Documents);
        var seconds = timer.Elapsed.TotalSeconds;
        var pairs = ranked.Sum(r => r.ChunksScored);

        result["pairs_computed"] = pairs;
        result["rank_seconds"] = seconds;
        result["relevant_rank"] = ranked.Select(r => r.Index).ToList().IndexOf(request.RelevantIndex) + 1;
        result["truncated_results"] = ranked.Count(r => r.IsTruncated);
        result["peak_rss_mb"] = Machine.PeakRssMb();
        result["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take(Environment.ProcessId).OthersSince(before);
        if (result["one_512_pair_seconds"] is { } unitNode)
        {
            result["rank_over_pairs_x_one_512_pair"] = seconds / (pairs * unitNode.GetValue<double>());
        }

        return result;
    }

    public static string ToLine(JsonObject result) => result.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
}

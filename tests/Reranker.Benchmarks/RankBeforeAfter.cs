using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Reranker.Benchmarks;

/// <summary>
/// The default path against the default path as it was before the passes that follow the attention rewrite
/// (<c>RewriteAttentionOnly</c>: attention as <c>MultiHeadAttention</c>, projections and residual normalisations as
/// exported), both in this process on the same Rank requests, interleaved A B B A so that load drift hits both alike;
/// and, as a third engine in the same rotation, the default with one intra-op thread per run, so that as many pairs
/// as cores are in flight at once (<c>IntraOpNumThreads = 1</c>).
/// </summary>
internal static class RankBeforeAfter
{
    public static JsonObject Run(string repoRoot, string modelDirectory, string variant, int requestCount, int documents, int rounds)
    {
        var requests = Workload.Requests(repoRoot, requestCount, documents);
        using var after = CrossEncoder.Create(modelDirectory);
        using var before = CrossEncoder.Create(modelDirectory, new CrossEncoderOptions { RewriteAttentionOnly = true });
        using var inFlight = CrossEncoder.Create(modelDirectory, new CrossEncoderOptions { IntraOpNumThreads = 1 });
        var warm = requests[0];
        before.Rank(warm.Query, warm.Documents);
        after.Rank(warm.Query, warm.Documents);
        inFlight.Rank(warm.Query, warm.Documents);

        var cpu = Machine.CpuSnapshot.Take();
        double beforeS = 0, afterS = 0, inFlightS = 0, maxDiff = 0, inFlightDiff = 0;
        var rows = new JsonArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var g = 0; g < requests.Count; g++)
            {
                var r = requests[g];
                CrossEncoder[] engines = [before, after, inFlight];
                var order = Enumerable.Range(0, 3).Select(k => engines[(g + round + k) % 3]).ToArray();
                var ms = new Dictionary<CrossEncoder, double>();
                var logits = new Dictionary<CrossEncoder, float[]>();
                foreach (var engine in order)
                {
                    var start = Stopwatch.GetTimestamp();
                    var ranked = engine.Rank(r.Query, r.Documents);
                    ms[engine] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    var l = new float[ranked.Count];
                    foreach (var d in ranked)
                    {
                        l[d.Index] = Stats.Logit(d.Score);
                    }

                    logits[engine] = l;
                }

                beforeS += ms[before] / 1000;
                afterS += ms[after] / 1000;
                inFlightS += ms[inFlight] / 1000;
                maxDiff = Math.Max(maxDiff, Stats.MaxAbsDiff(logits[before], logits[after]));
                inFlightDiff = Math.Max(inFlightDiff, Stats.MaxAbsDiff(logits[after], logits[inFlight]));
                rows.Add(new JsonObject { ["round"] = round, ["qid"] = r.QueryId, ["before_ms"] = ms[before], ["after_ms"] = ms[after], ["in_flight_ms"] = ms[inFlight] });
                Console.Error.WriteLine($"[{variant}] before/after, round {round + 1} request {g + 1}: before {ms[before]:F0} ms, after {ms[after]:F0} ms, pairs in flight {ms[inFlight]:F0} ms; load {Machine.LoadAverage()}");
            }
        }

        var pairs = rounds * requests.Sum(r => r.Documents.Count);
        return new JsonObject
        {
            ["variant"] = variant,
            ["model"] = modelDirectory,
            ["rounds"] = rounds,
            ["requests"] = requests.Count,
            ["pairs"] = pairs,
            ["before_seconds"] = beforeS,
            ["after_seconds"] = afterS,
            ["before_pairs_per_s"] = pairs / beforeS,
            ["after_pairs_per_s"] = pairs / afterS,
            ["speedup"] = beforeS / afterS,
            ["max_abs_logit_diff"] = maxDiff,
            ["in_flight_seconds"] = inFlightS,
            ["in_flight_pairs_per_s"] = pairs / inFlightS,
            ["in_flight_speedup_vs_after"] = afterS / inFlightS,
            ["in_flight_max_abs_logit_diff_vs_after"] = inFlightDiff,
            ["rows"] = rows,
            ["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(cpu),
            ["load"] = Machine.LoadAverage(),
        };
    }
}

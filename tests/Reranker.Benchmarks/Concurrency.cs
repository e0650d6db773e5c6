using System.Diagnostics;
using System.Text.Json.Nodes;
using Reranker.Inference;

namespace Reranker.Benchmarks;

/// <summary>
/// Several callers on one instance, and the batching levers. Every configuration does the same work (the same Rank
/// requests); configurations alternate so load drift spreads over all of them.
/// </summary>
internal static class Concurrency
{
    /// <summary>1, 2 and 8 concurrent callers sharing one <see cref="CrossEncoder"/>; each caller runs its share of the requests in turn.</summary>
    public static JsonObject Callers(string repoRoot, string modelDirectory, int requestCount, int documentsPerQuery, (int Callers, bool Gated)[] configurations, int rounds)
    {
        var requests = Workload.Requests(repoRoot, requestCount, documentsPerQuery);
        using var ce = CrossEncoder.Create(modelDirectory);
        ce.Rank(requests[0].Query, requests[0].Documents); // warm-up
        var pairs = requests.Sum(r => r.Documents.Count);
        var runs = new JsonArray();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (callers, gated) in configurations)
            {
                ce.Session.GateRuns = gated;
                Machine.ResetPeakRss();
                var latencies = new double[requests.Count];
                var cpu = Machine.CpuSnapshot.Take();
                var process = Process.GetCurrentProcess();
                var cpuBefore = process.TotalProcessorTime;
                var start = Stopwatch.GetTimestamp();
                var threads = Enumerable.Range(0, callers).Select(c => new Thread(() =>
                {
                    for (var i = c; i < requests.Count; i += callers)
                    {
                        var t0 = Stopwatch.GetTimestamp();
                        ce.Rank(requests[i].Query, requests[i].Documents);
                        latencies[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    }
                })).ToList();
                threads.ForEach(t => t.Start());
                threads.ForEach(t => t.Join());
                var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
                process.Refresh();
                var cpuUsed = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
                runs.Add(new JsonObject
                {
                    ["round"] = round,
                    ["callers"] = callers,
                    ["gated"] = gated,
                    ["peak_rss_mb"] = Machine.PeakRssMb(),
                    ["wall_seconds"] = wall,
                    ["pairs_per_s"] = pairs / wall,
                    ["latency_p50_ms"] = Stats.Percentile(latencies, 50),
                    ["latency_max_ms"] = latencies.Max(),
                    ["process_cpu_per_wall"] = cpuUsed / wall,
                    ["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(cpu),
                });
                Console.Error.WriteLine($"callers {callers} {(gated ? "gated" : "ungated")}: {pairs / wall:F2} pairs/s, p50 {Stats.Percentile(latencies, 50):F0} ms, max {latencies.Max():F0} ms, cpu/wall {cpuUsed / wall:F2}; load {Machine.LoadAverage()}");
            }
        }

        return new JsonObject
        {
            ["model"] = modelDirectory,
            ["requests"] = requests.Count,
            ["documents_per_request"] = documentsPerQuery,
            ["pairs"] = pairs,
            ["concurrent_runs_allowed"] = ce.Session.ConcurrentRuns,
            ["runs"] = runs,
        };
    }

    /// <summary>
    /// Batching levers on the engine itself (<see cref="LogitSession"/>, since <see cref="CrossEncoder"/> runs int8
    /// models one pair per call): one pair per call against length-sorted batches under a token budget, and the whole
    /// request as one batch padded to its longest pair (what the peer's users do).
    /// </summary>
    public static JsonObject Batching(string repoRoot, string modelDirectory, int requestCount, int documentsPerQuery, (int BatchSize, int MaxBatchTokens)[] settings)
    {
        var requests = Workload.Requests(repoRoot, requestCount, documentsPerQuery);
        using var ce = CrossEncoder.Create(modelDirectory);
        // As exported: this phase measures padded batches, which the rewritten (mask-free) attention cannot run.
        using var session = LogitSession.Load(Path.Combine(modelDirectory, ce.Options.ModelFileName), 0, rewriteAttention: false);
        var ids = requests.Select(r => r.Documents.Select(d => ce.EncodePair(r.Query, d).InputIds).ToArray()).ToArray();
        var shape = ModelShape.BgeRerankerV2M3;
        session.Run(ids[0].Take(2).ToArray(), 1, 1, 8192);

        var seconds = new double[settings.Length];
        var padded = new long[settings.Length];
        var cpu = Machine.CpuSnapshot.Take();
        for (var g = 0; g < requests.Count; g++)
        {
            for (var k = 0; k < settings.Length; k++)
            {
                var which = (g + k) % settings.Length;
                var (batchSize, budget) = settings[which];
                var start = Stopwatch.GetTimestamp();
                session.Run(ids[g], 1, batchSize, budget);
                seconds[which] += Stopwatch.GetElapsedTime(start).TotalSeconds;
                padded[which] += LogitSession.PlanBatches(ids[g].Select(x => x.Length).ToArray(), batchSize, budget)
                    .Sum(b => (long)b.Length * ids[g][b[^1]].Length);
            }
        }

        var pairs = requests.Sum(r => r.Documents.Count);
        var real = ids.Sum(g => g.Sum(x => (long)x.Length));
        var rows = new JsonArray();
        for (var k = 0; k < settings.Length; k++)
        {
            rows.Add(new JsonObject
            {
                ["batch_size"] = settings[k].BatchSize,
                ["max_batch_tokens"] = settings[k].MaxBatchTokens,
                ["seconds"] = seconds[k],
                ["pairs_per_s"] = pairs / seconds[k],
                ["padded_tokens"] = padded[k],
                ["padding_overhead"] = (double)padded[k] / real - 1,
            });
            Console.Error.WriteLine($"batch {settings[k].BatchSize} / {settings[k].MaxBatchTokens} tokens: {pairs / seconds[k]:F2} pairs/s, {padded[k]} padded tokens; load {Machine.LoadAverage()}");
        }

        return new JsonObject
        {
            ["model"] = modelDirectory,
            ["pairs"] = pairs,
            ["real_tokens"] = real,
            ["settings"] = rows,
            ["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(cpu),
            ["load"] = Machine.LoadAverage(),
        };
    }
}

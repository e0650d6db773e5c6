using System.Diagnostics;
using System.Text.Json.Nodes;
using Reranker.Inference;

namespace Reranker.Benchmarks;

/// <summary>
/// Lever: one pair at a time on all cores (ONNX Runtime's intra-op threads = cores, the library default) against as
/// many pairs in flight as cores, each on one thread (intra-op threads = 1, one <c>Run</c> per core at once over the
/// same session). Same pairs, interleaved A B B A; throughput of a batch of pairs of one length.
/// </summary>
internal static class PairsInFlight
{
    public static JsonObject Run(string repoRoot, string modelDirectory, int[] lengths, int pairs, int rounds)
    {
        using var ce = CrossEncoder.Create(modelDirectory);
        var path = Path.Combine(modelDirectory, ce.Options.ModelFileName);
        ce.Dispose();
        using var wide = LogitSession.Load(path, 0);
        using var narrow = LogitSession.Load(path, 1);
        var cores = Environment.ProcessorCount;
        var vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(modelDirectory, "config.json")))!["vocab_size"]!.GetValue<int>();
        var rows = new JsonArray();
        var cpu = Machine.CpuSnapshot.Take();
        foreach (var tokens in lengths)
        {
            var random = new Random(tokens);
            var ids = Enumerable.Range(0, pairs).Select(_ =>
            {
                var x = new int[tokens];
                for (var i = 1; i < tokens - 1; i++)
                {
                    x[i] = random.Next(4, vocab - 1);
                }

                x[^1] = 2;
                return x;
            }).ToArray();

            double Sequential() => Time(() =>
            {
                foreach (var x in ids)
                {
                    wide.Run([x], 1, 1, tokens);
                }
            });
            double InFlight() => Time(() => Parallel.For(0, ids.Length, new ParallelOptions { MaxDegreeOfParallelism = cores }, i => narrow.Run([ids[i]], 1, 1, tokens)));

            Sequential();
            InFlight();
            var a = new List<double>();
            var b = new List<double>();
            for (var r = 0; r < rounds; r++)
            {
                if (r % 2 == 0)
                {
                    a.Add(Sequential());
                    b.Add(InFlight());
                }
                else
                {
                    b.Add(InFlight());
                    a.Add(Sequential());
                }
            }

            var seq = Stats.Median(a);
            var inflight = Stats.Median(b);
            rows.Add(new JsonObject
            {
                ["tokens"] = tokens,
                ["pairs"] = pairs,
                ["one_pair_all_threads_pairs_per_s"] = pairs / seq,
                ["pairs_in_flight_one_thread_each_pairs_per_s"] = pairs / inflight,
                ["gain"] = seq / inflight - 1,
            });
            Console.Error.WriteLine($"in flight, {tokens} tokens: one pair × {cores} threads {pairs / seq:F2} pairs/s, {cores} pairs × 1 thread {pairs / inflight:F2} pairs/s ({seq / inflight - 1:P1}); load {Machine.LoadAverage()}");
        }

        return new JsonObject
        {
            ["model"] = modelDirectory,
            ["cores"] = cores,
            ["rounds"] = rounds,
            ["rows"] = rows,
            ["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(cpu),
            ["load"] = Machine.LoadAverage(),
        };
    }

    private static double Time(Action action)
    {
        var start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}

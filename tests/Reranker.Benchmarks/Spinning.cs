using System.Diagnostics;
using System.Text.Json.Nodes;
using Reranker.Inference;

namespace Reranker.Benchmarks;

/// <summary>
/// Lever: ONNX Runtime's intra-op worker threads spinning between operators (its default) or sleeping (what the
/// library sets, to leave idle CPUs to the host application). Two bare sessions, same batches, A B B A order.
/// </summary>
internal static class Spinning
{
    public static JsonObject Run(string repoRoot, string modelDirectory, int[] lengths, int repeats)
    {
        var requests = Workload.Requests(repoRoot, 6, 20);
        using var ce = CrossEncoder.Create(modelDirectory);
        var path = Path.Combine(modelDirectory, ce.Options.ModelFileName);
        using var sleeping = new RawEngine(path, allowSpinning: false);
        using var spinning = new RawEngine(path, allowSpinning: true);
        var pool = requests.SelectMany(r => r.Documents.Select(d => ce.EncodePair(r.Query, d).InputIds)).ToList();
        var cases = lengths.Select(l => (Name: $"{pool.MinBy(x => Math.Abs(x.Length - l))!.Length} tokens", Ids: new[] { pool.MinBy(x => Math.Abs(x.Length - l))! }))
            .Append(("one Rank request (20 pairs)", requests[0].Documents.Select(d => ce.EncodePair(requests[0].Query, d).InputIds).ToArray()))
            .ToList();
        var rows = new JsonArray();
        var cpu = Machine.CpuSnapshot.Take();
        foreach (var (name, ids) in cases)
        {
            var batches = ids.Select((_, i) => new[] { i }).ToArray();
            sleeping.Run(ids, batches, 1);
            spinning.Run(ids, batches, 1);
            var a = new List<double>();
            var b = new List<double>();
            for (var rep = 0; rep < repeats; rep++)
            {
                var first = rep % 2 == 0 ? sleeping : spinning;
                var second = rep % 2 == 0 ? spinning : sleeping;
                var t1 = first.Run(ids, batches, 1).Seconds;
                var t2 = second.Run(ids, batches, 1).Seconds;
                (rep % 2 == 0 ? a : b).Add(t1);
                (rep % 2 == 0 ? b : a).Add(t2);
            }

            var sleepMs = Stats.Median(a) * 1000;
            var spinMs = Stats.Median(b) * 1000;
            rows.Add(new JsonObject { ["case"] = name, ["sleeping_ms"] = sleepMs, ["spinning_ms"] = spinMs, ["gain"] = sleepMs / spinMs - 1 });
            Console.Error.WriteLine($"spinning lever, {name}: sleeping {sleepMs:F1} ms, spinning {spinMs:F1} ms ({sleepMs / spinMs - 1:P1}); load {Machine.LoadAverage()}");
        }

        // What spinning costs while idle: CPU this process uses in the 2 s after a run ends.
        var idle = new JsonObject();
        foreach (var (name, engine) in new[] { ("sleeping", sleeping), ("spinning", spinning) })
        {
            engine.Run([pool[0]], [[0]], 1);
            var process = Process.GetCurrentProcess();
            var before = process.TotalProcessorTime;
            Thread.Sleep(2000);
            process.Refresh();
            idle[name + "_idle_cpu_seconds_per_2s"] = (process.TotalProcessorTime - before).TotalSeconds;
        }

        Console.Error.WriteLine($"idle CPU after a run: {idle.ToJsonString()}");
        return new JsonObject
        {
            ["idle_after_run"] = idle,
            ["model"] = modelDirectory,
            ["repeats"] = repeats,
            ["cases"] = rows,
            ["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(cpu),
            ["load"] = Machine.LoadAverage(),
        };
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Reranker.Inference;

namespace Reranker.Benchmarks;

/// <summary>
/// Lever experiments: two or more ONNX files (or load-time choices) of the same model, loaded side by side in one
/// process and run round-robin on the same pair at each length, so that load drift on a shared machine hits every
/// variant alike. Reports per variant and length the minimum and median of the timed runs and the logit.
/// </summary>
internal static class ModelAb
{
    /// <param name="variants">label=path pairs; a path ending in "+rewrite" is loaded with the load-time rewrite.</param>
    public static JsonObject Run(IReadOnlyList<(string Label, string Path, bool Rewrite)> variants, int[] lengths, int runs, int threads, bool cpuTime)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(variants[0].Path))!, "config.json")))!;
        var vocab = config["vocab_size"]!.GetValue<int>();
        if (cpuTime && threads != 1)
        {
            throw new ArgumentException("--cpu-time measures the calling thread, so it needs --threads 1");
        }

        var sessions = variants.Select(v => LogitSession.Load(v.Path, threads, v.Rewrite)).ToList();
        try
        {
            var rows = new JsonArray();
            foreach (var tokens in lengths)
            {
                var random = new Random(tokens);
                var ids = new int[tokens];
                for (var i = 1; i < tokens - 1; i++)
                {
                    ids[i] = random.Next(4, vocab - 1);
                }

                ids[^1] = 2;
                var times = sessions.Select(_ => new List<double>()).ToList();
                var logits = new float[sessions.Count];
                for (var s = 0; s < sessions.Count; s++)
                {
                    logits[s] = sessions[s].Run([ids], 1, 1, tokens)[0];
                }

                for (var r = 0; r < runs; r++)
                {
                    for (var k = 0; k < sessions.Count; k++)
                    {
                        var s = (k + r) % sessions.Count;
                        var watch = Stopwatch.StartNew();
                        var cpu = ThreadCpu.Milliseconds();
                        sessions[s].Run([ids], 1, 1, tokens);
                        times[s].Add(cpuTime ? ThreadCpu.Milliseconds() - cpu : watch.Elapsed.TotalMilliseconds);
                    }
                }

                var row = new JsonObject { ["tokens"] = tokens };
                var line = new List<string>();
                for (var s = 0; s < sessions.Count; s++)
                {
                    var min = times[s].Min();
                    var median = Stats.Median(times[s]);
                    row[variants[s].Label] = new JsonObject { ["min_ms"] = min, ["median_ms"] = median, ["logit"] = logits[s], ["delta_logit_vs_first"] = Math.Abs(logits[s] - logits[0]) };
                    line.Add(string.Create(CultureInfo.InvariantCulture, $"{variants[s].Label} min {min:F1} med {median:F1} (x{Stats.Median(times[0]) / median:F3}) Δ{Math.Abs(logits[s] - logits[0]):E1}"));
                }

                rows.Add(row);
                Console.Error.WriteLine($"{tokens} tokens: {string.Join(" | ", line)}  load {Machine.LoadAverage()}");
            }

            return new JsonObject { ["threads"] = threads, ["runs"] = runs, ["measure"] = cpuTime ? "thread CPU ms" : "wall ms", ["rows"] = rows };
        }
        finally
        {
            sessions.ForEach(s => s.Dispose());
        }
    }

    /// <summary>Parses "label=path[+rewrite]".</summary>
    public static (string Label, string Path, bool Rewrite) ParseVariant(string spec)
    {
        var eq = spec.IndexOf('=', StringComparison.Ordinal);
        var path = spec[(eq + 1)..];
        var rewrite = path.EndsWith("+rewrite", StringComparison.Ordinal);
        return (spec[..eq], rewrite ? path[..^"+rewrite".Length] : path, rewrite);
    }
}

/// <summary>CPU time of the calling thread (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>): immune to time spent descheduled on a shared machine.</summary>
internal static partial class ThreadCpu
{
    private const int ClockThreadCpuTimeId = 3;

    public static double Milliseconds()
    {
        _ = ClockGetTime(ClockThreadCpuTimeId, out var t);
        return (t.Seconds * 1000.0) + (t.Nanoseconds / 1e6);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}

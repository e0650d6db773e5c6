using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reranker.Inference;

namespace Reranker.Benchmarks;

/// <summary>
/// Where one pair's time goes, per operator: ONNX Runtime's own session profiling (every node's kernel time per
/// run) over the library's session (<see cref="LogitSession"/>, the options <see cref="CrossEncoder"/> uses), one
/// pair per run at each length. The time of a run that no node accounts for is the gap between operators (thread
/// hand-off, allocation, the executor itself).
/// </summary>
internal static class OperatorProfile
{
    /// <summary>The groups of the table, in order, and the op types (after ONNX Runtime's optimization) each holds.</summary>
    private static readonly (string Group, string[] Ops)[] Groups =
    [
        ("quantized matmul", ["MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QGemm", "QAttention", "QOrderedMatMul", "MatMulNBits"]),
        ("quantize (dynamic)", ["DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear"]),
        ("fp32 matmul", ["MatMul", "FusedMatMul", "Gemm", "FusedGemm"]),
        ("attention", ["MultiHeadAttention", "Attention", "Softmax", "IsNaN", "Where"]),
        ("layer norm", ["LayerNormalization", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization"]),
        ("GELU", ["BiasGelu", "Gelu", "FastGelu", "Erf", "QuickGelu"]),
        ("adds (bias, residual), split", ["Sum", "Add", "Split"]),
    ];

    public static JsonObject Run(string modelPath, int[] lengths, int runs, bool rewriteAttention, string outDir, string label, string? optimizedModelPath = null, bool attentionOnly = false)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "config.json")))!;
        var vocab = config["vocab_size"]!.GetValue<int>();
        var prefix = Path.Combine(outDir, $"ort-profile-{label}");
        using var session = LogitSession.Load(modelPath, 0, rewriteAttention, attentionOnly: attentionOnly, configure: o =>
        {
            o.EnableProfiling = true;
            o.ProfileOutputPathPrefix = prefix;
            if (optimizedModelPath is not null)
            {
                o.OptimizedModelFilePath = optimizedModelPath;
            }
        });

        // Runs, in order: per length one warm-up then `runs` timed ones. Wall times are kept to check the profile.
        var plan = new List<(int Tokens, bool Warmup, double Seconds)>();
        var faults = new Dictionary<int, List<long>>();
        foreach (var tokens in lengths)
        {
            var random = new Random(tokens);
            var ids = new int[tokens];
            for (var i = 1; i < tokens - 1; i++)
            {
                ids[i] = random.Next(4, vocab - 1);
            }

            ids[^1] = 2;
            for (var r = 0; r <= runs; r++)
            {
                var faultsBefore = Machine.MinorFaults();
                var watch = Stopwatch.StartNew();
                session.Run([ids], 1, 1, tokens);
                plan.Add((tokens, r == 0, watch.Elapsed.TotalSeconds));
                if (r > 0)
                {
                    (faults.TryGetValue(tokens, out var list) ? list : faults[tokens] = []).Add(Machine.MinorFaults() - faultsBefore);
                }
            }
        }

        var profileFile = EndProfiling(session);
        var events = JsonNode.Parse(File.ReadAllText(profileFile))!.AsArray();

        // model_run events mark each Run; node events fall inside them in time.
        var modelRuns = events.Where(e => e?["cat"]?.GetValue<string>() == "Session" && e["name"]?.GetValue<string>() == "model_run")
            .Select(e => (Ts: e!["ts"]!.GetValue<long>(), Dur: e["dur"]!.GetValue<long>())).OrderBy(r => r.Ts).ToList();
        if (modelRuns.Count != plan.Count)
        {
            throw new InvalidOperationException($"profile has {modelRuns.Count} model_run events for {plan.Count} runs");
        }

        var nodes = events.Where(e => e?["cat"]?.GetValue<string>() == "Node" && (e["name"]?.GetValue<string>() ?? "").EndsWith("_kernel_time", StringComparison.Ordinal))
            .Select(e => (Ts: e!["ts"]!.GetValue<long>(), Dur: e["dur"]!.GetValue<long>(), Op: e["args"]?["op_name"]?.GetValue<string>() ?? "?"))
            .OrderBy(n => n.Ts).ToList();

        var rows = new JsonArray();
        var nodeIndex = 0;
        foreach (var tokens in lengths)
        {
            var perOp = new Dictionary<string, double>(StringComparer.Ordinal);
            double runMicros = 0;
            var counted = 0;
            for (var p = 0; p < plan.Count; p++)
            {
                var (t, warmup, _) = plan[p];
                var run = modelRuns[p];
                while (nodeIndex < nodes.Count && nodes[nodeIndex].Ts < run.Ts)
                {
                    nodeIndex++;
                }

                if (t != tokens)
                {
                    continue;
                }

                var i = nodeIndex;
                while (i < nodes.Count && nodes[i].Ts < run.Ts + run.Dur)
                {
                    if (!warmup)
                    {
                        perOp[nodes[i].Op] = perOp.GetValueOrDefault(nodes[i].Op) + nodes[i].Dur;
                    }

                    i++;
                }

                if (!warmup)
                {
                    runMicros += run.Dur;
                    counted++;
                }
            }

            nodeIndex = 0;
            var nodeMicros = perOp.Values.Sum();
            var groups = new JsonObject();
            var grouped = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (group, ops) in Groups)
            {
                var micros = ops.Sum(op => perOp.GetValueOrDefault(op));
                grouped.UnionWith(ops);
                groups[group] = micros / runMicros;
            }

            groups["everything else"] = perOp.Where(kv => !grouped.Contains(kv.Key)).Sum(kv => kv.Value) / runMicros;
            groups["between operators"] = (runMicros - nodeMicros) / runMicros;
            var ops2 = new JsonObject();
            foreach (var (op, micros) in perOp.OrderByDescending(kv => kv.Value))
            {
                ops2[op] = micros / counted / 1000.0;
            }

            var wall = plan.Where(x => x.Tokens == tokens && !x.Warmup).Select(x => x.Seconds).ToList();
            rows.Add(new JsonObject
            {
                ["tokens"] = tokens,
                ["runs"] = counted,
                ["run_ms"] = runMicros / counted / 1000.0,
                ["wall_ms_median"] = Stats.Median(wall) * 1000.0,
                ["minor_page_faults_per_run"] = faults.TryGetValue(tokens, out var f) ? f.Average() : 0,
                ["shares"] = groups,
                ["op_ms_per_run"] = ops2,
            });
            Console.Error.WriteLine($"{label} {tokens} tokens: run {runMicros / counted / 1000.0:F1} ms, {(faults.TryGetValue(tokens, out var pf) ? pf.Average() : 0):F0} page faults/run; " +
                string.Join(", ", groups.Select(kv => $"{kv.Key} {kv.Value!.GetValue<double>():P1}")));
        }

        File.Delete(profileFile);
        return new JsonObject
        {
            ["label"] = label,
            ["model"] = Path.GetFullPath(modelPath),
            ["attention"] = rewriteAttention ? "rewritten" : "as-exported",
            ["passes"] = !rewriteAttention ? "none" : attentionOnly ? "attention-only" : "all",
            ["runs_per_length"] = runs,
            ["rows"] = rows,
            ["load"] = Machine.LoadAverage(),
        };
    }

    private static string EndProfiling(LogitSession session) => session.EndProfilingForBenchmark();

    /// <summary>A Markdown table of profiles (one per label), shares of a run's time per group of operators.</summary>
    public static string Report(IEnumerable<JsonObject> profiles)
    {
        var table = new StringBuilder();
        var groupNames = Groups.Select(g => g.Group).Append("everything else").Append("between operators").ToArray();
        table.AppendLine(CultureInfo.InvariantCulture, $"| model | tokens | ms per pair | {string.Join(" | ", groupNames)} |");
        table.AppendLine(CultureInfo.InvariantCulture, $"|---|---:|---:|{string.Concat(groupNames.Select(_ => "---:|"))}");
        foreach (var profile in profiles)
        {
            foreach (var row in profile["rows"]!.AsArray())
            {
                var shares = row!["shares"]!.AsObject();
                table.AppendLine(CultureInfo.InvariantCulture,
                    $"| {profile["label"]} | {row["tokens"]} | {row["run_ms"]!.GetValue<double>():F0} | {string.Join(" | ", groupNames.Select(g => (shares[g]!.GetValue<double>() * 100).ToString("F1", CultureInfo.InvariantCulture) + " %"))} |");
            }
        }

        return table.ToString();
    }

    public static string ToLine(JsonObject o) => o.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
}

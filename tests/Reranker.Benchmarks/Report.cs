using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Reranker.Benchmarks;

/// <summary>
/// Turns the phase results of one run into the tables of docs/BENCHMARKS.md (between its
/// <c>&lt;!-- results:begin --&gt;</c> and <c>&lt;!-- results:end --&gt;</c> markers) and the chart beside it.
/// </summary>
internal static class Report
{
    private const string Begin = "<!-- results:begin -->";
    private const string End = "<!-- results:end -->";

    public static void Write(string outDir, string docsPath)
    {
        JsonNode? Load(string name)
        {
            var path = Path.Combine(outDir, name + ".json");
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) : null;
        }

        var peak = Load("peak");
        var tok = Load("tokenizer");
        var fp32 = Load("e2e-fp32");
        var int8 = Load("e2e-int8");
        var conc = Load("concurrency");
        var batch8 = Load("batching-int8");
        var batch32 = Load("batching-fp32");
        var spin8 = Load("spinning-int8");
        var spin32 = Load("spinning-fp32");
        var before8 = Load("before-after-int8");
        var before32 = Load("before-after-fp32");
        var inflight8 = Load("inflight-int8");
        var inflight32 = Load("inflight-fp32");
        var profilePath = Path.Combine(outDir, "profile.jsonl");
        var profiles = File.Exists(profilePath)
            ? File.ReadAllLines(profilePath).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList()
            : [];

        var md = new StringBuilder();
        md.AppendLine(Begin);
        md.AppendLine(CultureInfo.InvariantCulture, $"Run of {Stamp(fp32 ?? int8 ?? peak)}, results in `{outDir}`. Machine: {peak?["cpu"]}, {peak?["cores"]} cores.");
        md.AppendLine();

        md.AppendLine("### End to end (Rank of 20 AutoRAG passages per query, max_length 512)");
        md.AppendLine();
        md.AppendLine("| | fp32 | int8 | target |");
        md.AppendLine("|---|---|---|---|");
        string S(JsonNode? e, string key, string format = "F2", double scale = 1) =>
            e?["summary"]?[key] is { } v ? (v.GetValue<double>() * scale).ToString(format, CultureInfo.InvariantCulture) : "n/a";
        string Top(JsonNode? e, string key, string format = "F2", double scale = 1) =>
            e?[key] is { } v ? (v.GetValue<double>() * scale).ToString(format, CultureInfo.InvariantCulture) : "n/a";
        void Row(string label, Func<JsonNode?, string> cell, string target = "") =>
            md.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {cell(fp32)} | {cell(int8)} | {target} |");

        Row("sample", e => e is null ? "n/a" : $"{e["requests"]!.AsArray().Count} requests, {e["pairs"]} pairs, {e["real_tokens"]} tokens ({S(e, "truncated_pairs", "F0")} truncated to 512)");
        Row("**ours: pairs/s**", e => "**" + S(e, "ours_pairs_per_s") + "**");
        Row("peer as users call it: pairs/s", e => S(e, "peer_users_pairs_per_s"));
        Row("peer fed our batches: pairs/s", e => S(e, "peer_batches_pairs_per_s"));
        Row("**ratio to peer as users call it**", e => "**" + S(e, "ratio_vs_peer_users") + "×**");
        Row("**ratio to peer fed our batches** (engine)", e => "**" + S(e, "ratio_vs_peer_batches") + "×**", "int8 > 1.27× (issue 15's start)");
        Row("ours: Rank latency p50 / p95", e => $"{S(e, "ours_rank_p50_ms", "F0")} / {S(e, "ours_rank_p95_ms", "F0")} ms");
        Row("peer as users: Rank latency p50 / p95", e => $"{S(e, "peer_users_rank_p50_ms", "F0")} / {S(e, "peer_users_rank_p95_ms", "F0")} ms");
        Row("ours: tokens/s (real tokens)", e => S(e, "ours_tokens_per_s", "F0"));
        Row("tokens computed, ours / peer as users (padding)", e => $"{S(e, "ours_padded_tokens", "F0")} / {S(e, "peer_users_padded_tokens", "F0")}");
        Row("ours: achieved GFLOP/s (padded tokens count)", e => S(e, "ours_gflops_per_s", "F0"));
        Row("**ours: share of the machine's bound**", e => "**" + S(e, "ours_fraction_of_bound", "P0") + "**", "per length: below");
        Row("peer as users: share of the bound", e => S(e, "peer_users_fraction_of_bound", "P0"));
        Row("**time outside `InferenceSession.Run`**", e => e?["outside_run"] is { } o ? $"**{o["fraction_outside_run"]!.GetValue<double>().ToString("P1", CultureInfo.InvariantCulture)}** ({o["requests"]} request(s), Rank {o["rank_seconds"]!.GetValue<double>():F1} s vs Run {o["raw_run_seconds"]!.GetValue<double>():F1} s)" : "n/a", "< 5 %");
        Row("tokenization share of Rank", e => S(e, "ours_tokenize_fraction", "P3"), "< 1 %");
        Row("**peak RSS, ours**", e => "**" + Top(e, "ours_peak_rss_mb", "F0") + " MB**", "fp32 < 1600, int8 < 700 MB");
        Row("peak RSS, peer (node)", e => Top(e, "peer_peak_rss_mb", "F0") + " MB");
        Row("session load, ours (`CrossEncoder.Create`)", e => Top(e, "load_seconds", "F2") + " s");
        Row("session load, peer (`from_pretrained`)", e => e?["peer"]?["load_ms"] is { } v ? (v.GetValue<double>() / 1000).ToString("F2", CultureInfo.InvariantCulture) + " s" : "n/a");
        Row("agreement gate: max \\|Δlogit\\|, file as exported (`RewriteAttention = false`) vs peer, 3 single pairs", e => e?["agreement_before_timing"]?["single_pair_logits_max_abs_diff"] is { } v ? v.GetValue<double>().ToString("E1", CultureInfo.InvariantCulture) : "n/a", "≤ 1e-3");
        Row("max \\|Δlogit\\|, default vs file as exported, same 3 pairs", e => e?["agreement_before_timing"]?["default_vs_as_exported_max_abs_logit_diff"] is { } v ? v.GetValue<double>().ToString("E1", CultureInfo.InvariantCulture) : "n/a");
        Row("max \\|Δscore\\| vs peer fed our batches", e => S(e, "max_abs_score_diff_vs_peer_batches", "E1"));
        Row("max \\|Δscore\\| vs peer as users (untruncated pairs)", e => S(e, "max_abs_score_diff_vs_peer_users_untruncated", "E1"));
        Row("CPU s used by other processes while timed / wall s", e => $"{S(e, "other_processes_cpu_seconds", "F0")} / {S(e, "timed_wall_seconds", "F0")}");
        md.AppendLine();
        if (fp32 is not null && int8 is not null)
        {
            var speedup = fp32["summary"]!["ours_seconds"]!.GetValue<double>() / int8["summary"]!["ours_seconds"]!.GetValue<double>();
            md.AppendLine(CultureInfo.InvariantCulture, $"**int8 / fp32 speed-up (ours, same pairs): {speedup:F2}×** (target ≥ 2.7×).");
            md.AppendLine();
        }

        if (peak is not null)
        {
            md.AppendLine("### Machine peak (denominator of \"share of the bound\")");
            md.AppendLine();
            md.AppendLine("| kernel | 1 core | all cores |");
            md.AppendLine("|---|---|---|");
            md.AppendLine(CultureInfo.InvariantCulture, $"| C# Vector512 FMA, fp32 | {G(peak["csharp_fp32_zmm_one_core"])} GFLOP/s | {G(peak["csharp_fp32_zmm_all_cores"])} GFLOP/s |");
            md.AppendLine(peak["csharp_int8_ymm_all_cores"]?.GetValue<double>() > 0
                ? string.Create(CultureInfo.InvariantCulture, $"| C# AVX-VNNI ymm, int8 | {G(peak["csharp_int8_ymm_one_core"])} GOP/s | {G(peak["csharp_int8_ymm_all_cores"])} GOP/s |")
                : "| C# AVX-VNNI ymm, int8 | n/a (no AVX-VNNI on this CPU) | n/a |");
            if (peak["c_kernel"] is { } c)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| C AVX-512 FMA zmm, fp32 | {G(c["fp32_zmm_one"])} GFLOP/s | {G(c["fp32_zmm_all"])} GFLOP/s |");
                md.AppendLine(CultureInfo.InvariantCulture, $"| C AVX512-VNNI zmm, int8 | {G(c["int8_zmm_one"])} GOP/s | {G(c["int8_zmm_all"])} GOP/s |");
                md.AppendLine(CultureInfo.InvariantCulture, $"| C VNNI ymm (AVX-VNNI, or the AVX-512 form), int8 | {G(c["int8_ymm_one"])} GOP/s | {G(c["int8_ymm_all"])} GOP/s |");
            }

            md.AppendLine(CultureInfo.InvariantCulture, $"| **used as peak** | | **fp32 {G(peak["fp32_flops_all_cores"])} GFLOP/s, int8 {G(peak["int8_ops_all_cores"])} GOP/s** |");
            md.AppendLine();
            md.AppendLine("The bound of a run is its weight-matmul FLOPs at the model's peak (int8 for int8) plus its attention FLOPs at the fp32 peak (ORT's dynamic quantization leaves attention in fp32); \"share of the bound\" = bound time / measured time.");
            md.AppendLine();
        }

        if (profiles.Count > 0)
        {
            md.AppendLine("### Where one pair's time goes (ONNX Runtime's per-operator profile, one pair per run, mean of 3 runs)");
            md.AppendLine();
            md.AppendLine("Shares of a run's time. *as-exported*: the file as written (what Python onnxruntime runs); *attention-only*: the attention rewritten to `MultiHeadAttention` (the default before the later passes); *all*: the default now (residual normalizations unfused as well). \"between operators\" is the run time no operator accounts for (thread hand-off, allocation, the executor).");
            md.AppendLine();
            md.Append(OperatorProfile.Report(profiles));
            md.AppendLine();
        }

        if (before8 is not null || before32 is not null)
        {
            md.AppendLine("### The default path before and after the passes that follow the attention rewrite (Rank of 20 AutoRAG passages, interleaved A B B A)");
            md.AppendLine();
            md.AppendLine("| model | requests | before: pairs/s | after (default): pairs/s | speed-up | max \\|Δlogit\\| | `IntraOpNumThreads = 1` (a pair per core in flight): pairs/s, vs default | other processes' CPU s |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var b in new[] { before8, before32 })
            {
                if (b is not null)
                {
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {b["variant"]} | {b["requests"]} × {b["rounds"]} | {F(b["before_pairs_per_s"])} | {F(b["after_pairs_per_s"])} | **{F(b["speedup"], "F3")}×** | {F(b["max_abs_logit_diff"], "E1")} | {F(b["in_flight_pairs_per_s"])}, {F(b["in_flight_speedup_vs_after"], "F3")}× | {F(b["other_processes_cpu_seconds"], "F0")} |");
                }
            }

            md.AppendLine();
        }

        if (inflight8 is not null || inflight32 is not null)
        {
            md.AppendLine("### Pairs in flight (bare engine, same pairs, A B B A; median of the rounds)");
            md.AppendLine();
            md.AppendLine("| model | tokens | pairs | one pair at a time, all cores (default): pairs/s | one pair per core in flight, one thread each: pairs/s | gain |");
            md.AppendLine("|---|---|---|---|---|---|");
            foreach (var (name, f) in new[] { ("int8", inflight8), ("fp32", inflight32) })
            {
                foreach (var r in f?["rows"]?.AsArray() ?? [])
                {
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {r!["tokens"]} | {r["pairs"]} | {F(r["one_pair_all_threads_pairs_per_s"])} | {F(r["pairs_in_flight_one_thread_each_pairs_per_s"])} | {F(r["gain"], "P1")} |");
                }
            }

            md.AppendLine();
        }

        if (tok is not null)
        {
            md.AppendLine("### Tokenizer alone (AutoRAG corpus: 720 passages + 114 queries, one thread)");
            md.AppendLine();
            md.AppendLine("| | ours (`XlmRobertaTokenizer`) | HF Rust (`Tokenizers.DotNet` 1.4.1) | ratio |");
            md.AppendLine("|---|---|---|---|");
            md.AppendLine(CultureInfo.InvariantCulture, $"| tokens/s | {N(tok["ours_tokens_per_s"])} | {N(tok["rust_tokens_per_s"])} | **{Top(tok, "ratio")}×** (target ≥ 2×) |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| strings/s | {N(tok["ours_strings_per_s"])} | {N(tok["rust_strings_per_s"])} | |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| ids differing | {tok["id_mismatches"]} of {tok["texts"]} texts ({tok["tokens"]} tokens) | | |");
            md.AppendLine();
        }

        if (conc is not null)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"### Concurrent callers on one instance (int8, {conc["requests"]} Rank requests × {conc["documents_per_request"]} passages, same work in every row)");
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"The library lets {conc["concurrent_runs_allowed"]} `Run` at a time (cores / threads per run); \"ungated\" switches that off to show what it saves.");
            md.AppendLine();
            md.AppendLine("| round | callers | Run gate | pairs/s | request latency p50 / max | process CPU / wall | peak RSS | other processes' CPU s |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var r in conc["runs"]!.AsArray())
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {r!["round"]!.GetValue<int>() + 1} | {r["callers"]} | {(r["gated"]!.GetValue<bool>() ? "on (default)" : "off")} | {F(r["pairs_per_s"])} | {F(r["latency_p50_ms"], "F0")} / {F(r["latency_max_ms"], "F0")} ms | {F(r["process_cpu_per_wall"])} | {F(r["peak_rss_mb"], "F0")} MB | {F(r["other_processes_cpu_seconds"], "F1")} |");
            }

            md.AppendLine();
        }

        foreach (var (name, b) in new[] { ("int8", batch8), ("fp32", batch32) })
        {
            if (b is null)
            {
                continue;
            }

            md.AppendLine(CultureInfo.InvariantCulture, $"### Batching lever, {name} engine (`LogitSession`), {b["pairs"]} pairs, {b["real_tokens"]} real tokens");
            md.AppendLine();
            md.AppendLine("| batches | pairs/s | tokens computed (padding) |");
            md.AppendLine("|---|---|---|");
            foreach (var r in b["settings"]!.AsArray())
            {
                var label = r!["max_batch_tokens"]!.GetValue<int>() >= 1 << 20
                    ? "whole request in one batch, padded to its longest (as the peer's users)"
                    : r["batch_size"]!.GetValue<int>() == 1 ? "**one pair per call** (library default)" : $"length-sorted, ≤ {r["batch_size"]} pairs, ≤ {r["max_batch_tokens"]} tokens";
                md.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {F(r["pairs_per_s"])} | {r["padded_tokens"]} (+{F(r["padding_overhead"], "P0")}) |");
            }

            md.AppendLine();
        }

        if (spin8 is not null || spin32 is not null)
        {
            md.AppendLine("### Spinning lever (bare sessions, same batches, A B B A; median ms per call)");
            md.AppendLine();
            md.AppendLine("| case | int8 workers sleep | int8 workers spin (library) | gain | fp32 sleep | fp32 spin (library) | gain |");
            md.AppendLine("|---|---|---|---|---|---|---|");
            var a = spin8?["cases"]?.AsArray();
            var b = spin32?["cases"]?.AsArray();
            for (var i = 0; i < Math.Max(a?.Count ?? 0, b?.Count ?? 0); i++)
            {
                var x = a is not null && i < a.Count ? a[i] : null;
                var y = b is not null && i < b.Count ? b[i] : null;
                md.AppendLine(CultureInfo.InvariantCulture, $"| {(x ?? y)!["case"]} | {F(x?["sleeping_ms"], "F0")} | {F(x?["spinning_ms"], "F0")} | {F(x?["gain"], "P0")} | {F(y?["sleeping_ms"], "F0")} | {F(y?["spinning_ms"], "F0")} | {F(y?["gain"], "P0")} |");
            }

            var idle = (spin8 ?? spin32)!["idle_after_run"];
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"CPU the process uses in the 2 s after a run ends: spinning {F(idle?["spinning_idle_cpu_seconds_per_2s"], "F3")} s, sleeping {F(idle?["sleeping_idle_cpu_seconds_per_2s"], "F4")} s.");
            md.AppendLine();
        }

        if (fp32?["sweep"] is not null || int8?["sweep"] is not null)
        {
            md.AppendLine("### Pairs/s against pair length (one pair per call; real AutoRAG pairs nearest each length)");
            md.AppendLine();
            md.AppendLine("Each engine's repeats run in a block after a pause (median of the repeats). Targets (issue 15): int8 ≥ 70 % of the bound at 512 tokens and ≥ 55 % at 128; fp32 ≥ 80 % at 512 and ≥ 65 % at 128.");
            md.AppendLine();
            md.AppendLine("| tokens (fp32 / int8 pair) | fp32 pairs/s | fp32 share of bound | int8 pairs/s | int8 share of bound | int8 / fp32 |");
            md.AppendLine("|---|---|---|---|---|---|");
            var a = fp32?["sweep"]?.AsArray();
            var q = int8?["sweep"]?.AsArray();
            var n = Math.Max(a?.Count ?? 0, q?.Count ?? 0);
            for (var i = 0; i < n; i++)
            {
                var x = a is not null && i < a.Count ? a[i] : null;
                var y = q is not null && i < q.Count ? q[i] : null;
                var ratio = x is not null && y is not null ? (y["pairs_per_s"]!.GetValue<double>() / x["pairs_per_s"]!.GetValue<double>()).ToString("F2", CultureInfo.InvariantCulture) : "n/a";
                md.AppendLine(CultureInfo.InvariantCulture, $"| {x?["tokens"]} / {y?["tokens"]} | {F(x?["pairs_per_s"])} | {F(x?["fraction_of_bound"], "P0")} | {F(y?["pairs_per_s"])} | {F(y?["fraction_of_bound"], "P0")} | {ratio} |");
            }

            md.AppendLine();
            md.AppendLine("![pairs per second against pair length](benchmarks/pairs-per-second.png)");
            md.AppendLine();
            Chart(a, q, Path.Combine(Path.GetDirectoryName(docsPath)!, "benchmarks", "pairs-per-second.png"));
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"Load average at the start of each phase: peak {peak?["load_before"]}; fp32 {fp32?["load_before"]}; int8 {int8?["load_before"]}; tokenizer {tok?["load"]}.");
        md.AppendLine(End);

        var doc = File.Exists(docsPath) ? File.ReadAllText(docsPath) : $"# Benchmarks\n\n{Begin}\n{End}\n";
        var from = doc.IndexOf(Begin, StringComparison.Ordinal);
        var to = doc.IndexOf(End, StringComparison.Ordinal);
        if (from < 0 || to < 0)
        {
            throw new InvalidDataException($"{docsPath} has no {Begin} ... {End} markers.");
        }

        doc = doc[..from] + md.ToString().TrimEnd('\n') + doc[(to + End.Length)..];
        File.WriteAllText(docsPath, doc);
        Console.Error.WriteLine($"updated {docsPath}");
    }

    private static string Stamp(JsonNode? n) => n?["written"]?.GetValue<string>() ?? "?";

    private static string G(JsonNode? v) => v is null ? "n/a" : (v.GetValue<double>() / 1e9).ToString("F0", CultureInfo.InvariantCulture);

    private static string N(JsonNode? v) => v is null ? "n/a" : v.GetValue<double>().ToString("N0", CultureInfo.InvariantCulture);

    private static string F(JsonNode? v, string format = "F2") => v is null ? "n/a" : v.GetValue<double>().ToString(format, CultureInfo.InvariantCulture);

    private static void Chart(JsonArray? fp32, JsonArray? int8, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var plot = new ScottPlot.Plot();
        void Series(JsonArray? sweep, string key, string label, ScottPlot.Color color, bool dashed)
        {
            if (sweep is null)
            {
                return;
            }

            var xs = sweep.Select(p => (double)p!["tokens"]!.GetValue<int>()).ToArray();
            var ys = sweep.Select(p => Math.Log10(p![key]!.GetValue<double>())).ToArray();
            var s = plot.Add.Scatter(xs, ys, color);
            s.LegendText = label;
            s.LineWidth = 2;
            s.MarkerSize = dashed ? 0 : 7;
            if (dashed)
            {
                s.LinePattern = ScottPlot.LinePattern.Dashed;
            }
        }

        var blue = ScottPlot.Colors.SteelBlue;
        var orange = ScottPlot.Colors.DarkOrange;
        Series(int8, "bound_pairs_per_s", "int8 bound (machine peak)", orange, dashed: true);
        Series(int8, "pairs_per_s", "int8, ours", orange, dashed: false);
        Series(fp32, "bound_pairs_per_s", "fp32 bound (machine peak)", blue, dashed: true);
        Series(fp32, "pairs_per_s", "fp32, ours", blue, dashed: false);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("0.##", CultureInfo.InvariantCulture),
        };
        plot.Title("bge-reranker-v2-m3 architecture (568M), one pair per call, 2 cores");
        plot.XLabel("pair length (tokens)");
        plot.YLabel("pairs per second (log scale)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 900, 560);
        Console.Error.WriteLine($"wrote {path}");
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reranker.Inference;

namespace Reranker.Benchmarks;

/// <summary>
/// One (query, document) pair of a given token length through the library's engine (<see cref="LogitSession"/>, the
/// session <see cref="CrossEncoder"/> runs), with the model's attention as exported or rewritten to
/// <c>MultiHeadAttention</c> at load time. Meant to run in a fresh process per cell (bench/long-pairs.sh), so that
/// the peak resident set (VmHWM) belongs to this one model, length and attention path.
/// </summary>
internal static class LongPair
{
    /// <param name="modelPath">The ONNX file (its folder holds config.json and any external data).</param>
    /// <param name="tokens">Tokens of the pair, special tokens included.</param>
    /// <param name="rewriteAttention">The load-time rewrite (new path) or the file as exported (old path).</param>
    /// <param name="runs">Timed runs after one warm-up run.</param>
    /// <param name="threads">ONNX Runtime intra-op threads (0: its default).</param>
    /// <param name="peaks">The machine's measured peaks, for the share of the FLOP bound; null leaves it out.</param>
    public static JsonObject Run(string modelPath, int tokens, bool rewriteAttention, int runs, int threads, Peaks? peaks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "config.json")))!;
        var vocab = config["vocab_size"]!.GetValue<int>();
        var shape = new ModelShape(
            config["num_hidden_layers"]!.GetValue<int>(),
            config["hidden_size"]!.GetValue<int>(),
            config["intermediate_size"]!.GetValue<int>());

        // <s> random pieces </s>: ids 0 and 2 as XLM-R's tokenizer writes them, never the pad id 1. Seeded.
        var random = new Random(tokens);
        var ids = new int[tokens];
        for (var i = 1; i < tokens - 1; i++)
        {
            ids[i] = random.Next(4, vocab - 1);
        }

        ids[^1] = 2;

        var rssStart = Machine.RssMb();
        var load = Stopwatch.StartNew();
        using var session = LogitSession.Load(modelPath, threads, rewriteAttention);
        var loadSeconds = load.Elapsed.TotalSeconds;
        var rssLoaded = Machine.RssMb();

        var warm = Stopwatch.StartNew();
        var logit = session.Run([ids], 1, 1, tokens)[0];
        var warmSeconds = warm.Elapsed.TotalSeconds;
        var times = new List<double>();
        for (var r = 0; r < runs; r++)
        {
            var watch = Stopwatch.StartNew();
            var again = session.Run([ids], 1, 1, tokens)[0];
            times.Add(watch.Elapsed.TotalSeconds);
            if (BitConverter.SingleToInt32Bits(again) != BitConverter.SingleToInt32Bits(logit))
            {
                throw new InvalidOperationException($"run {r} gave logit {again}, the warm-up {logit}: not deterministic");
            }
        }

        var median = Stats.Median(times);
        var int8 = OnnxModelScan.UsesDynamicQuantization(modelPath);
        var result = new JsonObject
        {
            ["model"] = Path.GetFullPath(modelPath),
            ["precision"] = int8 ? "int8" : "fp32",
            ["attention"] = rewriteAttention ? "rewritten" : "as-exported",
            ["blocks_rewritten"] = session.Attention?.BlocksRewritten ?? 0,
            ["tokens"] = tokens,
            ["threads"] = threads,
            ["load_seconds"] = loadSeconds,
            ["warmup_seconds"] = warmSeconds,
            ["run_seconds"] = new JsonArray(times.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["median_seconds"] = median,
            ["logit"] = logit,
            ["rss_start_mib"] = rssStart,
            ["rss_after_load_mib"] = rssLoaded,
            ["peak_rss_mib"] = Machine.PeakRssMb(),
            ["gflop"] = shape.Flops(1, tokens) / 1e9,
            ["load_average"] = Machine.LoadAverage(),
        };
        if (peaks is not null)
        {
            result["share_of_flop_bound"] = shape.BoundSeconds(1, tokens, int8, peaks) / median;
        }

        return result;
    }

    /// <summary>One line of JSON (stdout), so a script can collect the cells.</summary>
    public static string ToLine(JsonObject result) => result.ToJsonString(new JsonSerializerOptions { WriteIndented = false });

    /// <summary>The peaks from a <c>peak.json</c> the <c>peak</c> phase wrote, or null.</summary>
    public static Peaks? ReadPeaks(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        var peak = JsonNode.Parse(File.ReadAllText(path))!;
        return new Peaks(
            peak["fp32_flops_all_cores"]!.GetValue<double>(),
            peak["int8_ops_all_cores"]!.GetValue<double>());
    }

    /// <summary>Parses "rewritten" / "as-exported".</summary>
    public static bool ParseAttention(string value) => value switch
    {
        "rewritten" or "new" => true,
        "as-exported" or "old" => false,
        _ => throw new ArgumentException($"--attention must be 'rewritten' or 'as-exported', got '{value}'"),
    };

    /// <summary>
    /// A Markdown table of the cells bench/long-pairs.sh collected (one JSON object per line): per model and length,
    /// the old path (as exported) beside the new (rewritten), and how far their logits differ.
    /// </summary>
    public static string Report(string cellsPath)
    {
        var cells = File.ReadAllLines(cellsPath).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        static string Cell(JsonObject? c) => c is null ? "–"
            : c["failed"] is not null ? "failed (out of memory?)"
            : string.Create(CultureInfo.InvariantCulture,
                $"{c["median_seconds"]!.GetValue<double>():F2} s, {c["peak_rss_mib"]!.GetValue<double>():F0} MiB{(c["share_of_flop_bound"] is { } s ? $", {s.GetValue<double>():P0}" : "")}");
        var table = new System.Text.StringBuilder();
        table.AppendLine("| model | tokens | as exported: median, peak RSS, share of FLOP bound | rewritten: median, peak RSS, share of FLOP bound | time new/old | Δ logit (abs) |");
        table.AppendLine("|---|---:|---|---|---:|---:|");
        foreach (var group in cells.GroupBy(c => (Label: c["label"]?.GetValue<string>() ?? "", Tokens: c["tokens"]!.GetValue<int>())))
        {
            var old = group.FirstOrDefault(c => c["attention"]!.GetValue<string>() == "as-exported");
            var now = group.FirstOrDefault(c => c["attention"]!.GetValue<string>() == "rewritten");
            var both = old is not null && now is not null && old["failed"] is null && now["failed"] is null;
            var ratio = both ? (now!["median_seconds"]!.GetValue<double>() / old!["median_seconds"]!.GetValue<double>()).ToString("F2", CultureInfo.InvariantCulture) : "–";
            var delta = both ? Math.Abs(now!["logit"]!.GetValue<double>() - old!["logit"]!.GetValue<double>()).ToString("E1", CultureInfo.InvariantCulture) : "–";
            table.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key.Label} | {group.Key.Tokens} | {Cell(old)} | {Cell(now)} | {ratio} | {delta} |");
        }

        return table.ToString();
    }

    /// <summary>The pair lengths of the grid.</summary>
    public static int ParseTokens(string value) => int.Parse(value, CultureInfo.InvariantCulture);
}

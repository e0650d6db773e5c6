// Reranker benchmark harness, run on demand (bench/run-benchmarks.sh runs every phase, each in its own process so
// that peak RSS belongs to one model). Not BenchmarkDotNet: one measured operation takes 0.1-40 s on this model, so
// BenchmarkDotNet's pilot and warm-up iterations would take hours; instead every phase interleaves what it compares
// and records the machine's load and the CPU time other processes used meanwhile.
//
//   peak        --out DIR [--c-peak /tmp/peak]   (the C kernel built from bench/peak/peak.c)
//   tokenizer   --out DIR [--rounds 7]
//   e2e         --out DIR --model DIR --variant fp32|int8 [--requests 6 --docs 20 --raw-requests 1]
//   concurrency --out DIR --model DIR [--requests 8 --docs 10 --rounds 1]
//   batching    --out DIR --model DIR [--requests 2 --docs 20]
//   spinning    --out DIR --model DIR --variant int8 [--repeats 6]
//   before-after --out DIR --model DIR --variant int8 [--requests 6 --docs 20 --rounds 1]
//               (Rank with the default load-time rewrite against the attention rewrite alone, interleaved)
//   inflight    --out DIR --model DIR --variant int8 [--tokens 128,512 --pairs 8 --rounds 4]
//               (one pair on all cores against one pair per core in flight, one thread each)
//   profile     --model DIR --label L [--tokens 64,128,256,512 --runs 3 --attention rewritten|as-exported
//               --passes all|attention-only --profile-dir DIR] (per-operator shares; one JSON line on stdout)
//   profile-report --in FILE.jsonl   (the Markdown table of those lines)
//   logits      --model DIR --ids FILE.json [--rewrite true|false]   (one JSON array of logits on stdout)
//   model-ab    --variants "a=PATH[+rewrite];b=PATH..." [--tokens ... --runs 5 --threads 0 --cpu-time false]
//   report      --out DIR --docs docs/BENCHMARKS.md
//   long-pair   --model DIR [--file model.onnx] --tokens N --attention rewritten|as-exported [--runs 3 --threads 0 --peak peak.json]
//               (one pair, one JSON line on stdout; run one cell per process: bench/long-pairs.sh)
//   long-pair-report --in long-pairs.jsonl   (the Markdown table of those cells)
//   long-docs   --model DIR [--file model.onnx] --mode truncate|chunk|full [--docs 20 --unit-runs 3]
//               (one Rank of whole AutoRAG pages, one JSON line on stdout; one process per mode: bench/long-docs.sh)
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reranker.Benchmarks;

var command = args.Length > 0 ? args[0] : "help";
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

string Opt(string name, string? fallback = null) =>
    options.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException($"--{name} is required for '{command}'");
int IntOpt(string name, int fallback) => int.Parse(Opt(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

var repoRoot = FindRepoRoot();
var outDir = command is "help" or "logits" or "model-ab" or "profile" or "profile-report" or "long-pair" or "long-pair-report" or "long-docs" ? "" : Path.GetFullPath(Opt("out"));
if (outDir.Length > 0)
{
    Directory.CreateDirectory(outDir);
}

Peaks ReadPeaks()
{
    var peak = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "peak.json")))!;
    return new Peaks(peak["fp32_flops_all_cores"]!.GetValue<double>(), peak["int8_ops_all_cores"]!.GetValue<double>());
}

void Save(string name, JsonObject result)
{
    result["phase"] = name;
    result["written"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
    var path = Path.Combine(outDir, name + ".json");
    File.WriteAllText(path, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.Error.WriteLine($"wrote {path}");
}

switch (command)
{
    case "peak":
    {
        var before = Machine.CpuSnapshot.Take();
        var load = Machine.LoadAverage();
        var (fp32One, fp32All, int8One, int8All) = PeakKernel.Measure(Environment.ProcessorCount);
        Console.Error.WriteLine($"peak (C#): fp32 {fp32All / 1e9:F0} GFLOP/s ({fp32One / 1e9:F0} one core), int8 ymm {int8All / 1e9:F0} GOP/s ({int8One / 1e9:F0} one core)");
        var result = new JsonObject
        {
            ["cpu"] = Machine.CpuModel(),
            ["cores"] = Environment.ProcessorCount,
            ["csharp_fp32_zmm_one_core"] = fp32One,
            ["csharp_fp32_zmm_all_cores"] = fp32All,
            ["csharp_int8_ymm_one_core"] = int8One,
            ["csharp_int8_ymm_all_cores"] = int8All,
            ["load_before"] = load,
        };

        // The C kernel (bench/peak/peak.c) adds zmm VNNI, which .NET 10 does not expose.
        double cFp32 = 0, cInt8 = 0;
        if (options.TryGetValue("c-peak", out var cPeak) && File.Exists(cPeak))
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(cPeak) { RedirectStandardOutput = true })!;
            var c = JsonNode.Parse(p.StandardOutput.ReadToEnd())!.AsObject();
            p.WaitForExit();
            result["c_kernel"] = c.DeepClone();
            cFp32 = c["fp32_zmm_all"]!.GetValue<double>();
            cInt8 = Math.Max(c["int8_zmm_all"]!.GetValue<double>(), c["int8_ymm_all"]!.GetValue<double>());
            Console.Error.WriteLine($"peak (C): {c.ToJsonString()}");
        }

        // Denominators: the best any kernel reached (the harder target).
        result["fp32_flops_all_cores"] = Math.Max(fp32All, cFp32);
        result["int8_ops_all_cores"] = Math.Max(int8All, cInt8);
        if (Math.Max(int8All, cInt8) <= 0)
        {
            throw new InvalidOperationException("No int8 peak: this CPU has no AVX-VNNI for the C# kernel, and the C kernel (--c-peak, built from bench/peak/peak.c with gcc) did not run.");
        }

        result["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(before);
        Save("peak", result);
        break;
    }

    case "tokenizer":
        Save("tokenizer", TokenizerBench.Run(repoRoot, Path.Combine(repoRoot, "models", "tiny-xlmr-reranker", "tokenizer.json"), IntOpt("rounds", 7)));
        break;

    case "e2e":
    {
        var variant = Opt("variant");
        var model = Path.GetFullPath(Opt("model"));
        var settings = new EndToEnd.Settings(
            repoRoot,
            model,
            variant,
            variant == "int8",
            Path.Combine(repoRoot, "bench", "peer"),
            Path.GetFullPath(Opt("peer-root")),
            IntOpt("requests", 6),
            IntOpt("docs", 20),
            IntOpt("raw-requests", 1),
            Opt("sweep", "64,96,128,192,256,320,384,448,512").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray(),
            IntOpt("sweep-repeats", 5),
            ReadPeaks());
        Save("e2e-" + variant, EndToEnd.Run(settings));
        break;
    }

    case "concurrency":
        Save("concurrency", Concurrency.Callers(repoRoot, Path.GetFullPath(Opt("model")), IntOpt("requests", 8), IntOpt("docs", 10), [(1, true), (2, true), (8, true), (2, false), (8, false)], IntOpt("rounds", 1)));
        break;

    case "batching":
        Save("batching-" + Opt("variant", "int8"), Concurrency.Batching(repoRoot, Path.GetFullPath(Opt("model")), IntOpt("requests", 2), IntOpt("docs", 20), [(1, 8192), (4, 8192), (8, 8192), (64, 1 << 20)]));
        break;

    case "before-after":
        Save("before-after-" + Opt("variant"), RankBeforeAfter.Run(repoRoot, Path.GetFullPath(Opt("model")), Opt("variant"), IntOpt("requests", 6), IntOpt("docs", 20), IntOpt("rounds", 1)));
        break;

    case "inflight":
        Save("inflight-" + Opt("variant"), PairsInFlight.Run(repoRoot, Path.GetFullPath(Opt("model")), Opt("tokens", "128,512").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray(), IntOpt("pairs", 8), IntOpt("rounds", 4)));
        break;

    case "spinning":
        Save("spinning-" + Opt("variant", "int8"), Spinning.Run(repoRoot, Path.GetFullPath(Opt("model")), [64, 128, 256, 512], IntOpt("repeats", 6)));
        break;

    case "report":
        Report.Write(outDir, Path.GetFullPath(Opt("docs")));
        break;

    case "long-pair":
        Console.WriteLine(LongPair.ToLine(LongPair.Run(
            Path.Combine(Path.GetFullPath(Opt("model")), Opt("file", "model.onnx")),
            LongPair.ParseTokens(Opt("tokens")),
            LongPair.ParseAttention(Opt("attention")),
            IntOpt("runs", 3),
            IntOpt("threads", 0),
            LongPair.ReadPeaks(options.GetValueOrDefault("peak")))));
        break;

    case "long-docs":
        Console.WriteLine(LongDocs.ToLine(LongDocs.Run(
            repoRoot,
            Path.GetFullPath(Opt("model")),
            Opt("file", "model.onnx"),
            Opt("mode"),
            IntOpt("docs", 20),
            IntOpt("unit-runs", 3))));
        break;

    case "profile":
        Console.WriteLine(OperatorProfile.ToLine(OperatorProfile.Run(
            Path.Combine(Path.GetFullPath(Opt("model")), Opt("file", "model.onnx")),
            Opt("tokens", "64,128,256,512").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray(),
            IntOpt("runs", 3),
            LongPair.ParseAttention(Opt("attention", "rewritten")),
            Path.GetFullPath(Opt("profile-dir", Path.GetTempPath())),
            Opt("label"),
            options.GetValueOrDefault("optimized"),
            Opt("passes", "all") switch
            {
                "all" => false,
                "attention-only" => true,
                var p => throw new ArgumentException($"--passes must be 'all' or 'attention-only', got '{p}'"),
            })));
        break;

    case "logits":
    {
        // One pair per run; --rewrite false loads the file as exported. Prints a JSON array of logits.
        var ids = JsonSerializer.Deserialize<int[][]>(File.ReadAllText(Opt("ids")))!;
        var modelPath = Path.Combine(Path.GetFullPath(Opt("model")), Opt("file", "model.onnx"));
        using var session = Reranker.Inference.LogitSession.Load(modelPath, 0, Opt("rewrite", "true") == "true");
        Console.WriteLine(JsonSerializer.Serialize(session.Run(ids, 1, 1, 1 << 20)));
        break;
    }

    case "model-ab":
        Console.WriteLine(OperatorProfile.ToLine(ModelAb.Run(
            Opt("variants").Split(';').Select(ModelAb.ParseVariant).ToList(),
            Opt("tokens", "64,128,256,512").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray(),
            IntOpt("runs", 5),
            IntOpt("threads", 0),
            Opt("cpu-time", "false") == "true")));
        break;

    case "profile-report":
        Console.Write(OperatorProfile.Report(File.ReadAllLines(Path.GetFullPath(Opt("in"))).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())));
        break;

    case "long-pair-report":
        Console.Write(LongPair.Report(Path.GetFullPath(Opt("in"))));
        break;

    default:
        Console.Error.WriteLine("commands: peak, tokenizer, e2e, concurrency, batching, report, long-pair, long-pair-report, long-docs (see Program.cs)");
        return 2;
}

return 0;

static string FindRepoRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Reranker.sln")))
    {
        dir = dir.Parent;
    }

    return dir?.FullName ?? throw new InvalidOperationException("Reranker.sln not found above the benchmark binary.");
}

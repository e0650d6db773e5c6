using System.Diagnostics;
using System.Text.Json.Nodes;
using Reranker.Tokenization;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace Reranker.Benchmarks;

/// <summary>
/// The tokenizer alone on the AutoRAG corpus (720 passages + 114 queries): ours against Hugging Face's Rust tokenizers
/// through Tokenizers.DotNet, same tokenizer.json, one thread, rounds alternating A B A B.
/// </summary>
internal static class TokenizerBench
{
    public static JsonObject Run(string repoRoot, string tokenizerJson, int rounds)
    {
        var texts = Workload.Passages(repoRoot).Concat(Workload.Queries(repoRoot)).ToList();
        var ours = XlmRobertaTokenizer.FromTokenizerJson(tokenizerJson);
        using var rust = new HfTokenizer(tokenizerJson);

        // Same ids (Tokenizers.DotNet adds <s> ... </s>; ours is called without special tokens).
        long tokens = 0;
        var mismatches = 0;
        foreach (var text in texts)
        {
            var a = ours.EncodeToIds(text);
            var b = rust.Encode(text);
            tokens += a.Length;
            if (b.Length != a.Length + 2 || !b.Skip(1).Take(a.Length).Select(x => (int)x).SequenceEqual(a))
            {
                mismatches++;
            }
        }

        long chars = texts.Sum(t => (long)t.Length);
        var cpu = Machine.CpuSnapshot.Take();
        var oursTimes = new List<double>();
        var rustTimes = new List<double>();
        long sink = 0;
        for (var round = 0; round < rounds; round++)
        {
            var start = Stopwatch.GetTimestamp();
            foreach (var text in texts)
            {
                sink += ours.EncodeToIds(text).Length;
            }

            oursTimes.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            start = Stopwatch.GetTimestamp();
            foreach (var text in texts)
            {
                sink += rust.Encode(text).Length;
            }

            rustTimes.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        var o = Stats.Median(oursTimes);
        var r = Stats.Median(rustTimes);
        Console.Error.WriteLine($"tokenizer: ours {tokens / o:F0} tokens/s, rust {tokens / r:F0} tokens/s ({sink})");
        return new JsonObject
        {
            ["texts"] = texts.Count,
            ["chars"] = chars,
            ["tokens"] = tokens,
            ["id_mismatches"] = mismatches,
            ["rounds"] = rounds,
            ["ours_seconds_median"] = o,
            ["rust_seconds_median"] = r,
            ["ours_tokens_per_s"] = tokens / o,
            ["rust_tokens_per_s"] = tokens / r,
            ["ours_strings_per_s"] = texts.Count / o,
            ["rust_strings_per_s"] = texts.Count / r,
            ["ours_chars_per_s"] = chars / o,
            ["ratio"] = r / o,
            ["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(cpu),
            ["load"] = Machine.LoadAverage(),
        };
    }
}

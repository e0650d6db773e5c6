using System.Text.Json;
using Reranker.Tokenization;

namespace Reranker.Tests.Support;

/// <summary>One row of <c>golden/pairs.jsonl</c>: a pair as the reference Python stack encoded and scored it.</summary>
internal sealed record GoldenPair(string Query, string Passage, int MaxLength, TruncationStrategy Truncation, int[] InputIds, double Logit, double Score);

/// <summary>Reads the golden files of the tiny fixture model (see FIXTURE-README.md).</summary>
internal static class Goldens
{
    private static readonly Lazy<IReadOnlyList<GoldenPair>> LazyPairs = new(LoadPairs);

    /// <summary>All 288 rows of <c>pairs.jsonl</c>, in file order.</summary>
    public static IReadOnlyList<GoldenPair> Pairs => LazyPairs.Value;

    public static TruncationStrategy ParseTruncation(string name) => name switch
    {
        "longest_first" => TruncationStrategy.LongestFirst,
        "flag" => TruncationStrategy.QueryCapped,
        _ => throw new InvalidDataException("unknown truncation " + name),
    };

    public static JsonElement ReadJson(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Golden(name)));
        return document.RootElement.Clone();
    }

    /// <summary><c>onnxruntime.json</c>: the logits Python onnxruntime gave for every <c>pairs.jsonl</c> row with <paramref name="modelFile"/>.</summary>
    public static double[] OnnxRuntimeLogits(string modelFile) =>
        ReadJson("onnxruntime.json").GetProperty(modelFile).GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    private static List<GoldenPair> LoadPairs()
    {
        var rows = new List<GoldenPair>();
        foreach (var line in File.ReadLines(TestPaths.Golden("pairs.jsonl")))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var document = JsonDocument.Parse(line);
            var row = document.RootElement;
            rows.Add(new GoldenPair(
                row.GetProperty("query").GetString()!,
                row.GetProperty("passage").GetString()!,
                row.GetProperty("max_length").GetInt32(),
                ParseTruncation(row.GetProperty("truncation").GetString()!),
                Ints(row.GetProperty("input_ids")),
                row.GetProperty("logit").GetDouble(),
                row.GetProperty("score").GetDouble()));
        }

        return rows;
    }
}

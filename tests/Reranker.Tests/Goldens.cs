using System.Text.Json;

namespace Reranker.Tests;

/// <summary>Readers for the goldens that the Python reference stack wrote (see tests/TestData/tiny-xlmr-reranker).</summary>
internal static class Goldens
{
    public sealed record TokenRow(string Text, int[] Ids, int[] IdsSentencePiece);

    public sealed record PairRow(string Query, string Passage, int MaxLength, string Truncation, int[] InputIds, double Logit, double Score);

    public static IReadOnlyList<TokenRow> Tokens(string path) =>
        File.ReadLines(path).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new TokenRow(
                r.GetProperty("text").GetString()!,
                IntArray(r.GetProperty("ids")),
                r.TryGetProperty("ids_sentencepiece", out var sp) ? IntArray(sp) : []);
        }).ToList();

    public static IReadOnlyList<PairRow> Pairs() =>
        File.ReadLines(TestPaths.Golden("pairs.jsonl")).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new PairRow(
                r.GetProperty("query").GetString()!,
                r.GetProperty("passage").GetString()!,
                r.GetProperty("max_length").GetInt32(),
                r.GetProperty("truncation").GetString()!,
                IntArray(r.GetProperty("input_ids")),
                r.GetProperty("logit").GetDouble(),
                r.GetProperty("score").GetDouble());
        }).ToList();

    public static int[] IntArray(JsonElement array) => array.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>Describes the first mismatches of a comparison, so a failure says what went wrong.</summary>
    public static string Describe(IEnumerable<(string Text, int[] Expected, int[] Actual)> mismatches, int max = 5) =>
        string.Join(Environment.NewLine, mismatches.Take(max).Select(m =>
            $"text {JsonSerializer.Serialize(m.Text)}: expected [{string.Join(",", m.Expected)}] got [{string.Join(",", m.Actual)}]"));
}

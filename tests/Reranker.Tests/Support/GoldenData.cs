using System.Text.Json;
using Reranker.Tokenization;

namespace Reranker.Tests.Support;

/// <summary>One row of <c>golden/pairs.jsonl</c>: a pair as the reference Python stack encoded and scored it.</summary>
internal sealed record GoldenPair(string Query, string Passage, int MaxLength, TruncationStrategy Truncation, int[] InputIds, double Logit, double Score);

/// <summary>One row of a <c>tokens.jsonl</c>: a text and the ids of the fast tokenizer and of the SentencePiece library.</summary>
internal sealed record GoldenTokens(string Text, int[] Ids, int[] IdsSentencePiece);

/// <summary>Reads the golden files of the tiny fixture model (see FIXTURE-README.md).</summary>
internal static class GoldenData
{
    private static readonly Lazy<IReadOnlyList<GoldenPair>> LazyRawPairs = new(LoadRawPairs);
    private static readonly Lazy<IReadOnlyList<GoldenPair>> LazyPairs = new(() => CorrectEmptyPassages(LazyRawPairs.Value));

    /// <summary>The 288 rows of <c>pairs.jsonl</c> exactly as written: <c>onnxruntime.json</c> scored these ids.</summary>
    public static IReadOnlyList<GoldenPair> RawPairs => LazyRawPairs.Value;

    /// <summary>All 288 rows of <c>pairs.jsonl</c>, in file order, with the empty-passage correction below.</summary>
    /// <remarks>
    /// The generator made the <c>longest_first</c> rows with one <c>tokenizer(query, passage)</c> call per pair, and
    /// transformers drops an empty second text in that call, giving <c>&lt;s&gt; query &lt;/s&gt;</c>. Every usage
    /// on the model card (transformers with a list of pairs, sentence-transformers, FlagEmbedding) tokenizes
    /// batches, which keep the pair template: <c>&lt;s&gt; query &lt;/s&gt;&lt;/s&gt;&lt;/s&gt;</c>; that is what
    /// <c>sentence_transformers.json</c> scored. So for an empty passage the <c>longest_first</c> row takes the ids
    /// and logit of the <c>flag</c> row of the same pair, which is that encoding when nothing is truncated.
    /// </remarks>
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

    /// <summary>Reads a <c>tokens.jsonl</c> (the fixture's, or a tokenizer variant's, which has no SentencePiece column).</summary>
    public static IReadOnlyList<GoldenTokens> Tokens(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new GoldenTokens(
                r.GetProperty("text").GetString()!,
                Ints(r.GetProperty("ids")),
                r.TryGetProperty("ids_sentencepiece", out var sp) ? Ints(sp) : []);
        }).ToList();

    /// <summary>Describes the first mismatches of a comparison, so a failure says what went wrong.</summary>
    public static string Describe(IEnumerable<(string Text, int[] Expected, int[] Actual)> mismatches, int max = 5) =>
        string.Join(Environment.NewLine, mismatches.Take(max).Select(m =>
            $"text {JsonSerializer.Serialize(m.Text)}: expected [{string.Join(",", m.Expected)}] got [{string.Join(",", m.Actual)}]"));

    private static List<GoldenPair> LoadRawPairs()
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

    private static List<GoldenPair> CorrectEmptyPassages(IReadOnlyList<GoldenPair> raw)
    {
        var rows = raw.ToList();
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row.Truncation == TruncationStrategy.LongestFirst && row.Passage.Length == 0)
            {
                var flag = rows.Single(r => r.Truncation == TruncationStrategy.QueryCapped && r.MaxLength == row.MaxLength && r.Query == row.Query && r.Passage.Length == 0);
                if (flag.InputIds.Length >= row.MaxLength || flag.InputIds[^3..] is not [2, 2, 2])
                {
                    throw new InvalidDataException("the empty-passage correction does not apply to " + row);
                }

                rows[i] = row with { InputIds = flag.InputIds, Logit = flag.Logit, Score = flag.Score };
            }
        }

        return rows;
    }
}

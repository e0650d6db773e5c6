using System.Text.Json;

namespace Reranker.Tests.Support;

/// <summary>Checks <see cref="CrossEncoder.Rank"/> against the <c>rank</c> section of <c>sentence_transformers.json</c>.</summary>
internal static class SentenceTransformersRankParity
{
    public static void Check(CrossEncoder encoder, JsonElement golden, double tolerance)
    {
        var sets = golden.GetProperty("rank").EnumerateArray().ToArray();
        Assert.NotEmpty(sets);
        foreach (var set in sets)
        {
            var query = set.GetProperty("query").GetString()!;
            var documents = set.GetProperty("documents").EnumerateArray().Select(d => d.GetString()!).ToArray();
            var expected = set.GetProperty("ranking").EnumerateArray()
                .Select(r => (Index: r.GetProperty("corpus_id").GetInt32(), Score: r.GetProperty("score").GetDouble()))
                .ToArray();

            var ranked = encoder.Rank(query, documents);

            Assert.Equal(expected.Select(e => e.Index), ranked.Select(r => r.Index));
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.InRange(ranked[i].Score, expected[i].Score - tolerance, expected[i].Score + tolerance);
            }
        }
    }
}

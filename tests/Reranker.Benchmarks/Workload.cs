using Parquet.Serialization;

namespace Reranker.Benchmarks;

/// <summary>One Rank request of the benchmark: an AutoRAG query and its candidate passages.</summary>
internal sealed record RankRequest(string QueryId, string Query, IReadOnlyList<string> Documents, int RelevantIndex);

/// <summary>
/// The fixed sample: AutoRAG Korean queries, each with its ground-truth passage and other passages of the corpus
/// drawn with a fixed seed, in a shuffled order, at their natural lengths (the library truncates to max_length).
/// </summary>
internal static class Workload
{
    public const int Seed = 20261127;

    public static string DataDirectory(string repoRoot) => Path.Combine(repoRoot, "tests", "TestData", "autorag-ko");

    public static IReadOnlyList<string> Queries(string repoRoot) =>
        Read<QaRow>(repoRoot, "qa_v4.parquet").Select(r => r.query!).ToList();

    public static IReadOnlyList<string> Passages(string repoRoot) =>
        Read<CorpusRow>(repoRoot, "ocr_corpus_v3.parquet").Select(r => r.contents!).ToList();

    /// <summary><paramref name="count"/> requests of <paramref name="documentsPerQuery"/> passages each; the same arguments give the same sample.</summary>
    public static List<RankRequest> Requests(string repoRoot, int count, int documentsPerQuery)
    {
        var qa = Read<QaRow>(repoRoot, "qa_v4.parquet");
        var corpus = Read<CorpusRow>(repoRoot, "ocr_corpus_v3.parquet");
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < corpus.Count; i++)
        {
            index[corpus[i].doc_id!] = i;
        }

        var random = new Random(Seed);
        var queryOrder = Enumerable.Range(0, qa.Count).OrderBy(_ => random.Next()).Take(count).ToList();
        var requests = new List<RankRequest>();
        foreach (var q in queryOrder)
        {
            var relevant = index[qa[q].retrieval_gt![0][0]];
            var chosen = new List<int> { relevant };
            while (chosen.Count < documentsPerQuery)
            {
                var candidate = random.Next(corpus.Count);
                if (!chosen.Contains(candidate))
                {
                    chosen.Add(candidate);
                }
            }

            var shuffled = chosen.OrderBy(_ => random.Next()).ToList();
            requests.Add(new RankRequest(
                qa[q].qid!,
                qa[q].query!,
                shuffled.Select(i => corpus[i].contents!).ToList(),
                shuffled.IndexOf(relevant)));
        }

        return requests;
    }

    private static IList<T> Read<T>(string repoRoot, string name)
        where T : class, new()
    {
        using var stream = File.OpenRead(Path.Combine(DataDirectory(repoRoot), name));
        return ParquetSerializer.DeserializeAsync<T>(stream).GetAwaiter().GetResult().Data;
    }

#pragma warning disable IDE1006 // Column names as the Parquet files spell them.
    private sealed class CorpusRow
    {
        public string? doc_id { get; set; }

        public string? contents { get; set; }
    }

    private sealed class QaRow
    {
        public string? qid { get; set; }

        public string? query { get; set; }

        public List<List<string>>? retrieval_gt { get; set; }
    }
#pragma warning restore IDE1006
}

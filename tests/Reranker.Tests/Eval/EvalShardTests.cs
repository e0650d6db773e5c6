using System.Text.Json;
using Reranker.Cli;
using Reranker.Cli.Eval;

namespace Reranker.Tests.Eval;

/// <summary>
/// <c>reranker eval --shard I/N</c> and <c>--merge</c> on the bundled tiny model: three shards merged give the bytes of
/// a single run (scores.jsonl, metrics.json, table.md), and a missing, duplicated or foreign shard is refused.
/// </summary>
public sealed class EvalShardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eval-shard-").FullName;
    private readonly string _qa;
    private readonly string _corpus;

    public EvalShardTests()
    {
        // 7 queries of the AutoRAG data and 12 passages: their gold passages plus the first others of the corpus.
        var qa = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_v4.parquet")).Take(7).ToList();
        var gold = qa.SelectMany(q => q.RetrievalGt.SelectMany(g => g)).ToHashSet(StringComparer.Ordinal);
        var all = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet"));
        var corpus = all.Where(c => gold.Contains(c.DocId)).Concat(all.Where(c => !gold.Contains(c.DocId)).Take(12 - gold.Count)).ToList();
        Assert.Equal(12, corpus.Count);
        (_qa, _corpus) = EvalTestData.WriteJsonl(_dir, qa, corpus);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // 7 queries x 12 candidates, batches of 5 (5 + 5 + 2 a query): shards of 3, 2 and 2 queries.
    private string[] Args(string output, params string[] extra) =>
    [
        "--model", TestPaths.TinyModel,
        "--qa", _qa,
        "--corpus", _corpus,
        "--queries", "7",
        "--top-k", "1,3,5",
        "--batch-size", "5",
        "--max-length", "96",
        "--output", output,
        .. extra,
    ];

    private static (int Code, string Out, string Err) Run(string[] args, Func<ScorerSettings, IPairScorer>? factory = null)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = EvalCommand.Run(args, stdout, stderr, factory ?? EvalScorers.Model, default);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Path_(string name) => Path.Combine(_dir, name);

    private string[] RunShards(string root, int count, params string[] extra)
    {
        var dirs = new string[count];
        for (var i = 0; i < count; i++)
        {
            var (code, stdout, stderr) = Run(Args(root, [.. extra, "--shard", $"{i}/{count}"]));
            Assert.True(code == 0, stderr);
            Assert.Equal("", stdout); // a shard prints no table: it holds only part of the queries
            dirs[i] = Path.Combine(root, $"shard-{i}-of-{count}");
            Assert.True(File.Exists(Path.Combine(dirs[i], ScoreStore.FileName)));
            Assert.False(File.Exists(Path.Combine(dirs[i], "metrics.json")));
        }

        return dirs;
    }

    [Fact]
    public void Three_shards_merged_equal_a_single_run_byte_for_byte()
    {
        var single = Path_("single");
        var one = Run(Args(single));
        Assert.True(one.Code == 0, one.Err);

        var root = Path_("sharded");
        var dirs = RunShards(root, 3);

        // The shards split the queries: each qid in exactly one shard, 7 in all, and no pair scored twice.
        var qidsByShard = dirs.Select(d => File.ReadLines(Path.Combine(d, ScoreStore.FileName)).Skip(1)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("qid").GetString()!).ToHashSet()).ToList();
        Assert.Equal([3, 2, 2], qidsByShard.Select(s => s.Count));
        Assert.Equal(7, qidsByShard.SelectMany(s => s).Distinct().Count());

        // Merged in an order other than 0, 1, 2: the order of the folders must not matter.
        var scored = 0;
        var merge = Run(Args(root, ["--merge", dirs[2], dirs[0], dirs[1]]), s => { scored++; return EvalScorers.Model(s); });
        Assert.True(merge.Code == 0, merge.Err);
        Assert.Equal(0, scored); // merging loads no model
        Assert.Equal(one.Out, merge.Out);
        foreach (var file in new[] { ScoreStore.FileName, "metrics.json", "table.md" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(single, file)), File.ReadAllBytes(Path.Combine(root, file)));
        }

        // --merge OUTPUT (the folder holding shard-I-of-N, as a Job without a shell gives it) merges the same, again.
        var again = Run(Args(root, "--merge", root));
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(single, ScoreStore.FileName)), File.ReadAllBytes(Path.Combine(root, ScoreStore.FileName)));
    }

    [Fact]
    public void A_missing_duplicated_or_foreign_shard_is_refused()
    {
        var root = Path_("sharded");
        var dirs = RunShards(root, 3);
        var output = Path_("merged");

        var missing = Run(Args(output, ["--merge", dirs[0], dirs[2]]));
        Assert.Equal(EvalCommand.ExitFailure, missing.Code);
        Assert.Contains("shard 1/3 is missing", missing.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(output, ScoreStore.FileName))); // refused before anything is written

        var twice = Run(Args(output, ["--merge", dirs[0], dirs[1], dirs[2], dirs[1]]));
        Assert.Equal(EvalCommand.ExitFailure, twice.Code);
        Assert.Contains("shard 1/3 is given twice", twice.Err, StringComparison.Ordinal);

        // A shard of another split (2 shards) cannot stand in for one of three.
        var other = RunShards(Path_("halves"), 2);
        var split = Run(Args(output, ["--merge", dirs[0], dirs[1], other[1]]));
        Assert.Equal(EvalCommand.ExitFailure, split.Code);
        Assert.Contains("shard 1/2", split.Err, StringComparison.Ordinal);

        // A shard scored with other options has another fingerprint.
        var foreign = RunShards(Path_("foreign"), 3, "--truncation", "query-capped");
        var mixed = Run(Args(output, ["--merge", dirs[0], foreign[1], dirs[2]]));
        Assert.Equal(EvalCommand.ExitFailure, mixed.Code);
        Assert.Contains("was scored by a different run than this merge: changed the scoring options", mixed.Err, StringComparison.Ordinal);

        // The shards merged under another query selection: a shard holds a query that is not its own.
        var queries = Run(Args(output, ["--merge", .. dirs]).Select(a => a == "7" ? "6" : a).ToArray());
        Assert.Equal(EvalCommand.ExitFailure, queries.Code);
        Assert.Contains("which is not one of its queries in this run", queries.Err, StringComparison.Ordinal);

        // A whole run's output is not a shard.
        Assert.Equal(0, Run(Args(Path_("whole"))).Code);
        var whole = Run(Args(output, ["--merge", dirs[0], dirs[1], dirs[2], Path_("whole")]));
        Assert.Equal(EvalCommand.ExitFailure, whole.Code);
        Assert.Contains("not of a shard", whole.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unfinished_shard_is_refused_and_resumes()
    {
        var root = Path_("sharded");
        var dirs = RunShards(root, 3);

        // Shard 0 stopped after 4 batches (query 1 done, query 2 one batch in): its scores.jsonl is cut there.
        var path = Path.Combine(dirs[0], ScoreStore.FileName);
        var lines = File.ReadAllLines(path);
        File.WriteAllLines(path, lines[..5]);
        var merge = Run(Args(root, ["--merge", .. dirs]));
        Assert.Equal(EvalCommand.ExitFailure, merge.Code);
        Assert.Contains("shard 0/3", merge.Err, StringComparison.Ordinal);
        Assert.Contains("is not finished", merge.Err, StringComparison.Ordinal);

        // Rerunning that shard resumes it (only the missing pairs are scored), then the merge goes through.
        var pairs = 0;
        var resumed = Run(Args(root, "--shard", "0/3"), s => new CountingScorer(EvalScorers.Model(s), n => pairs += n));
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Equal((3 * 12) - (12 + 5), pairs);
        Assert.Equal(0, Run(Args(root, ["--merge", .. dirs])).Code);
    }

    [Theory]
    [InlineData("3/3")]
    [InlineData("1/0")]
    [InlineData("-1/3")]
    [InlineData("1")]
    [InlineData("a/b")]
    public void A_malformed_shard_is_a_usage_error(string shard)
    {
        var (code, _, stderr) = Run(Args(Path_("x"), "--shard", shard));
        Assert.Equal(EvalCommand.ExitUsage, code);
        Assert.Contains("--shard must be I/N", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Shard_and_merge_together_are_a_usage_error()
    {
        var (code, _, stderr) = Run(Args(Path_("x"), "--shard", "0/2", "--merge", Path_("a")));
        Assert.Equal(EvalCommand.ExitUsage, code);
        Assert.Contains("give one of them", stderr, StringComparison.Ordinal);
    }

    private sealed class CountingScorer(IPairScorer inner, Action<int> pairs) : IPairScorer
    {
        public float[] Score(IReadOnlyList<(string Query, string Document)> batch)
        {
            pairs(batch.Count);
            return inner.Score(batch);
        }

        public void Dispose() => inner.Dispose();
    }
}

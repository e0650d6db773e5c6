using System.Text.Json;
using Reranker.Cli;
using Reranker.Cli.Eval;

namespace Reranker.Tests.Eval;

/// <summary>
/// <c>reranker eval</c> end to end on <c>qa_sample.parquet</c> (3 queries) against a 20-passage corpus sample, with the
/// bundled tiny model: results recomputed from scores.jsonl, interruption and resume, refusal to resume a different run,
/// bad input, and Parquet vs JSONL.
/// </summary>
public sealed class EvalCommandTests : IDisposable
{
    private const int Candidates = 20;
    private readonly string _dir = Directory.CreateTempSubdirectory("eval-cmd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string[] SampleArgs(string output, params string[] extra) =>
    [
        "--model", TestPaths.TinyModel,
        "--qa", TestPaths.AutoRag("qa_sample.parquet"),
        "--corpus", TestPaths.AutoRag("ocr_corpus_v3.parquet"),
        "--corpus-sample", Candidates.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", "7",
        "--top-k", "1,3,5,10,50", // 50 > 20 candidates
        "--batch-size", "8", // 3 chunks a query: 8 + 8 + 4
        "--max-length", "128",
        "--output", output,
        .. extra,
    ];

    /// <summary>The arguments with one option's value replaced (or the option added): an option may be given once.</summary>
    private static string[] With(string[] args, string option, string value)
    {
        var i = Array.IndexOf(args, option);
        return i < 0 ? [.. args, option, value] : [.. args[..(i + 1)], value, .. args[(i + 2)..]];
    }

    private static (int Code, string Out, string Err) Run(
        string[] args, Func<ScorerSettings, IPairScorer>? factory = null, CancellationToken cancellationToken = default)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = EvalCommand.Run(args, stdout, stderr, factory ?? EvalScorers.Model, cancellationToken);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Output(string name) => Path.Combine(_dir, name);

    [Fact]
    public void EndToEnd_MetricsMatchAnIndependentRecomputationFromTheScoresFile()
    {
        var output = Output("run");
        var (code, stdout, stderr) = Run(SampleArgs(output));
        Assert.True(code == 0, stderr);
        Assert.Contains("Top-k 1\n| Model | F1 | Recall | Precision |", stdout, StringComparison.Ordinal);
        Assert.Contains("ETA", stderr, StringComparison.Ordinal);

        // Recompute from scores.jsonl alone (plus the ground truth): own parse, own ranking, own metric formulas.
        var stored = StoredScores.Read(Path.Combine(output, ScoreStore.FileName));
        Assert.Equal(Candidates, stored.DocIds.Count);
        var gold = new Dictionary<string, string> { ["80_law"] = "", ["4_finance"] = "", ["40_public"] = "" };
        foreach (var q in EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet")))
        {
            gold[q.Qid] = q.RetrievalGt.Single().Single();
        }

        Assert.Equal(gold.Keys.Order(), stored.Scores.Keys.Order());
        var metrics = MetricsJson.Read(Path.Combine(output, "metrics.json"));
        Assert.Equal([1, 3, 5, 10, 50], metrics.Select(m => m.K));
        foreach (var m in metrics)
        {
            double recall = 0, precision = 0, f1 = 0;
            var hits = 0;
            foreach (var (qid, scores) in stored.Scores)
            {
                var top = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i)
                    .Take(m.K).Select(i => stored.DocIds[i]).ToList();
                var hit = top.Contains(gold[qid]) ? 1.0 : 0.0; // one gold passage per query
                var p = hit / top.Count;
                recall += hit;
                precision += p;
                f1 += hit == 0 ? 0 : 2 * hit * p / (hit + p);
                hits += (int)hit;
            }

            var n = stored.Scores.Count;
            Assert.Equal(recall / n, m.Recall, 12);
            Assert.Equal(precision / n, m.Precision, 12);
            Assert.Equal(f1 / n, m.F1, 12);
            Assert.Equal(hits, m.Hits);
        }

        // k = 50 > 20 candidates: every gold passage is retrieved and precision divides by 20.
        Assert.Equal(1.0, metrics[^1].Recall, 12);
        Assert.Equal(1.0 / Candidates, metrics[^1].Precision, 12);

        // The stored scores are the model's scores of exactly those (query, passage) pairs.
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet")).ToDictionary(c => c.DocId, c => c.Contents);
        var qa = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet"));
        using var scorer = EvalScorers.Model(new ScorerSettings(TestPaths.TinyModel, "model.onnx", 128, Reranker.Tokenization.TruncationStrategy.LongestFirst, 4));
        foreach (var q in qa)
        {
            var expected = scorer.Score(stored.DocIds.Select(id => (q.Query, corpus[id])).ToList());
            Assert.Equal(expected, stored.Scores[q.Qid]);
        }
    }

    [Fact]
    public void InterruptedRunResumesToTheSameResultWithoutRescoring()
    {
        var full = Output("full");
        Assert.Equal(0, Run(SampleArgs(full)).Code);

        // Interrupt after 4 scorer calls: query 1 done (3 chunks), query 2 has one chunk of 8.
        var resumed = Output("resumed");
        using var cts = new CancellationTokenSource();
        var calls = 0;
        var (code, _, stderr) = Run(SampleArgs(resumed), s => new HookScorer(EvalScorers.Model(s), () =>
        {
            if (++calls == 4)
            {
                cts.Cancel();
            }
        }), cts.Token);
        Assert.Equal(EvalCommand.ExitInterrupted, code);
        Assert.Contains("Rerun the same command to resume", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(resumed, "metrics.json")));
        Assert.Equal(3 * Candidates - (Candidates + 8), PairsLeft(resumed));

        // A crash in the middle of a write leaves a cut-short line; it must be dropped, not trusted.
        File.AppendAllText(Path.Combine(resumed, ScoreStore.FileName), "{\"qid\":\"4_finance\",\"query_sha256\":\"ab");

        var pairsScored = 0;
        var second = Run(SampleArgs(resumed), s => new HookScorer(EvalScorers.Model(s), null, n => pairsScored += n));
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains("resuming, 28 of 60 pairs already scored", second.Err, StringComparison.Ordinal);
        Assert.Equal(3 * Candidates - 28, pairsScored);

        Assert.Equal(MetricsJson.Read(Path.Combine(full, "metrics.json")), MetricsJson.Read(Path.Combine(resumed, "metrics.json")));
        Assert.Equal(PerQuery(full), PerQuery(resumed));
        var a = StoredScores.Read(Path.Combine(full, ScoreStore.FileName));
        var b = StoredScores.Read(Path.Combine(resumed, ScoreStore.FileName));
        Assert.Equal(a.DocIds, b.DocIds);
        Assert.All(a.Scores, kv => Assert.Equal(kv.Value, b.Scores[kv.Key]));

        // A finished run recomputes the table from the file and never loads the model.
        var factoryCalls = 0;
        Assert.Equal(0, Run(SampleArgs(resumed), s => { factoryCalls++; return EvalScorers.Model(s); }).Code);
        Assert.Equal(0, factoryCalls);
    }

    [Fact]
    public void RefusesToResumeADifferentRun()
    {
        var output = Output("run");
        Assert.Equal(0, Run(SampleArgs(output)).Code);

        var options = Run(With(SampleArgs(output), "--max-length", "64"));
        Assert.Equal(EvalCommand.ExitFailure, options.Code);
        Assert.Contains("scoring options", options.Err, StringComparison.Ordinal);
        Assert.Contains("--restart", options.Err, StringComparison.Ordinal);

        var data = Run(With(SampleArgs(output), "--seed", "8"));
        Assert.Equal(EvalCommand.ExitFailure, data.Code);
        Assert.Contains("candidate passages", data.Err, StringComparison.Ordinal);

        var model = Run(With(SampleArgs(output), "--model-file", "model_int8.onnx"));
        Assert.Equal(EvalCommand.ExitFailure, model.Code);
        Assert.Contains("the model", model.Err, StringComparison.Ordinal);

        Assert.Equal(0, Run([.. With(SampleArgs(output), "--max-length", "64"), "--restart"]).Code);
    }

    [Fact]
    public void MaxChunksScoresLongPassagesInChunksAndIsPartOfTheRunsIdentity()
    {
        var truncated = Output("truncated");
        var chunked = Output("chunked");
        Assert.Equal(0, Run(SampleArgs(truncated)).Code);
        var (code, _, stderr) = Run(SampleArgs(chunked, "--max-chunks", "3"));
        Assert.True(code == 0, stderr);

        // The stored scores are the chunked model's logits of those pairs, and chunking changed some of them.
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet")).ToDictionary(c => c.DocId, c => c.Contents);
        var stored = StoredScores.Read(Path.Combine(chunked, ScoreStore.FileName));
        var plain = StoredScores.Read(Path.Combine(truncated, ScoreStore.FileName));
        using var model = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions
        {
            MaxLength = 128,
            LongDocuments = new Reranker.Chunking.LongDocumentOptions { Strategy = Reranker.Chunking.LongDocumentStrategy.Chunk, MaxChunksPerDocument = 3 },
        });
        foreach (var q in EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet")))
        {
            Assert.Equal(model.PredictLogits(stored.DocIds.Select(id => (q.Query, corpus[id])).ToList()), stored.Scores[q.Qid]);
            Assert.NotEqual(plain.Scores[q.Qid], stored.Scores[q.Qid]);
        }

        Assert.Contains("\"max_chunks\": 3", File.ReadAllText(Path.Combine(chunked, "metrics.json")), StringComparison.Ordinal);

        // A truncated run is not resumed as a chunked one, nor the reverse.
        Assert.Contains("scoring options", Run(SampleArgs(truncated, "--max-chunks", "3")).Err, StringComparison.Ordinal);
        Assert.Contains("scoring options", Run(SampleArgs(chunked)).Err, StringComparison.Ordinal);
        Assert.Equal(EvalCommand.ExitUsage, Run(SampleArgs(chunked, "--max-chunks", "0")).Code);
    }

    [Fact]
    public void ParquetAndJsonlGiveTheSameResult()
    {
        var parquet = Output("parquet");
        Assert.Equal(0, Run(SampleArgs(parquet)).Code);

        // The same 20 passages and 3 queries as JSONL, so no --corpus-sample is needed.
        var sampleIds = StoredScores.Read(Path.Combine(parquet, ScoreStore.FileName)).DocIds.ToHashSet(StringComparer.Ordinal);
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet")).Where(c => sampleIds.Contains(c.DocId));
        var (qa, corpusJsonl) = EvalTestData.WriteJsonl(_dir, EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet")), corpus);

        var jsonl = Output("jsonl");
        var args = SampleArgs(jsonl);
        args[Array.IndexOf(args, "--qa") + 1] = qa;
        args[Array.IndexOf(args, "--corpus") + 1] = corpusJsonl;
        args[Array.IndexOf(args, "--corpus-sample") + 1] = "1000"; // not below the corpus size: no sampling
        var run = Run(args);
        Assert.True(run.Code == 0, run.Err);

        Assert.Equal(MetricsJson.Read(Path.Combine(parquet, "metrics.json")), MetricsJson.Read(Path.Combine(jsonl, "metrics.json")));
        Assert.Equal(PerQuery(parquet), PerQuery(jsonl));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1,,3")]
    [InlineData("1,three")]
    [InlineData("3,3")]
    [InlineData("-1")]
    public void BadTopKIsAUsageError(string topK)
    {
        var (code, _, stderr) = Run(With(SampleArgs(Output("x")), "--top-k", topK));
        Assert.Equal(EvalCommand.ExitUsage, code);
        Assert.Contains("--top-k", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingRequiredOptionsAreNamed()
    {
        var (code, _, stderr) = Run(["--qa", "x.parquet"]);
        Assert.Equal(EvalCommand.ExitUsage, code);
        Assert.Contains("'--model' is required", stderr, StringComparison.Ordinal);
        Assert.Contains("'--corpus' is required", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("'--qa' is required", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInputFilesFailWithAMessageNamingTheProblem()
    {
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet")).Take(5).ToList();

        // A ground-truth id that is not in the corpus.
        var (qa, corpusJsonl) = EvalTestData.WriteJsonl(_dir, [new QaItem("q1", "질문", [[corpus[0].DocId]]), new QaItem("q2", "질문", [["law - missing.pdf - 1"]])], corpus);
        var unknown = Run(Args(qa, corpusJsonl));
        Assert.Equal(EvalCommand.ExitFailure, unknown.Code);
        Assert.Contains("query 'q2' -> 'law - missing.pdf - 1'", unknown.Err, StringComparison.Ordinal);

        // An empty corpus.
        var empty = Path.Combine(_dir, "empty.jsonl");
        File.WriteAllText(empty, "");
        var noCorpus = Run(Args(qa, empty));
        Assert.Equal(EvalCommand.ExitFailure, noCorpus.Code);
        Assert.Contains("corpus is empty", noCorpus.Err, StringComparison.Ordinal);

        // Missing columns: the corpus file given as the QA file.
        var columns = Run(Args(TestPaths.AutoRag("ocr_corpus_v3.parquet"), TestPaths.AutoRag("ocr_corpus_v3.parquet")));
        Assert.Equal(EvalCommand.ExitFailure, columns.Code);
        Assert.Contains("missing columns 'qid', 'query', 'retrieval_gt'", columns.Err, StringComparison.Ordinal);

        // A model file that is not there.
        var model = Run([.. Args(qa, corpusJsonl), "--model-file", "nope.onnx"]);
        Assert.Equal(EvalCommand.ExitFailure, model.Code);
        Assert.Contains("ONNX model not found", model.Err, StringComparison.Ordinal);
        Assert.Contains("nope.onnx", model.Err, StringComparison.Ordinal);

        string[] Args(string qaPath, string corpusPath) =>
            ["--model", TestPaths.TinyModel, "--qa", qaPath, "--corpus", corpusPath, "--output", Output("bad")];
    }

    private static int PairsLeft(string output)
    {
        var stored = StoredScores.Read(Path.Combine(output, ScoreStore.FileName));
        return (3 * Candidates) - stored.Scores.Values.Sum(s => s.Length);
    }

    private static string PerQuery(string output) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement.GetProperty("per_query").GetRawText();

    /// <summary>Forwards to a scorer and reports each call.</summary>
    private sealed class HookScorer(IPairScorer inner, Action? afterCall, Action<int>? pairs = null) : IPairScorer
    {
        public float[] Score(IReadOnlyList<(string Query, string Document)> batch)
        {
            var scores = inner.Score(batch);
            pairs?.Invoke(batch.Count);
            afterCall?.Invoke();
            return scores;
        }

        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void BertModelInOnnxFolder_Evaluates_AndScoresAsCrossEncoder()
    {
        var output = Output("bert");
        var (code, stdout, stderr) = Run(With(SampleArgs(output), "--model", TestPaths.TinyBert));
        Assert.True(code == 0, stderr);
        Assert.Contains("tiny-bert-reranker", stdout, StringComparison.Ordinal);
        var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement;
        Assert.Equal("onnx/model.onnx", metrics.GetProperty("model_file").GetString());

        // The stored scores are the library's logits for the same pairs.
        var stored = StoredScores.Read(Path.Combine(output, ScoreStore.FileName));
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet")).ToDictionary(c => c.DocId, c => c.Contents);
        var query = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet")).First();
        using var encoder = CrossEncoder.Create(TestPaths.TinyBert, new CrossEncoderOptions { MaxLength = 128 });
        var expected = encoder.PredictLogits(stored.DocIds.Select(d => (query.Query, corpus[d])).ToList());
        Assert.Equal(expected, stored.Scores[query.Qid]);
    }

    [Fact]
    public void Variant_Missing_ListsTheVariants_AndMaxLengthAboveBertsPositionsIsAUsageError()
    {
        var missing = Run([.. With(SampleArgs(Output("variant")), "--model", TestPaths.TinyBert), "--variant", "fp16"]);
        Assert.Equal(EvalCommand.ExitFailure, missing.Code);
        Assert.Contains("'fp16'", missing.Err, StringComparison.Ordinal);
        Assert.Contains("fp32 (model.onnx, the default)", missing.Err, StringComparison.Ordinal);

        // BERT numbers positions from 0: 512 is allowed, 513 is not (XLM-R's offset of 2 would have refused 511).
        var tooLong = Run(With(With(SampleArgs(Output("long")), "--model", TestPaths.TinyBert), "--max-length", "513"));
        Assert.Equal(EvalCommand.ExitUsage, tooLong.Code);
        Assert.Contains("at most 512 tokens", tooLong.Err, StringComparison.Ordinal);

        var both = Run([.. SampleArgs(Output("both")), "--variant", "int8", "--model-file", "model_int8.onnx"]);
        Assert.Equal(EvalCommand.ExitUsage, both.Code);
    }

    /// <summary>scores.jsonl parsed on its own terms, with no code from the command.</summary>
    private sealed record StoredScores(IReadOnlyList<string> DocIds, Dictionary<string, float[]> Scores)
    {
        public static StoredScores Read(string path)
        {
            var lines = File.ReadAllLines(path);
            using var header = JsonDocument.Parse(lines[0]);
            var docIds = header.RootElement.GetProperty("doc_ids").EnumerateArray().Select(e => e.GetString()!).ToList();
            var scores = new Dictionary<string, List<float>>();
            foreach (var line in lines.Skip(1))
            {
                using var record = JsonDocument.Parse(line);
                var qid = record.RootElement.GetProperty("qid").GetString()!;
                var list = scores.TryGetValue(qid, out var l) ? l : scores[qid] = [];
                Assert.Equal(list.Count, record.RootElement.GetProperty("start").GetInt32());
                list.AddRange(record.RootElement.GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()));
            }

            return new StoredScores(docIds, scores.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray()));
        }
    }

    private sealed record MetricsJson(int K, double F1, double Recall, double Precision, int Hits, int Queries)
    {
        public static List<MetricsJson> Read(string path)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.GetProperty("metrics").EnumerateArray().Select(m => new MetricsJson(
                m.GetProperty("k").GetInt32(), m.GetProperty("f1").GetDouble(), m.GetProperty("recall").GetDouble(),
                m.GetProperty("precision").GetDouble(), m.GetProperty("hits").GetInt32(), m.GetProperty("queries").GetInt32())).ToList();
        }
    }
}

/// <summary>The scorer the end-to-end tests run: the bundled tiny model through <see cref="Reranker.CrossEncoder"/>.</summary>
internal static class EvalScorers
{
    public static IPairScorer Model(ScorerSettings settings) => CrossEncoderScorer.Create(settings);
}

/// <summary>The <c>eval</c> verb is wired into <c>reranker</c>'s dispatcher.</summary>
public class EvalDispatchTests
{
    [Fact]
    public void ProgramDispatchesEval()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Assert.Equal(0, Program.Run(["eval", "--help"], stdout, stderr));
        Assert.Contains("reranker eval [options]", stdout.ToString(), StringComparison.Ordinal);

        Assert.Equal(2, Program.Run(["eval", "--frobnicate"], stdout, stderr));
        Assert.Contains("reranker eval: Unrecognized command or argument '--frobnicate'", stderr.ToString(), StringComparison.Ordinal);
    }
}

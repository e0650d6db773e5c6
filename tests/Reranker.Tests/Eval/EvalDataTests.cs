using System.Text.Json;
using System.Text.Json.Serialization;
using Parquet.Serialization;
using Reranker.Cli.Eval;

namespace Reranker.Tests.Eval;

/// <summary>Reading AutoRAG's Parquet files and the JSONL equivalent, validation, and the corpus sample.</summary>
public sealed class EvalDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eval-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReadsTheBundledAutoRagFiles()
    {
        var sample = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet")); // has no 'index' column
        Assert.Equal(["80_law", "4_finance", "40_public"], sample.Select(q => q.Qid));
        Assert.All(sample, q => Assert.Single(Assert.Single(q.RetrievalGt)));

        var qa = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_v4.parquet"));
        Assert.Equal(114, qa.Count);
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet"));
        Assert.Equal(720, corpus.Count);

        // Ids keep their double spaces, and every ground-truth id resolves byte-exactly.
        Assert.Contains(corpus, c => c.DocId.Contains("  ", StringComparison.Ordinal));
        var data = EvalDataset.Create(qa, corpus);
        Assert.Equal((114, 720, 0), (data.Queries.Count, data.Corpus.Count, data.SkippedQueries));
    }

    [Fact]
    public void JsonlReadsTheSameAsParquet()
    {
        var qa = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet"));
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet"));
        var (qaJsonl, corpusJsonl) = EvalTestData.WriteJsonl(_dir, qa, corpus);

        var qa2 = EvalDataReader.ReadQa(qaJsonl);
        var corpus2 = EvalDataReader.ReadCorpus(corpusJsonl);
        Assert.Equal(qa.Select(q => (q.Qid, q.Query)), qa2.Select(q => (q.Qid, q.Query)));
        Assert.Equal(qa.Select(q => q.RetrievalGt.Single().Single()), qa2.Select(q => q.RetrievalGt.Single().Single()));
        Assert.Equal(corpus, corpus2);
    }

    [Fact]
    public async Task MissingParquetColumnIsNamed()
    {
        var path = Path.Combine(_dir, "qa.parquet");
        await ParquetSerializer.SerializeAsync(new[] { new QaWithoutGt { Qid = "q1", Query = "x" } }, path);
        var ex = Assert.Throws<EvalInputException>(() => EvalDataReader.ReadQa(path));
        Assert.Contains("missing column 'retrieval_gt'", ex.Message, StringComparison.Ordinal);

        var corpusPath = Path.Combine(_dir, "corpus.parquet");
        await ParquetSerializer.SerializeAsync(new[] { new QaWithoutGt { Qid = "q1", Query = "x" } }, corpusPath);
        ex = Assert.Throws<EvalInputException>(() => EvalDataReader.ReadCorpus(corpusPath));
        Assert.Contains("missing columns 'doc_id', 'contents'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlatRetrievalGtIsRejectedWithTheExpectedShape()
    {
        var path = Path.Combine(_dir, "qa.parquet");
        await ParquetSerializer.SerializeAsync(new[] { new QaFlatGt { Qid = "q1", Query = "x", RetrievalGt = ["d1"] } }, path);
        var ex = Assert.Throws<EvalInputException>(() => EvalDataReader.ReadQa(path));
        Assert.Contains("'retrieval_gt' must be list<list<string>>", ex.Message, StringComparison.Ordinal);
        Assert.Contains("found list<string>", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"qid\":\"q1\",\"query\":\"x\"}", "line 1: missing 'retrieval_gt'")]
    [InlineData("{\"qid\":\"q1\",\"query\":\"x\",\"retrieval_gt\":[\"d1\"]}", "line 1: 'retrieval_gt' must be an array of arrays")]
    [InlineData("{\"qid\":1,\"query\":\"x\",\"retrieval_gt\":[[\"d1\"]]}", "line 1: 'qid' must be a string")]
    [InlineData("\n{\"qid\":\"q1\",", "line 2: not valid JSON")]
    public void BadJsonlLinesAreReportedWithTheirLineNumber(string content, string expected)
    {
        var path = Path.Combine(_dir, "qa.jsonl");
        File.WriteAllText(path, content);
        var ex = Assert.Throws<EvalInputException>(() => EvalDataReader.ReadQa(path));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownExtensionAndMissingFileAreReported()
    {
        var csv = Path.Combine(_dir, "qa.csv");
        File.WriteAllText(csv, "qid,query");
        Assert.Contains("unknown format '.csv'", Assert.Throws<EvalInputException>(() => EvalDataReader.ReadQa(csv)).Message, StringComparison.Ordinal);
        Assert.Contains("file not found", Assert.Throws<EvalInputException>(() => EvalDataReader.ReadCorpus(Path.Combine(_dir, "nope.parquet"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidationNamesTheProblem()
    {
        List<CorpusItem> corpus = [new("d1", "a"), new("d2", "b")];
        List<QaItem> qa = [new("q1", "x", [["d1"]])];

        Assert.Contains("corpus is empty", Assert.Throws<EvalInputException>(() => EvalDataset.Create(qa, [])).Message, StringComparison.Ordinal);
        Assert.Contains("no queries", Assert.Throws<EvalInputException>(() => EvalDataset.Create([], corpus)).Message, StringComparison.Ordinal);

        var unknown = Assert.Throws<EvalInputException>(() => EvalDataset.Create([new("q1", "x", [["d1"]]), new("q2", "y", [["d 2"]])], corpus));
        Assert.Contains("query 'q2' -> 'd 2'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("not in the corpus", unknown.Message, StringComparison.Ordinal);

        Assert.Contains("duplicate doc_id 'd1'", Assert.Throws<EvalInputException>(() => EvalDataset.Create(qa, [.. corpus, new("d1", "c")])).Message, StringComparison.Ordinal);
        Assert.Contains("duplicate qid 'q1'", Assert.Throws<EvalInputException>(() => EvalDataset.Create([.. qa, .. qa], corpus)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QueriesWithEmptyGroundTruthAreSkippedLikeAutoRag()
    {
        List<CorpusItem> corpus = [new("d1", "a"), new("d2", "b")];
        var data = EvalDataset.Create([new("q1", "x", [["d1"]]), new("q2", "y", [[]]), new("q3", "z", [])], corpus);
        Assert.Equal(["q1"], data.Queries.Select(q => q.Qid));
        Assert.Equal(2, data.SkippedQueries);
    }

    [Fact]
    public void CorpusSampleKeepsGroundTruthAndIsSeeded()
    {
        var qa = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_sample.parquet"));
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet"));
        var a = EvalDataset.Create(qa, corpus, corpusSample: 20, seed: 7);
        var b = EvalDataset.Create(qa, corpus, corpusSample: 20, seed: 7);
        var c = EvalDataset.Create(qa, corpus, corpusSample: 20, seed: 8);

        Assert.Equal(20, a.Corpus.Count);
        Assert.Equal(a.Corpus, b.Corpus);
        Assert.NotEqual(a.Corpus, c.Corpus);
        var ids = a.Corpus.Select(x => x.DocId).ToHashSet(StringComparer.Ordinal);
        Assert.All(qa, q => Assert.Contains(q.RetrievalGt.Single().Single(), ids));

        // Sample keeps corpus order, so ties still break by corpus order.
        var positions = a.Corpus.Select(x => corpus.ToList().IndexOf(x)).ToList();
        Assert.Equal(positions.Order(), positions);

        Assert.Contains("smaller than the 3 ground-truth passages",
            Assert.Throws<EvalInputException>(() => EvalDataset.Create(qa, corpus, corpusSample: 2)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QueryLimitTakesTheFirstRows()
    {
        var qa = EvalDataReader.ReadQa(TestPaths.AutoRag("qa_v4.parquet"));
        var corpus = EvalDataReader.ReadCorpus(TestPaths.AutoRag("ocr_corpus_v3.parquet"));
        var data = EvalDataset.Create(qa, corpus, maxQueries: 5);
        Assert.Equal(qa.Take(5).Select(q => q.Qid), data.Queries.Select(q => q.Qid));
    }

    private sealed class QaWithoutGt
    {
        [JsonPropertyName("qid")]
        public string Qid { get; set; } = "";

        [JsonPropertyName("query")]
        public string Query { get; set; } = "";
    }

    private sealed class QaFlatGt
    {
        [JsonPropertyName("qid")]
        public string Qid { get; set; } = "";

        [JsonPropertyName("query")]
        public string Query { get; set; } = "";

        [JsonPropertyName("retrieval_gt")]
        public List<string> RetrievalGt { get; set; } = [];
    }
}

/// <summary>Writes test inputs.</summary>
internal static class EvalTestData
{
    /// <summary>Writes QA and corpus rows as the documented JSONL schema.</summary>
    public static (string Qa, string Corpus) WriteJsonl(string dir, IEnumerable<QaItem> qa, IEnumerable<CorpusItem> corpus)
    {
        var qaPath = Path.Combine(dir, "qa.jsonl");
        var corpusPath = Path.Combine(dir, "corpus.jsonl");
        File.WriteAllLines(qaPath, qa.Select(q => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["qid"] = q.Qid,
            ["query"] = q.Query,
            ["retrieval_gt"] = q.RetrievalGt,
        })));
        File.WriteAllLines(corpusPath, corpus.Select(c => JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["doc_id"] = c.DocId,
            ["contents"] = c.Contents,
        })));
        return (qaPath, corpusPath);
    }
}

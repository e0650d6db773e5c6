using Reranker.Cli.Eval;

namespace Reranker.Tests.Eval;

/// <summary>AutoRAG's recall/precision/F1 against cases worked out by hand.</summary>
public class RetrievalMetricsTests
{
    private static IReadOnlyList<IReadOnlyList<string>> Gt(params string[][] groups) => groups;

    private static void AssertScores(RetrievalScores? actual, double recall, double precision, double f1)
    {
        Assert.NotNull(actual);
        Assert.Equal(recall, actual.Value.Recall, 12);
        Assert.Equal(precision, actual.Value.Precision, 12);
        Assert.Equal(f1, actual.Value.F1, 12);
    }

    [Fact]
    public void AutoRagDocumentationExample()
    {
        // G = [[t1, t2], [t3]], P = [t1, p1, t2, p3]: group 1 hit, group 2 missed -> R = 1/2;
        // t1 and t2 are relevant -> P = 2/4; F1 = 2 * 0.5 * 0.5 / 1 = 0.5.
        AssertScores(RetrievalMetrics.Compute(Gt(["t1", "t2"], ["t3"]), ["t1", "p1", "t2", "p3"]), 0.5, 0.5, 0.5);
    }

    [Fact]
    public void TwoIdsOfOneGroupCountOnceForRecallButTwiceForPrecision()
    {
        // G = [[a, b]], P = [a, b, x]: R = 1/1, P = 2/3, F1 = 2 * 1 * 2/3 / (5/3) = 4/5.
        AssertScores(RetrievalMetrics.Compute(Gt(["a", "b"]), ["a", "b", "x"]), 1.0, 2.0 / 3, 0.8);
    }

    [Fact]
    public void SeveralGroupsPartlyFound()
    {
        // G = [[a], [b], [c]], P = [c, x, a]: groups a and c hit -> R = 2/3; relevant a, c -> P = 2/3; F1 = 2/3.
        AssertScores(RetrievalMetrics.Compute(Gt(["a"], ["b"], ["c"]), ["c", "x", "a"]), 2.0 / 3, 2.0 / 3, 2.0 / 3);
    }

    [Fact]
    public void DuplicateRetrievedIdCountsOnceAboveTheLineAndEachTimeBelowIt()
    {
        // G = [[a]], P = [a, a, x]: distinct relevant ids {a} = 1, list length 3 -> P = 1/3; R = 1; F1 = (2/3)/(4/3) = 1/2.
        AssertScores(RetrievalMetrics.Compute(Gt(["a"]), ["a", "a", "x"]), 1.0, 1.0 / 3, 0.5);

        // Duplicates of an irrelevant id only lengthen the list: G = [[a]], P = [a, x, x, x] -> P = 1/4, F1 = (1/2)/(5/4) = 2/5.
        AssertScores(RetrievalMetrics.Compute(Gt(["a"]), ["a", "x", "x", "x"]), 1.0, 0.25, 0.4);
    }

    [Fact]
    public void ZeroHitsGiveZeroesNotNaN()
    {
        AssertScores(RetrievalMetrics.Compute(Gt(["a"], ["b"]), ["x", "y", "z"]), 0, 0, 0);
    }

    [Fact]
    public void IdsAreComparedByteExactly()
    {
        // A double space is part of the id; a single-space look-alike is another id.
        AssertScores(RetrievalMetrics.Compute(Gt(["law -  2024 세금.pdf - 3"]), ["law - 2024 세금.pdf - 3"]), 0, 0, 0);
        AssertScores(RetrievalMetrics.Compute(Gt(["law -  2024 세금.pdf - 3"]), ["law -  2024 세금.pdf - 3"]), 1, 1, 1);
        AssertScores(RetrievalMetrics.Compute(Gt(["Doc"]), ["doc"]), 0, 0, 0);
    }

    [Fact]
    public void QueriesAutoRagCannotScoreGiveNull()
    {
        Assert.Null(RetrievalMetrics.Compute(Gt(), ["a"]));
        Assert.Null(RetrievalMetrics.Compute(Gt([]), ["a"]));
        Assert.Null(RetrievalMetrics.Compute(Gt(["a"], [" "]), ["a"]));
        Assert.Null(RetrievalMetrics.Compute(Gt(["a"]), []));
    }

    [Fact]
    public void RankingIsDescendingAndStableOnTies()
    {
        Assert.Equal([1, 0, 3, 2], Ranking.Descending([0.5f, 0.9f, 0.1f, 0.5f]));
        Assert.Equal([0, 1, 2], Ranking.Descending([1f, 1f, 1f]));
        Assert.Equal([1, 2, 0], Ranking.Descending([float.NaN, 2f, -3f]));
    }

    /// <summary>
    /// Every character CPython's <c>str.isspace()</c> accepts (so <c>str.strip()</c> removes), which is how AutoRAG's
    /// <c>MetricInput</c> tells a blank id: <c>len(item.strip()) == 0</c>. It holds U+001C..U+001F, which
    /// <see cref="char.IsWhiteSpace(char)"/> does not.
    /// </summary>
    public static TheoryData<int> PythonWhiteSpace() =>
    [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
        0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ];

    [Theory]
    [MemberData(nameof(PythonWhiteSpace))]
    public void An_id_AutoRAG_strips_to_nothing_is_blank_in_the_corpus_and_in_the_ground_truth(int codePoint)
    {
        var blank = new string((char)codePoint, 2);

        // Retrieved: every query whose top k holds it is left out (None), as AutoRAG does.
        Assert.Null(RetrievalMetrics.Compute(Gt(["d0"]), ["d0", blank]));
        var data = EvalDataset.Create(
            [new QaItem("q1", "query 1", [["d0"]])],
            [new CorpusItem("d0", "a"), new CorpusItem(blank, "blank id")]);
        var report = EvalReport.Compute(data, [[0.9f, 0.1f]], [1, 2]);
        Assert.Equal(new MetricRow(1, 1.0, 1.0, 1.0, 1, 1), report.Rows[0]);
        Assert.Equal(new MetricRow(2, null, null, null, 0, 0), report.Rows[1]);

        // Ground truth: the query is left out.
        Assert.False(RetrievalMetrics.IsEvaluable(Gt(["d0", blank])));
    }

    [Theory]
    [InlineData("\u200B")] // ZERO WIDTH SPACE: not white space for Python or .NET
    [InlineData("\uFEFF")]
    [InlineData("\u180E")]
    [InlineData(" x ")]
    public void An_id_with_anything_but_white_space_is_an_id(string id)
    {
        AssertScores(RetrievalMetrics.Compute(Gt([id]), [id]), 1, 1, 1);
    }
}

/// <summary>The per-k averages of <see cref="EvalReport"/>, including k beyond the number of candidates.</summary>
public class EvalReportTests
{
    private static EvalDataset Dataset(int corpusSize, params (string Qid, string[][] Gt)[] queries) =>
        EvalDataset.Create(
            queries.Select(q => new QaItem(q.Qid, "query " + q.Qid, q.Gt)).ToList(),
            Enumerable.Range(0, corpusSize).Select(i => new CorpusItem("d" + i, "text " + i)).ToList());

    [Fact]
    public void MeansAreTakenPerQueryOverEveryK()
    {
        // Corpus d0..d3. q1's gold d2 ranks 1st; q2's gold d0 ranks 3rd (scores: d3 > d1 > d0 > d2).
        var data = Dataset(4, ("q1", [["d2"]]), ("q2", [["d0"]]));
        float[][] scores = [[0.1f, 0.2f, 0.9f, 0.3f], [0.5f, 0.6f, 0.4f, 0.7f]];
        var report = EvalReport.Compute(data, scores, [1, 3, 10]);

        // k=1: q1 R=P=F1=1, q2 all 0 -> means 0.5.
        Assert.Equal(new MetricRow(1, 0.5, 0.5, 0.5, 1, 2), report.Rows[0]);

        // k=3: q1 R=1 P=1/3 F1=1/2; q2 R=1 P=1/3 F1=1/2 -> R=1, P=1/3, F1=1/2.
        var k3 = report.Rows[1];
        Assert.Equal((3, 2, 2), (k3.K, k3.Hits, k3.Queries));
        Assert.Equal(1.0, k3.Recall!.Value, 12);
        Assert.Equal(1.0 / 3, k3.Precision!.Value, 12);
        Assert.Equal(0.5, k3.F1!.Value, 12);

        // k=10 > 4 candidates: the list is all 4, so P = 1/4 (not 1/10); F1 = 2 * 1/4 / (5/4) = 2/5.
        var k10 = report.Rows[2];
        Assert.Equal(1.0, k10.Recall!.Value, 12);
        Assert.Equal(0.25, k10.Precision!.Value, 12);
        Assert.Equal(0.4, k10.F1!.Value, 12);

        Assert.Equal(1, report.PerQuery[0].FirstRelevantRank);
        Assert.Equal(3, report.PerQuery[1].FirstRelevantRank);
        Assert.Equal(["d3", "d1", "d0", "d2"], report.PerQuery[1].Top);
    }

    [Fact]
    public void AKWhereNoQueryCanBeScoredIsNotANumberNotZero()
    {
        // A blank doc id (AutoRAG leaves such a retrieved list unscored) ranked last: k=1 and k=2 are scored, k=3
        // holds the blank id for both queries, so AutoRAG's mean there is NaN.
        var data = EvalDataset.Create(
            [new QaItem("q1", "query 1", [["d0"]]), new QaItem("q2", "query 2", [["d1"]])],
            [new CorpusItem("d0", "a"), new CorpusItem("d1", "b"), new CorpusItem(" ", "blank id")]);
        float[][] scores = [[0.9f, 0.5f, 0.1f], [0.4f, 0.8f, 0.1f]];
        var report = EvalReport.Compute(data, scores, [1, 3]);

        Assert.Equal(new MetricRow(1, 1.0, 1.0, 1.0, 2, 2), report.Rows[0]);
        Assert.Equal(new MetricRow(3, null, null, null, 0, 0), report.Rows[1]);
        var table = report.FormatTable("m");
        Assert.Contains("| m | 1.0000 | 1.0000 | 1.0000 |\nhits@1: 2/2\n", table, StringComparison.Ordinal);
        Assert.Contains("| m | n/a | n/a | n/a |\nhits@3: n/a", table, StringComparison.Ordinal);
        Assert.DoesNotContain("0/0", table, StringComparison.Ordinal);
        Assert.DoesNotContain("0.0000", table, StringComparison.Ordinal);
    }

    [Fact]
    public void OracleAndWorstScorersGiveTheResearchNoteSanityValues()
    {
        var data = Dataset(10, ("a", [["d1"]]), ("b", [["d7"]]), ("c", [["d4"]]));
        var golds = new[] { 1, 7, 4 };
        var oracle = golds.Select(g => Enumerable.Range(0, 10).Select(i => i == g ? 1f : 0f).ToArray()).ToList();
        var worst = golds.Select(g => Enumerable.Range(0, 10).Select(i => i == g ? -1f : 0f).ToArray()).ToList();

        var best = EvalReport.Compute(data, oracle, [1, 3]);
        Assert.Equal(((double?)1.0, (double?)1.0, (double?)1.0), (best.Rows[0].F1, best.Rows[0].Recall, best.Rows[0].Precision));
        Assert.Equal(1.0, best.Rows[1].Recall!.Value, 12);
        Assert.Equal(1.0 / 3, best.Rows[1].Precision!.Value, 12);
        Assert.Equal(0.5, best.Rows[1].F1!.Value, 12);

        var bad = EvalReport.Compute(data, worst, [1, 3]);
        Assert.All(bad.Rows, r => Assert.Equal(((double?)0.0, (double?)0.0, (double?)0.0, 0), (r.F1, r.Recall, r.Precision, r.Hits)));
    }

    [Fact]
    public void TableFollowsTheModelCardLayout()
    {
        var report = new EvalReport([new MetricRow(1, 0.912281, 0.912281, 0.912281, 104, 114)], []);
        var table = report.FormatTable("bge-reranker-v2-m3-ko");
        Assert.Contains("Top-k 1\n| Model | F1 | Recall | Precision |\n", table, StringComparison.Ordinal);
        Assert.Contains("| bge-reranker-v2-m3-ko | 0.9123 | 0.9123 | 0.9123 |", table, StringComparison.Ordinal);
        Assert.Contains("hits@1: 104/114", table, StringComparison.Ordinal);
    }
}

using System.Globalization;
using System.Text;

namespace Reranker.Cli.Eval;

/// <summary>Mean metrics at one cut-off k.</summary>
/// <param name="K">The cut-off.</param>
/// <param name="F1">Mean of the per-query F1; <see langword="null"/> when no query could be scored at this k.</param>
/// <param name="Recall">Mean of the per-query recall; <see langword="null"/> when no query could be scored at this k.</param>
/// <param name="Precision">Mean of the per-query precision; <see langword="null"/> when no query could be scored at this k.</param>
/// <param name="Hits">Queries with at least one ground-truth id in their top k.</param>
/// <param name="Queries">Queries averaged over: those AutoRAG scores at this k (a blank id in the top k leaves a query out).</param>
/// <remarks>
/// When every query is left out at some k, AutoRAG's mean is NaN: the table prints <c>n/a</c> and metrics.json
/// <c>null</c>, never a 0 that would read as a measured miss.
/// </remarks>
internal sealed record MetricRow(int K, double? F1, double? Recall, double? Precision, int Hits, int Queries);

/// <summary>Where one query's ground truth landed.</summary>
/// <param name="Qid">The query id.</param>
/// <param name="FirstRelevantRank">1-based rank of the best-ranked ground-truth passage.</param>
/// <param name="Top">The top-ranked doc ids, as many as the largest k.</param>
internal sealed record QueryResult(string Qid, int FirstRelevantRank, IReadOnlyList<string> Top);

/// <summary>The metrics table of an evaluation, computed from the scores of every (query, candidate) pair.</summary>
internal sealed record EvalReport(IReadOnlyList<MetricRow> Rows, IReadOnlyList<QueryResult> PerQuery)
{
    /// <summary>Ranks every query's candidates by score and averages AutoRAG's metrics over queries for each k.</summary>
    /// <param name="data">The queries and candidates that were scored.</param>
    /// <param name="scores">One array a query (same order as <see cref="EvalDataset.Queries"/>), one score a candidate.</param>
    /// <param name="topK">The cut-offs, ascending.</param>
    public static EvalReport Compute(EvalDataset data, IReadOnlyList<float[]> scores, IReadOnlyList<int> topK)
    {
        var sums = new (double F1, double Recall, double Precision, int Hits, int Queries)[topK.Count];
        var perQuery = new List<QueryResult>(data.Queries.Count);
        var maxK = topK.Max();
        for (var q = 0; q < data.Queries.Count; q++)
        {
            var query = data.Queries[q];
            var ranked = Ranking.Descending(scores[q]).Select(i => data.Corpus[i].DocId).ToArray();
            for (var j = 0; j < topK.Count; j++)
            {
                var retrieved = ranked.AsSpan(0, Math.Min(topK[j], ranked.Length)).ToArray();
                if (RetrievalMetrics.Compute(query.RetrievalGt, retrieved) is { } m)
                {
                    sums[j] = (sums[j].F1 + m.F1, sums[j].Recall + m.Recall, sums[j].Precision + m.Precision,
                        sums[j].Hits + (m.Recall > 0 ? 1 : 0), sums[j].Queries + 1);
                }
            }

            var relevant = query.RetrievalGt.SelectMany(g => g).ToHashSet(StringComparer.Ordinal);
            var first = Array.FindIndex(ranked, relevant.Contains) + 1;
            perQuery.Add(new QueryResult(query.Qid, first, ranked.Take(maxK).ToArray()));
        }

        var rows = topK.Select((k, j) => sums[j].Queries == 0
            ? new MetricRow(k, null, null, null, 0, 0)
            : new MetricRow(k, sums[j].F1 / sums[j].Queries, sums[j].Recall / sums[j].Queries, sums[j].Precision / sums[j].Queries,
                sums[j].Hits, sums[j].Queries)).ToList();
        return new EvalReport(rows, perQuery);
    }

    /// <summary>The table in the model card's layout: one block per k, columns F1 | Recall | Precision, 4 decimals.</summary>
    public string FormatTable(string modelName)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        foreach (var row in Rows)
        {
            sb.Append(inv, $"Top-k {row.K}\n");
            sb.Append("| Model | F1 | Recall | Precision |\n");
            sb.Append("|---|---|---|---|\n");
            sb.Append(inv, $"| {modelName} | {Cell(row.F1)} | {Cell(row.Recall)} | {Cell(row.Precision)} |\n");
            sb.Append(row.Queries == 0
                ? string.Create(inv, $"hits@{row.K}: n/a (no query could be scored at k={row.K}: a blank doc id is in every top {row.K})\n\n")
                : string.Create(inv, $"hits@{row.K}: {row.Hits}/{row.Queries}\n\n"));
        }

        return sb.ToString();

        static string Cell(double? value) => value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "n/a";
    }
}

/// <summary>Orders candidates by score.</summary>
internal static class Ranking
{
    /// <summary>
    /// Candidate indices by descending score; equal scores keep corpus order (a stable sort), NaN ranks last.
    /// </summary>
    public static int[] Descending(IReadOnlyList<float> scores)
    {
        var order = Enumerable.Range(0, scores.Count).ToArray();
        Array.Sort(order, (a, b) =>
        {
            var byScore = scores[b].CompareTo(scores[a]); // float.CompareTo puts NaN below every number
            return byScore != 0 ? byScore : a.CompareTo(b);
        });
        return order;
    }
}

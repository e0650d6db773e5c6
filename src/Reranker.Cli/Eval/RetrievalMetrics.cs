namespace Reranker.Cli.Eval;

/// <summary>Recall, precision and F1 of one query's retrieved list (AutoRAG's definitions).</summary>
internal readonly record struct RetrievalScores(double Recall, double Precision, double F1);

/// <summary>
/// AutoRAG's <c>retrieval_recall</c>, <c>retrieval_precision</c> and <c>retrieval_f1</c>, reimplemented from their
/// definitions (AutoRAG 0.2.x/0.3.x, <c>autorag/evaluation/metric/retrieval.py</c>).
/// </summary>
/// <remarks>
/// <para>Ground truth is a list of groups: every group should be found (AND), any id of a group finds it (OR).</para>
/// <list type="bullet">
/// <item>recall = groups with at least one id among the retrieved ids, over the number of groups;</item>
/// <item>precision = distinct retrieved ids that belong to any group, over the length of the retrieved list
/// (so a duplicate counts once above the line and every time below it);</item>
/// <item>F1 = 2PR/(P+R), and 0 when P+R = 0.</item>
/// </list>
/// <para>
/// The retrieved list at cut-off k is the first k ranked ids; when k exceeds the number of candidates the list is
/// all of them and precision divides by that shorter length, as AutoRAG divides by the list it was given.
/// A query whose ground truth is empty or holds a blank id (<see cref="IsBlank"/>), or whose retrieved list is empty or holds a blank id, has no score
/// (AutoRAG's None) and is left out of the mean. Ids are compared ordinally (byte-exact).
/// </para>
/// </remarks>
internal static class RetrievalMetrics
{
    /// <summary>Whether AutoRAG would score a query with this ground truth (non-empty, no empty group, no blank id).</summary>
    public static bool IsEvaluable(IReadOnlyList<IReadOnlyList<string>> groundTruth) =>
        groundTruth.Count > 0 && groundTruth.All(g => g.Count > 0 && g.All(id => !IsBlank(id)));

    /// <summary>
    /// Whether AutoRAG takes an id for missing: <c>len(id.strip()) == 0</c> in Python, so empty or only characters
    /// that Python's <c>str.isspace()</c> accepts. That is <see cref="char.IsWhiteSpace(char)"/> plus the information
    /// separators U+001C..U+001F, which Python strips and .NET does not call white space.
    /// </summary>
    public static bool IsBlank(string? id)
    {
        if (id is null)
        {
            return true;
        }

        foreach (var c in id)
        {
            if (!char.IsWhiteSpace(c) && c is not (>= '\u001C' and <= '\u001F'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Scores one query; <see langword="null"/> where AutoRAG gives None.</summary>
    public static RetrievalScores? Compute(IReadOnlyList<IReadOnlyList<string>> groundTruth, IReadOnlyList<string> retrieved)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(retrieved);
        if (!IsEvaluable(groundTruth) || retrieved.Count == 0 || retrieved.Any(IsBlank))
        {
            return null;
        }

        var retrievedSet = new HashSet<string>(retrieved, StringComparer.Ordinal);
        var groupsHit = groundTruth.Count(g => g.Any(retrievedSet.Contains));
        var recall = (double)groupsHit / groundTruth.Count;

        var relevant = new HashSet<string>(groundTruth.SelectMany(g => g), StringComparer.Ordinal);
        var relevantRetrieved = retrievedSet.Count(relevant.Contains);
        var precision = (double)relevantRetrieved / retrieved.Count;

        var f1 = recall + precision == 0 ? 0 : 2 * recall * precision / (recall + precision);
        return new RetrievalScores(recall, precision, f1);
    }
}

namespace Reranker.Benchmarks;

internal static class Stats
{
    /// <summary>Percentile by linear interpolation between closest ranks (p in [0, 100]).</summary>
    public static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = p / 100.0 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (rank - lo));
    }

    public static double Median(IEnumerable<double> values) => Percentile(values, 50);

    public static float Logit(float score) => (float)Math.Log(score / (1.0 - score));

    public static double MaxAbsDiff(IReadOnlyList<float> a, IReadOnlyList<float> b)
    {
        double max = 0;
        for (var i = 0; i < a.Count; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }

    public static float Sigmoid(float x) => (float)(1.0 / (1.0 + Math.Exp(-x)));
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace Reranker.Server.Tests;

/// <summary>Reads samples out of a Prometheus text exposition (what <c>GET /metrics</c> answers).</summary>
internal static class PrometheusText
{
    /// <summary>The one sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/> (<c>outcome="success"</c>).</summary>
    public static double Value(string metrics, string name, params string[] labels)
    {
        var samples = Samples(metrics, name).Where(s => labels.All(l => s.Labels.Contains(l, StringComparison.Ordinal))).ToArray();
        Assert.True(samples.Length == 1, $"{samples.Length} samples of {name} with {string.Join(',', labels)} in:\n{metrics}");
        return samples[0].Value;
    }

    /// <summary>The sample as <see cref="Value"/> finds it, or 0 when there is none (a counter never incremented is not exported).</summary>
    public static double ValueOrZero(string metrics, string name, params string[] labels) =>
        Samples(metrics, name).Where(s => labels.All(l => s.Labels.Contains(l, StringComparison.Ordinal))).Sum(s => s.Value);

    public static double Sum(string metrics, string name) => Samples(metrics, name).Sum(s => s.Value);

    public static IEnumerable<(string Labels, double Value)> Samples(string metrics, string name) =>
        metrics.Split('\n')
            .Select(line => Regex.Match(line, "^" + Regex.Escape(name) + @"(\{[^}]*\})? (\S+)"))
            .Where(m => m.Success)
            .Select(m => (m.Groups[1].Value, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)));
}

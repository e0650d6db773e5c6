using System.Globalization;
using Xunit.Abstractions;

namespace Reranker.Tests.Support;

/// <summary>Compares logits row by row, writes the largest difference to the test output and fails on the worst row.</summary>
internal static class LogitAssert
{
    public static void Close(ITestOutputHelper output, IReadOnlyList<double> expected, IReadOnlyList<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        var worst = 0;
        var maxDiff = 0.0;
        for (var i = 0; i < expected.Count; i++)
        {
            var diff = Math.Abs(expected[i] - actual[i]);
            if (double.IsNaN(diff) || diff > maxDiff)
            {
                maxDiff = double.IsNaN(diff) ? double.PositiveInfinity : diff;
                worst = i;
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: max |diff| {maxDiff:E3} at row {worst} over {expected.Count} rows"));
        Assert.True(
            maxDiff <= tolerance,
            string.Create(CultureInfo.InvariantCulture, $"{what}: row {worst} expected {expected[worst]} got {actual[worst]} (|diff| {maxDiff:E3} > {tolerance})"));
    }
}

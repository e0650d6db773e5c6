using System.Diagnostics;

namespace Reranker.Tests;

/// <summary>
/// Dispose while sync and async callers score: in child processes (Reranker.DisposeProbe), because the failure this
/// guards against is a native crash (SIGSEGV/SIGABRT inside ONNX Runtime) that would take the test host down with it.
/// Each process runs several rounds of callers on every public path, disposes at a random moment and checks that every
/// caller ends (result, ObjectDisposedException, or its own cancellation) within a bound.
/// </summary>
[Collection(nameof(Support.LongSequenceCollection))]
public sealed class DisposeWhileScoringTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Dispose_at_random_moments_never_crashes_or_strands_a_caller(int seed)
    {
        // The probe runs from its own build output, with its own deps.json beside its dependencies: the copy in this
        // test folder has no Microsoft.Extensions.Logging.Abstractions.dll, which the tests take from the ASP.NET Core
        // shared framework (through the CLI's server), a framework the probe does not run on.
        var probe = Path.Combine(
            AppContext.BaseDirectory.Replace(
                $"{Path.DirectorySeparatorChar}Reranker.Tests{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}",
                $"{Path.DirectorySeparatorChar}Reranker.DisposeProbe{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}",
                StringComparison.Ordinal),
            "Reranker.DisposeProbe.dll");
        Assert.True(File.Exists(probe), "missing " + probe);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(TestPaths.TinyModel);
        start.ArgumentList.Add("10");
        start.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The probe did not finish within 150 s: a caller or Dispose hangs.");
        }

        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"probe exit code {process.ExitCode} (139 = SIGSEGV, 134 = SIGABRT, 3 = stranded caller, 2 = undocumented exception):\n{output}");
        Assert.Contains("ok: 10 rounds", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_call_in_flight_when_Dispose_runs_throws_ObjectDisposedException_and_later_calls_too()
    {
        // In-process and deterministic: Dispose runs right before the call's model run (the test seam), as a host
        // shutting down would between two batches.
        var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        encoder.BeforeModelRun = encoder.Dispose;
        using var cts = new CancellationTokenSource();
        var e = await Assert.ThrowsAsync<ObjectDisposedException>(() => encoder.RankAsync("질문", ["문서 하나", "문서 둘"], cancellationToken: cts.Token));
        Assert.Contains("disposed", e.Message, StringComparison.Ordinal);

        Assert.Throws<ObjectDisposedException>(() => encoder.Predict([("q", "d")]));
        Assert.Throws<ObjectDisposedException>(() => encoder.Rank("q", ["d"]));
        Assert.Throws<ObjectDisposedException>(() => encoder.EncodePair("q", "d"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => encoder.PredictAsync([("q", "d")]));
        encoder.Dispose();
    }
}

using System.Diagnostics;
using Reranker.Inference;

namespace Reranker.Tests;

/// <summary>Memory a long run leaves behind. Alone in its collection: it reads the whole process's resident set.</summary>
[Collection(nameof(MemoryCollection))]
public class MemoryTests
{
    [Fact]
    public void LongRun_GivesItsActivationMemoryBack()
    {
        // 8192 tokens on the tiny model as exported (unfused attention): a few GB of attention activations, which
        // ONNX Runtime's arena would keep. (With the default attention rewrite the run needs little memory at all:
        // One_8192_token_pair_peaks_far_below_the_unfused_graph.)
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 8192, RewriteAttention = false });
        var document = string.Concat(Enumerable.Repeat("머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다. Cross-encoders read both texts at once. ", 1200));
        Assert.True(encoder.EncodePair("질문", document).InputIds.Length >= LogitSession.ShrinkArenaFromLength * 4);
        encoder.Predict([("질문", "짧은 문서")]);
        var before = ResidentBytes();

        encoder.Predict([("질문", document)]);
        encoder.Predict([("질문", document)]);

        var grown = ResidentBytes() - before;
        Assert.True(grown < 1L << 30, $"the process kept {grown / (1 << 20)} MB after two 8192-token runs");
    }

    /// <summary>
    /// Peak resident set of a fresh process that loads the tiny model and scores one 8192-token pair (warm-up plus one
    /// timed run), read from its own VmHWM. The bound is set from measurement: 120 MiB with the rewritten attention
    /// (of which about 85 MiB is the runtime and the session) against 5.4 GB as exported, on the 2-core development
    /// machine (docs/EXPORT.md); 512 MiB leaves room for other runtimes and allocators, and the run as exported must
    /// exceed it, so the bound measures the attention and not the process.
    /// </summary>
    [Fact]
    public void One_8192_token_pair_peaks_far_below_the_unfused_graph()
    {
        const double BoundMib = 512;
        var rewritten = LongPairInChildProcess("rewritten");
        Assert.Equal(2, rewritten.GetProperty("blocks_rewritten").GetInt32());
        var peak = rewritten.GetProperty("peak_rss_mib").GetDouble();
        Assert.True(peak < BoundMib, $"one 8192-token pair peaked at {peak:F0} MiB with the attention rewritten; bound {BoundMib} MiB");

        var asExported = LongPairInChildProcess("as-exported");
        Assert.Equal(0, asExported.GetProperty("blocks_rewritten").GetInt32());
        var oldPeak = asExported.GetProperty("peak_rss_mib").GetDouble();
        Assert.True(oldPeak > BoundMib * 4, $"as exported the pair peaked at only {oldPeak:F0} MiB: the bound would not tell the paths apart");

        // The same logit both ways (the rewrite changes rounding only).
        Assert.Equal(asExported.GetProperty("logit").GetDouble(), rewritten.GetProperty("logit").GetDouble(), 1e-4);
    }

    private static System.Text.Json.JsonElement LongPairInChildProcess(string attention)
    {
        var bench = Path.Combine(AppContext.BaseDirectory, "Reranker.Benchmarks.dll");
        Assert.True(File.Exists(bench), $"{bench} is missing (the test project references tests/Reranker.Benchmarks)");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { bench, "long-pair", "--model", TestPaths.TinyModel, "--tokens", "8192", "--attention", attention, "--runs", "1", "--threads", "2" })
        {
            start.ArgumentList.Add(arg);
        }

        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = child.StandardOutput.ReadToEnd();
        if (!child.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail($"the {attention} long-pair child did not finish in 5 minutes");
        }

        Assert.True(child.ExitCode == 0, $"long-pair ({attention}) exited {child.ExitCode}: {stderr.Result}");
        return System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    private static long ResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}

[CollectionDefinition(nameof(MemoryCollection), DisableParallelization = true)]
public class MemoryCollection;

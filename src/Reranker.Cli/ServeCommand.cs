using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Reranker.Server;

namespace Reranker.Cli;

/// <summary><c>reranker serve</c>: the HTTP reranking service (TEI and Cohere/Jina endpoints, probes, Prometheus metrics).</summary>
internal static class ServeCommand
{
    internal const string Usage = """
        usage: reranker serve --model DIR_OR_HUB_ID [--revision R] [--quantize] [--urls URLS] [--Reranker:SETTING VALUE ...]

        Serves POST /rerank (Hugging Face TEI), POST /v1/rerank (Cohere/Jina), GET /health (ready),
        /alive (live), /metrics (Prometheus), /info. The model loads in the background: /alive answers
        at once, /health once the model is loaded. SIGTERM or Ctrl+C drains: requests in flight finish
        (Reranker:DrainTimeoutSeconds, default 30), new ones get 503, then the process exits 0.

        options:
          --model M          an exported model directory, or a Hugging Face model id (org/name), downloaded
                             into the hub cache (HF_HUB_CACHE, HF_HOME; HF_HUB_OFFLINE=1 uses only the cache)
                             and exported to ONNX there once when the repository has none
          --revision R       hub branch, tag or commit (default main); model ids only
          --quantize         int8: export int8 from a hub snapshot, or load model_int8.onnx from a directory
          --urls URLS        where to listen (default http://127.0.0.1:8080; e.g. http://0.0.0.0:8080)
          --Reranker:X V     any setting of the Reranker section (MaxConcurrentRequests, MaxQueuedRequests,
                             CrossEncoder:MaxLength, CrossEncoder:IntraOpNumThreads, ...); environment
                             variables Reranker__X work too. See README.md, "HTTP service".

        exit codes: 0 stopped cleanly, 1 the model or address failed, 2 bad command line or setting.
        """;

    /// <summary>Runs the service until it is stopped; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        RunAsync(args, stdout, stderr).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var hostArgs = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help":
                    stdout.WriteLine(Usage);
                    return 0;
                case "--quantize":
                    hostArgs.AddRange(["--quantize", "true"]);
                    break;
                case "--model" or "--revision" or "--urls":
                    if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        return UsageError(stderr, $"{arg} needs a value");
                    }

                    hostArgs.AddRange([arg, args[++i]]);
                    break;
                default:
                    // Configuration keys (--Reranker:MaxDocuments 64, --Reranker:MaxDocuments=64, --Logging:LogLevel:Default Warning).
                    if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Contains(':', StringComparison.Ordinal))
                    {
                        if (arg.Contains('=', StringComparison.Ordinal))
                        {
                            hostArgs.Add(arg);
                        }
                        else if (i + 1 < args.Length)
                        {
                            hostArgs.AddRange([arg, args[++i]]);
                        }
                        else
                        {
                            return UsageError(stderr, $"{arg} needs a value");
                        }

                        break;
                    }

                    return UsageError(stderr, $"unknown option '{arg}'");
            }
        }

        try
        {
            await using var app = RerankServer.CreateApp([.. hostArgs], new ServeHooks { Progress = stderr });
            var host = app.Services.GetRequiredService<ModelHost>();
            await RerankServer.StartAsync(app);
            await app.WaitForShutdownAsync();
            if (host.Failure is { } failure)
            {
                throw failure;
            }

            return 0;
        }
        catch (ServerStartupException e)
        {
            stderr.WriteLine($"reranker serve: {e.Message}");
            return e.ExitCode;
        }
    }

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"reranker serve: {message}; run 'reranker serve --help' for the options.");
        return ServerStartupException.ExitUsage;
    }
}

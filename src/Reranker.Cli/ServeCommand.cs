using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Reranker.Server;

namespace Reranker.Cli;

/// <summary><c>reranker serve</c>: the HTTP reranking service (TEI and Cohere/Jina endpoints, probes, Prometheus metrics).</summary>
internal static class ServeCommand
{
    /// <summary>Builds the <c>serve</c> verb.</summary>
    internal static Command CreateCommand()
    {
        var model = new Option<string>("--model")
        {
            Description = "an exported model directory, or a Hugging Face model id (org/name): downloaded into the hub cache " +
                          "(HF_HUB_CACHE, HF_HOME; HF_HUB_OFFLINE=1 uses only the cache) and exported to ONNX there once when the " +
                          "repository has none [default: Reranker:Model, else the bundled tiny model inside the repository]",
            HelpName = "DIR_OR_ID",
        };
        var revision = new Option<string>("--revision") { Description = "hub branch, tag or commit of a model id [default: main]", HelpName = "R" };
        var quantize = new Option<bool>("--quantize")
        {
            Description = "int8: export int8 from a hub snapshot, or load model_int8.onnx from a directory [default: off]",
            DefaultValueFactory = _ => false,
        };
        var variant = new Option<string>("--variant")
        {
            Description = "ONNX variant: model_VARIANT.onnx at the root or in onnx/ of a directory or repository (quantized, fp16, int8, ...) " +
                          "[default: fp32 model.onnx; same as --Reranker:CrossEncoder:ModelVariant]",
            HelpName = "VARIANT",
        };
        var urls = new Option<string>("--urls")
        {
            Description = "where to listen, several separated by ';' [default: http://127.0.0.1:8080, or ASPNETCORE_URLS]",
            HelpName = "URLS",
        };

        var apiKey = new Option<string[]>("--api-key")
        {
            Description = "require 'Authorization: Bearer KEY' on every endpoint but the probes (/alive, /health, /ping); " +
                          "repeat it, or separate keys by commas, to accept several while rotating [default: Reranker:ApiKey " +
                          "(environment Reranker__ApiKey), else no authentication]",
            HelpName = "KEY",
        };

        var command = new Command("serve", """
            Serve the model over HTTP: POST /rerank (Hugging Face TEI), POST /v1/rerank (Cohere/Jina), GET /health
            (readiness), /alive (liveness), /metrics (Prometheus), /info. The model loads in the background: /alive
            answers at once, /health once the model is loaded. SIGTERM or Ctrl+C drains: requests in flight finish
            (Reranker:DrainTimeoutSeconds, default 30), new ones get 503, then the process exits 0.
            Any setting of the Reranker section can follow as --Reranker:SETTING VALUE (MaxConcurrentRequests,
            MaxQueuedRequests, CrossEncoder:MaxLength, ...) or come from the environment as Reranker__SETTING.
            HTTPS: --urls https://0.0.0.0:8443 --Kestrel:Certificates:Default:Path cert.pem
            --Kestrel:Certificates:Default:KeyPath key.pem (or Kestrel__Certificates__Default__Path in the environment).
            Exit codes: 0 stopped cleanly, 1 the model or the address failed, 2 bad command line or setting.
            """)
        {
            model, revision, quantize, variant, urls, apiKey,
        };

        // Configuration keys (--Reranker:MaxDocuments 64, --Reranker:MaxDocuments=64, --Logging:LogLevel:Default Warning)
        // are not options of the verb: they pass through to ASP.NET Core's configuration.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            var args = new List<string>();
            if (parse.GetValue(model) is { } m)
            {
                args.AddRange(["--model", m]);
            }

            if (parse.GetValue(revision) is { } r)
            {
                args.AddRange(["--revision", r]);
            }

            if (parse.GetValue(quantize))
            {
                args.AddRange(["--quantize", "true"]);
            }

            if (parse.GetValue(variant) is { } v)
            {
                args.AddRange(["--Reranker:CrossEncoder:ModelVariant", v]);
            }

            if (parse.GetValue(urls) is { } u)
            {
                args.AddRange(["--urls", u]);
            }

            if (parse.GetValue(apiKey) is { Length: > 0 } keys)
            {
                // One setting: a comma-separated list, as Reranker:ApiKey takes it (it wins over the environment's).
                // '=' form: a key may start with '-' and must not be read as another option.
                args.Add("--Reranker:ApiKey=" + string.Join(',', keys));
            }

            var stderr = parse.InvocationConfiguration.Error;
            if (PassThrough([.. parse.UnmatchedTokens], out var error) is not { } settings)
            {
                stderr.WriteLine($"{Program.Name} serve: {error}.");
                stderr.WriteLine($"run '{Program.Name} serve --help' for the options.");
                return Program.ExitUsage;
            }

            args.AddRange(settings);
            return RunAsync([.. args], stderr).GetAwaiter().GetResult();
        });
        return command;
    }

    /// <summary>Runs the service until it is stopped; returns the exit code.</summary>
    private static async Task<int> RunAsync(string[] args, TextWriter stderr)
    {
        try
        {
            await using var app = RerankServer.CreateApp(args, new ServeHooks { Progress = stderr });
            var host = app.Services.GetRequiredService<ModelHost>();
            await RerankServer.StartAsync(app);
            await app.WaitForShutdownAsync();
            return host.Failure is { } failure ? Fail(stderr, failure) : Program.ExitOk;
        }
        catch (ServerStartupException e)
        {
            return Fail(stderr, e);
        }
    }

    private static int Fail(TextWriter stderr, ServerStartupException e)
    {
        stderr.WriteLine($"{Program.Name} serve: {e.Message}");
        return e.ExitCode;
    }

    /// <summary>
    /// The tokens the verb does not know, as configuration arguments: each must be <c>--Section:Key value</c> or
    /// <c>--Section:Key=value</c>. Returns <see langword="null"/> with <paramref name="error"/> set otherwise.
    /// </summary>
    private static List<string>? PassThrough(string[] tokens, out string? error)
    {
        var args = new List<string>();
        for (var i = 0; i < tokens.Length; i++)
        {
            var token = tokens[i];
            if (!token.StartsWith("--", StringComparison.Ordinal) || !token.Contains(':', StringComparison.Ordinal))
            {
                error = token.StartsWith('-') ? $"unknown option '{token}'" : $"unexpected argument '{token}'";
                return null;
            }

            if (token.Contains('=', StringComparison.Ordinal))
            {
                args.Add(token);
            }
            else if (i + 1 < tokens.Length && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                args.AddRange([token, tokens[++i]]);
            }
            else
            {
                error = $"{token} needs a value";
                return null;
            }
        }

        error = null;
        return args;
    }
}

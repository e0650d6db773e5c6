using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reranker.Benchmarks;

/// <summary>
/// The Transformers.js peer (bench/peer/peer.mjs) as a child process that answers one JSON line per request, so its
/// runs can be interleaved with ours in the same benchmark run.
/// </summary>
internal sealed class Peer : IDisposable
{
    private readonly Process _process;

    private Peer(Process process, JsonObject hello)
    {
        _process = process;
        Hello = hello;
    }

    public JsonObject Hello { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts the peer on <c>&lt;root&gt;/&lt;name&gt;</c> (config.json, tokenizer files, onnx/model.onnx) and waits until its model is loaded.</summary>
    public static Peer Start(string peerDirectory, string modelRoot, string modelName)
    {
        var info = new ProcessStartInfo("node", ["peer.mjs", modelRoot, modelName])
        {
            WorkingDirectory = peerDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start node");
        var hello = ReadLine(process);
        if (hello["ready"]?.GetValue<bool>() != true)
        {
            throw new InvalidOperationException($"peer did not start: {hello}");
        }

        return new Peer(process, hello);
    }

    public JsonObject Send(object request)
    {
        _process.StandardInput.WriteLine(JsonSerializer.Serialize(request));
        _process.StandardInput.Flush();
        var answer = ReadLine(_process);
        if (answer["error"] is { } error)
        {
            throw new InvalidOperationException($"peer failed: {error}");
        }

        return answer;
    }

    /// <summary>Transformers.js as its docs show: tokenizer over the candidate list with padding and truncation, then the model.</summary>
    public PeerRun Users(string query, IReadOnlyList<string> documents, int maxLength)
    {
        var a = Send(new { op = "users", query, docs = documents, max_length = maxLength });
        return new PeerRun(
            a["ms"]!.GetValue<double>(),
            a["tokenize_ms"]!.GetValue<double>(),
            a["rows"]!.GetValue<int>(),
            a["cols"]!.GetValue<int>(),
            a["logits"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray());
    }

    /// <summary>The same model fed the padded batches our library would run (<paramref name="batches"/> index into <paramref name="ids"/>).</summary>
    public PeerRun Batches(IReadOnlyList<int[]> ids, IReadOnlyList<int[]> batches, int padId)
    {
        var payload = new List<object>();
        foreach (var batch in batches)
        {
            var (flat, mask, _, cols) = PaddedBatch.Create(ids, batch, padId);

            payload.Add(new { rows = batch.Length, cols, ids = flat, mask });
        }

        var a = Send(new { op = "batches", batches = payload });
        var flatLogits = a["logits"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray();
        var logits = new float[ids.Count];
        var k = 0;
        foreach (var batch in batches)
        {
            foreach (var i in batch)
            {
                logits[i] = flatLogits[k++];
            }
        }

        var rows = batches.Sum(b => b.Length);
        return new PeerRun(a["ms"]!.GetValue<double>(), 0, rows, 0, logits);
    }

    public int[][] Tokenize(string query, IReadOnlyList<string> documents, int maxLength)
    {
        var a = Send(new { op = "tokenize", query, docs = documents, max_length = maxLength });
        return a["ids"]!.AsArray().Select(r => r!.AsArray().Select(x => x!.GetValue<int>()).ToArray()).ToArray();
    }

    public (double PeakRssMb, double RssMb) Memory()
    {
        var a = Send(new { op = "memory" });
        return (a["peak_rss_mb"]!.GetValue<double>(), a["rss_mb"]!.GetValue<double>());
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("{\"op\":\"quit\"}");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(5000))
                {
                    _process.Kill();
                }
            }
        }
        catch (IOException)
        {
        }

        _process.Dispose();
    }

    private static JsonObject ReadLine(Process process)
    {
        var line = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("peer exited");
        return JsonNode.Parse(line)!.AsObject();
    }
}

/// <summary>One peer call: wall milliseconds inside node, the padded shape it ran (users mode), logits in input order.</summary>
internal sealed record PeerRun(double Milliseconds, double TokenizeMilliseconds, int Rows, int Cols, float[] Logits);

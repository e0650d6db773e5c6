using System.Diagnostics;
using System.Text.Json.Nodes;
using Reranker.Inference;

namespace Reranker.Benchmarks;

/// <summary>
/// One model (fp32 or int8) end to end: our <c>Rank</c> against the Transformers.js peer as users call it and the
/// peer fed our own batches, interleaved per request in rotating order (A B C, B C A, C A B) so drift in the shared
/// machine's load hits all three alike; then time outside <c>Run</c>, and pairs/s against pair length for the chart.
/// </summary>
internal static class EndToEnd
{
    public static JsonObject Run(Settings s)
    {
        var shape = ModelShape.BgeRerankerV2M3;
        var result = new JsonObject { ["variant"] = s.Variant, ["model"] = s.ModelDirectory, ["load_before"] = Machine.LoadAverage() };
        var requests = Workload.Requests(s.RepoRoot, s.Requests, s.DocumentsPerQuery);
        var peerPid = 0;
        var cpuStart = Machine.CpuSnapshot.Take();

        // Session load: the library's Create (ONNX Runtime session + tokenizer + config), cold for this process.
        var loadWatch = Stopwatch.StartNew();
        using var ce = CrossEncoder.Create(s.ModelDirectory);
        result["load_seconds"] = loadWatch.Elapsed.TotalSeconds;
        result["rss_after_load_mb"] = Machine.RssMb();
        result["dynamically_quantized"] = OnnxModelScan.UsesDynamicQuantization(Path.Combine(s.ModelDirectory, ce.Options.ModelFileName));
        var options = ce.Options;
        result["options"] = new JsonObject
        {
            ["max_length"] = options.MaxLength,
            ["batch_size"] = options.BatchSize,
            ["max_batch_tokens"] = options.MaxBatchTokens,
            ["intra_op_threads"] = options.IntraOpNumThreads,
        };

        using var peer = Peer.Start(s.PeerDirectory, s.PeerModelRoot, s.Variant);
        peerPid = peer.ProcessId;
        result["peer"] = peer.Hello.DeepClone();

        // Our token ids, and the batches our library runs (its own planner, so FLOPs count what it really does).
        var ids = requests.Select(r => r.Documents.Select(d => ce.EncodePair(r.Query, d).InputIds).ToArray()).ToArray();
        var plans = ids.Select(g => LogitSession.PlanBatches(g.Select(x => x.Length).ToArray(), options.BatchSize, options.MaxBatchTokens, ce.Session.RejectsPadding)).ToArray();
        var padId = 1;

        // 1. Agreement before timing: the peer's tokenizer gives our ids, and its model our logits. Transformers.js
        //    4.3.1 truncates a pair by cutting the encoded sequence (special tokens included) at max_length, so a
        //    truncated pair ends in a text token instead of </s>; such pairs must equal ours except for that last token.
        int exact = 0, tailOnly = 0, idMismatches = 0;
        var truncated = ids.Select(g => g.Select(x => x.Length >= options.MaxLength).ToArray()).ToArray();
        for (var g = 0; g < requests.Count; g++)
        {
            var theirs = peer.Tokenize(requests[g].Query, requests[g].Documents, options.MaxLength);
            for (var i = 0; i < theirs.Length; i++)
            {
                var ours = ids[g][i];
                if (theirs[i].AsSpan().SequenceEqual(ours))
                {
                    exact++;
                }
                else if (truncated[g][i] && theirs[i].Length == ours.Length && theirs[i].AsSpan(0, ours.Length - 1).SequenceEqual(ours.AsSpan(0, ours.Length - 1)))
                {
                    tailOnly++;
                }
                else
                {
                    idMismatches++;
                }
            }
        }

        // The model's scores against the peer's, like with like: the peer runs the file as exported, so the check loads
        // it the same way (RewriteAttention = false). The default (rewritten) path differs from the file as exported by
        // float rounding, which dynamic int8 quantization amplifies up to int8's own error; that difference is
        // reported beside the check, not gated (tests bound its accuracy against torch fp32).
        var checkPairs = requests.SelectMany((r, g) => r.Documents.Select((d, i) => (r.Query, Document: d, Ids: ids[g][i])))
            .Where(p => p.Ids.Length < options.MaxLength).OrderBy(p => p.Ids.Length).Take(3).ToList();
        // In a child process, so that a second session never counts in this process's memory.
        var asExportedCheck = AsExportedLogits(s.ModelDirectory, checkPairs.Select(p => p.Ids).ToArray());
        var oursCheck = checkPairs.Select(p => ce.PredictLogits([(p.Query, p.Document)])[0]).ToArray();
        var peerUsersCheck = checkPairs.Select(p => peer.Users(p.Query, [p.Document], options.MaxLength).Logits[0]).ToArray();
        var peerBatchCheck = peer.Batches(checkPairs.Select(p => p.Ids).ToArray(), checkPairs.Select((_, i) => new[] { i }).ToArray(), padId).Logits;
        var checkDiff = Math.Max(Stats.MaxAbsDiff(asExportedCheck, peerUsersCheck), Stats.MaxAbsDiff(asExportedCheck, peerBatchCheck));
        var defaultDiff = Stats.MaxAbsDiff(oursCheck, asExportedCheck);
        result["agreement_before_timing"] = new JsonObject
        {
            ["pairs_compared"] = ids.Sum(g => g.Length),
            ["token_ids_equal"] = exact,
            ["token_ids_equal_but_truncated_tail"] = tailOnly,
            ["token_id_mismatches"] = idMismatches,
            ["single_pair_logits_max_abs_diff"] = checkDiff,
            ["single_pair_logits_compared"] = "library with the file as exported (RewriteAttention = false) vs peer",
            ["default_vs_as_exported_max_abs_logit_diff"] = defaultDiff,
            ["single_pair_lengths"] = new JsonArray(checkPairs.Select(p => (JsonNode)p.Ids.Length).ToArray()),
        };
        Console.Error.WriteLine($"[{s.Variant}] agreement: ids {exact} equal, {tailOnly} equal but the peer's truncated tail, {idMismatches} different; single-pair logit diff (as exported vs peer) {checkDiff:E2}; default vs as exported {defaultDiff:E2}");
        if (idMismatches > 0 || checkDiff > 1e-3)
        {
            throw new InvalidOperationException($"Peer and library disagree (ids {idMismatches}, logits {checkDiff}); not timing.");
        }

        // 2. Warm-up on the longest pair (grows the arenas once for all).
        var longest = requests.SelectMany((r, g) => r.Documents.Select((d, i) => (r.Query, Document: d, Ids: ids[g][i]))).MaxBy(p => p.Ids.Length);
        ce.PredictLogits([(longest.Query, longest.Document)]);
        peer.Users(longest.Query, [longest.Document], options.MaxLength);
        peer.Batches([longest.Ids], [[0]], padId);

        // 3. Interleaved timing.
        var rows = new JsonArray();
        var cpuTimed = Machine.CpuSnapshot.Take(peerPid);
        var timedStart = Stopwatch.GetTimestamp();
        double oursS = 0, usersS = 0, batchesS = 0, tokenizeS = 0;
        double oursFlops = 0, usersFlops = 0, oursBound = 0, usersBound = 0;
        long realTokens = 0, oursPadded = 0, usersPadded = 0;
        double maxDiffBatches = 0, maxDiffUsers = 0;
        var latencies = new List<double>();
        var usersLatencies = new List<double>();
        var peaks = s.Peaks;
        for (var g = 0; g < requests.Count; g++)
        {
            var r = requests[g];
            float[] oursLogits = [];
            PeerRun? users = null, batches = null;
            double oursMs = 0;
            for (var k = 0; k < 3; k++)
            {
                switch ((g + k) % 3)
                {
                    case 0:
                        var start = Stopwatch.GetTimestamp();
                        var ranked = ce.Rank(r.Query, r.Documents);
                        oursMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        oursLogits = new float[ranked.Count];
                        foreach (var d in ranked)
                        {
                            oursLogits[d.Index] = Stats.Logit(d.Score);
                        }

                        break;
                    case 1:
                        users = peer.Users(r.Query, r.Documents, options.MaxLength);
                        break;
                    default:
                        batches = peer.Batches(ids[g], plans[g], padId);
                        break;
                }
            }

            // Tokenizing this request the way Rank does (median of 5), to size the work outside Run.
            var tokenizeMs = Stats.Median(Enumerable.Range(0, 5).Select(_ =>
            {
                var t0 = Stopwatch.GetTimestamp();
                foreach (var d in r.Documents)
                {
                    ce.EncodePair(r.Query, d);
                }

                return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }));

            var real = ids[g].Sum(x => (long)x.Length);
            var padded = plans[g].Sum(b => (long)b.Length * ids[g][b[^1]].Length);
            var flops = plans[g].Sum(b => shape.Flops(b.Length, ids[g][b[^1]].Length));
            var bound = plans[g].Sum(b => shape.BoundSeconds(b.Length, ids[g][b[^1]].Length, s.Int8, peaks));
            var uFlops = shape.Flops(users!.Rows, users.Cols);
            var uBound = shape.BoundSeconds(users.Rows, users.Cols, s.Int8, peaks);
            oursS += oursMs / 1000;
            usersS += users.Milliseconds / 1000;
            batchesS += batches!.Milliseconds / 1000;
            tokenizeS += tokenizeMs / 1000;
            oursFlops += flops;
            usersFlops += uFlops;
            oursBound += bound;
            usersBound += uBound;
            realTokens += real;
            oursPadded += padded;
            usersPadded += (long)users.Rows * users.Cols;
            latencies.Add(oursMs);
            usersLatencies.Add(users.Milliseconds);
            var diffB = Stats.MaxAbsDiff(oursLogits.Select(Stats.Sigmoid).ToArray(), batches.Logits.Select(Stats.Sigmoid).ToArray());
            var untruncated = Enumerable.Range(0, oursLogits.Length).Where(i => !truncated[g][i]).ToArray();
            var diffU = Stats.MaxAbsDiff(untruncated.Select(i => Stats.Sigmoid(oursLogits[i])).ToArray(), untruncated.Select(i => Stats.Sigmoid(users.Logits[i])).ToArray());
            maxDiffBatches = Math.Max(maxDiffBatches, diffB);
            maxDiffUsers = Math.Max(maxDiffUsers, diffU);
            rows.Add(new JsonObject
            {
                ["qid"] = r.QueryId,
                ["pairs"] = r.Documents.Count,
                ["real_tokens"] = real,
                ["ours_ms"] = oursMs,
                ["ours_tokenize_ms"] = tokenizeMs,
                ["peer_users_ms"] = users.Milliseconds,
                ["peer_users_shape"] = $"{users.Rows}x{users.Cols}",
                ["peer_batches_ms"] = batches.Milliseconds,
                ["relevant_rank_ours"] = oursLogits.Count(x => x > oursLogits[r.RelevantIndex]) + 1,
            });
            Console.Error.WriteLine($"[{s.Variant}] request {g + 1}/{requests.Count}: {r.Documents.Count} pairs, {real} tokens: ours {oursMs:F0} ms, peer users {users.Milliseconds:F0} ms ({users.Rows}x{users.Cols}), peer our batches {batches.Milliseconds:F0} ms; load {Machine.LoadAverage()}");
        }

        var timedSeconds = Stopwatch.GetElapsedTime(timedStart).TotalSeconds;
        var cpuAfter = Machine.CpuSnapshot.Take(peerPid);
        var pairs = requests.Sum(r => r.Documents.Count);
        result["requests"] = rows;
        result["pairs"] = pairs;
        result["real_tokens"] = realTokens;
        result["summary"] = new JsonObject
        {
            ["ours_seconds"] = oursS,
            ["ours_pairs_per_s"] = pairs / oursS,
            ["ours_tokens_per_s"] = realTokens / oursS,
            ["ours_rank_p50_ms"] = Stats.Percentile(latencies, 50),
            ["ours_rank_p95_ms"] = Stats.Percentile(latencies, 95),
            ["ours_padded_tokens"] = oursPadded,
            ["ours_gflops_per_s"] = oursFlops / oursS / 1e9,
            ["ours_fraction_of_bound"] = oursBound / oursS,
            ["ours_tokenize_seconds"] = tokenizeS,
            ["ours_tokenize_fraction"] = tokenizeS / oursS,
            ["peer_users_seconds"] = usersS,
            ["peer_users_pairs_per_s"] = pairs / usersS,
            ["peer_users_rank_p50_ms"] = Stats.Percentile(usersLatencies, 50),
            ["peer_users_rank_p95_ms"] = Stats.Percentile(usersLatencies, 95),
            ["peer_users_padded_tokens"] = usersPadded,
            ["peer_users_gflops_per_s"] = usersFlops / usersS / 1e9,
            ["peer_users_fraction_of_bound"] = usersBound / usersS,
            ["peer_batches_seconds"] = batchesS,
            ["peer_batches_pairs_per_s"] = pairs / batchesS,
            ["peer_batches_gflops_per_s"] = oursFlops / batchesS / 1e9,
            ["ratio_vs_peer_users"] = usersS / oursS,
            ["ratio_vs_peer_batches"] = batchesS / oursS,
            ["max_abs_score_diff_vs_peer_batches"] = maxDiffBatches,
            ["max_abs_score_diff_vs_peer_users_untruncated"] = maxDiffUsers,
            ["truncated_pairs"] = truncated.Sum(g => g.Count(x => x)),
            ["timed_wall_seconds"] = timedSeconds,
            ["other_processes_cpu_seconds"] = cpuAfter.OthersSince(cpuTimed),
            ["load_after"] = Machine.LoadAverage(),
        };

        // Peak RSS now, before anything else is loaded into this process.
        result["ours_peak_rss_mb"] = Machine.PeakRssMb();
        var (peerPeak, _) = peer.Memory();
        result["peer_peak_rss_mb"] = peerPeak;

        // 4. Time outside Run: our Rank against ONNX Runtime alone on the same batches, interleaved.
        if (s.RawRequests > 0)
        {
            using var raw = new RawEngine(Path.Combine(s.ModelDirectory, options.ModelFileName), rewriteAttention: ce.Session.RejectsPadding);
            raw.Run([longest.Ids], [[0]], padId);
            double rankS = 0, runS = 0;
            var cpuRaw = Machine.CpuSnapshot.Take();
            for (var g = 0; g < Math.Min(s.RawRequests, requests.Count); g++)
            {
                var r = requests[g];
                for (var k = 0; k < 2; k++)
                {
                    if ((g + k) % 2 == 0)
                    {
                        var start = Stopwatch.GetTimestamp();
                        ce.Rank(r.Query, r.Documents);
                        rankS += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    }
                    else
                    {
                        runS += raw.Run(ids[g], plans[g], padId).Seconds;
                    }
                }
            }

            result["outside_run"] = new JsonObject
            {
                ["requests"] = Math.Min(s.RawRequests, requests.Count),
                ["rank_seconds"] = rankS,
                ["raw_run_seconds"] = runS,
                ["fraction_outside_run"] = (rankS - runS) / rankS,
                ["other_processes_cpu_seconds"] = Machine.CpuSnapshot.Take().OthersSince(cpuRaw),
            };
        }

        // 5. Pairs/s against pair length (chart): real pairs from the sample whose length is nearest each target.
        var pool = requests.SelectMany((r, g) => r.Documents.Select((d, i) => (r.Query, Document: d, Ids: ids[g][i]))).ToList();
        var sweep = new JsonArray();
        foreach (var target in s.SweepLengths)
        {
            var p = pool.MinBy(x => Math.Abs(x.Ids.Length - target));
            if (sweep.Any(x => x!["tokens"]!.GetValue<int>() == p.Ids.Length))
            {
                continue; // the sample has no pair nearer this length than a previous one
            }

            // Each engine runs its repeats in a block, after a pause: ONNX Runtime's intra-op workers spin for a while
            // after a run, so alternating single pairs would time each engine against the other's spinning threads.
            var times = new List<double>();
            var peerTimes = new List<double>();
            Thread.Sleep(300);
            ce.PredictLogits([(p.Query, p.Document)]);
            for (var rep = 0; rep < s.SweepRepeats; rep++)
            {
                var start = Stopwatch.GetTimestamp();
                ce.PredictLogits([(p.Query, p.Document)]);
                times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }

            Thread.Sleep(300);
            peer.Batches([p.Ids], [[0]], padId);
            for (var rep = 0; rep < s.SweepRepeats; rep++)
            {
                peerTimes.Add(peer.Batches([p.Ids], [[0]], padId).Milliseconds / 1000);
            }

            var seconds = Stats.Median(times);
            sweep.Add(new JsonObject
            {
                ["target"] = target,
                ["tokens"] = p.Ids.Length,
                ["seconds"] = seconds,
                ["pairs_per_s"] = 1 / seconds,
                ["peer_batches_pairs_per_s"] = 1 / Stats.Median(peerTimes),
                ["bound_pairs_per_s"] = 1 / shape.BoundSeconds(1, p.Ids.Length, s.Int8, peaks),
                ["fraction_of_bound"] = shape.BoundSeconds(1, p.Ids.Length, s.Int8, peaks) / seconds,
            });
            Console.Error.WriteLine($"[{s.Variant}] sweep {p.Ids.Length} tokens: {seconds * 1000:F0} ms");
        }

        result["sweep"] = sweep;
        result["other_processes_cpu_seconds_total"] = Machine.CpuSnapshot.Take().OthersSince(cpuStart);
        result["load_after"] = Machine.LoadAverage();
        return result;
    }

    /// <summary>
    /// The logits of the file as exported (<c>RewriteAttention = false</c>), one pair per run, computed by this harness's
    /// <c>logits</c> command in a child process.
    /// </summary>
    private static float[] AsExportedLogits(string modelDirectory, int[][] ids)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(ids));
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
            foreach (var a in new[] { "logits", "--model", modelDirectory, "--ids", file, "--rewrite", "false" })
            {
                start.ArgumentList.Add(a);
            }

            using var child = Process.Start(start)!;
            var output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0)
            {
                throw new InvalidOperationException($"the logits child process failed with exit code {child.ExitCode}");
            }

            return System.Text.Json.JsonSerializer.Deserialize<float[]>(output)!;
        }
        finally
        {
            File.Delete(file);
        }
    }

    internal sealed record Settings(
        string RepoRoot,
        string ModelDirectory,
        string Variant,
        bool Int8,
        string PeerDirectory,
        string PeerModelRoot,
        int Requests,
        int DocumentsPerQuery,
        int RawRequests,
        int[] SweepLengths,
        int SweepRepeats,
        Peaks Peaks);
}

using System.Diagnostics;
using Reranker;

// Usage: Reranker.DisposeProbe <model directory> <rounds> <seed>
// Each round creates a CrossEncoder, starts sync and async callers on every public scoring path, disposes the
// instance at a random moment (sometimes from two threads at once), and checks that every caller ends within a bound
// with a result, ObjectDisposedException or (for its own cancelled token) OperationCanceledException.
// Exit codes: 0 all rounds held; 2 a caller failed with another exception; 3 a caller was stranded; 4 a call after
// Dispose did not throw ObjectDisposedException. A native crash ends the process with a signal.
var modelDirectory = args[0];
var rounds = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var random = new Random(int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
var callerBound = TimeSpan.FromSeconds(30);

string Words(int count)
{
    var words = new[] { "검색", "결과", "문서", "질문", "reranker", "model", "score", "한국어", "데이터", "test" };
    return string.Join(' ', Enumerable.Range(0, count).Select(_ => words[random.Next(words.Length)]));
}

var documents = Enumerable.Range(0, 12).Select(i => Words(i % 4 == 0 ? 1500 : 5 + (i * 37 % 200))).ToArray();
var maxDispose = TimeSpan.Zero;
var calls = 0L;
var disposedCalls = 0L;

for (var round = 0; round < rounds; round++)
{
    var options = new CrossEncoderOptions { MaxLength = 1024, IntraOpNumThreads = round % 2 == 0 ? 0 : 1, BatchSize = 1 + (round % 4) };
    var encoder = CrossEncoder.Create(modelDirectory, options);
    var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
    var pairs = documents.Select(d => ("질문 검색", d)).ToArray();

    void Outcome(Exception e, CancellationToken own)
    {
        if (e is ObjectDisposedException || (e is OperationCanceledException && own.IsCancellationRequested))
        {
            Interlocked.Increment(ref disposedCalls);
            return;
        }

        failures.Enqueue(e.ToString());
    }

    // Sync callers on threads of their own; they stop at the first ObjectDisposedException.
    var threads = new List<Thread>();
    for (var t = 0; t < 4; t++)
    {
        var kind = (t + round) % 4;
        var thread = new Thread(() =>
        {
            while (true)
            {
                try
                {
                    switch (kind)
                    {
                        case 0: encoder.Predict(pairs); break;
                        case 1: encoder.Rank("질문", documents, topK: 3); break;
                        case 2: encoder.PredictLogits(pairs[..4]); break;
                        default: encoder.EncodePair("질문", documents[0]); break;
                    }

                    Interlocked.Increment(ref calls);
                }
                catch (Exception e)
                {
                    Outcome(e, CancellationToken.None);
                    return;
                }
            }
        }) { IsBackground = true };
        thread.Start();
        threads.Add(thread);
    }

    // Async callers, some with a token that is cancelled at a random moment too.
    var tasks = new List<Task>();
    for (var a = 0; a < 4; a++)
    {
        var kind = (a + round) % 4;
        var cancelAfter = random.Next(4) == 0 ? random.Next(1, 300) : -1;
        tasks.Add(Task.Run(async () =>
        {
            using var cts = cancelAfter > 0 ? new CancellationTokenSource(cancelAfter) : new CancellationTokenSource();
            while (true)
            {
                try
                {
                    switch (kind)
                    {
                        case 0: await encoder.PredictAsync(pairs, cancellationToken: cts.Token); break;
                        case 1: await encoder.RankAsync("질문", documents, cancellationToken: cts.Token); break;
                        case 2: await encoder.PredictLogitsAsync(pairs[..3], cancellationToken: cts.Token); break;
                        default: await encoder.RankAsync("검색", documents[..2], topK: 1, progress: new Progress<ScoringProgress>(_ => { }), cancellationToken: cts.Token); break;
                    }

                    Interlocked.Increment(ref calls);
                }
                catch (Exception e)
                {
                    Outcome(e, cts.Token);
                    return;
                }
            }
        }));
    }

    Thread.Sleep(random.Next(0, 400));
    var started = Stopwatch.GetTimestamp();
    if (random.Next(3) == 0)
    {
        Parallel.Invoke(encoder.Dispose, encoder.Dispose);
    }
    else
    {
        encoder.Dispose();
    }

    var disposeTook = Stopwatch.GetElapsedTime(started);
    maxDispose = disposeTook > maxDispose ? disposeTook : maxDispose;

    try
    {
        encoder.Predict(pairs[..1]);
        Console.Error.WriteLine($"round {round}: Predict after Dispose did not throw");
        return 4;
    }
    catch (ObjectDisposedException)
    {
    }

    var deadline = Stopwatch.GetTimestamp();
    foreach (var thread in threads)
    {
        var left = callerBound - Stopwatch.GetElapsedTime(deadline);
        if (!thread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
        {
            Console.Error.WriteLine($"round {round}: a synchronous caller is stranded after Dispose");
            return 3;
        }
    }

    var remaining = callerBound - Stopwatch.GetElapsedTime(deadline);
    if (!Task.WaitAll([.. tasks], remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero))
    {
        Console.Error.WriteLine($"round {round}: an async caller is stranded after Dispose");
        return 3;
    }

    if (!failures.IsEmpty)
    {
        Console.Error.WriteLine($"round {round}: a caller failed with an undocumented exception:\n{string.Join("\n", failures)}");
        return 2;
    }
}

Console.WriteLine($"ok: {rounds} rounds, {calls} calls completed, {disposedCalls} ended by Dispose or cancellation, longest Dispose {maxDispose.TotalMilliseconds:F0} ms");
return 0;

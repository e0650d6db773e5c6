using System.Diagnostics;
using System.Globalization;

namespace Reranker.Cli.Eval;

/// <summary>Scores (query, passage) pairs; returns one score per pair, in input order. Higher is more relevant.</summary>
internal interface IPairScorer : IDisposable
{
    float[] Score(IReadOnlyList<(string Query, string Document)> pairs);
}

/// <summary>
/// Scores every query against every candidate, chunk by chunk, checkpointing each chunk to the <see cref="ScoreStore"/>
/// and skipping what the store already holds.
/// </summary>
internal static class EvalRunner
{
    /// <summary>Returns every query's candidate scores, from the store where present and from the scorer otherwise.</summary>
    /// <param name="data">Queries and candidates.</param>
    /// <param name="store">The checkpoint, already opened for this run.</param>
    /// <param name="createScorer">Called once, and only if something is left to score (so a finished run loads no model).</param>
    /// <param name="chunkSize">Pairs per scorer call, and per checkpoint record.</param>
    /// <param name="progress">Where progress lines go (stderr).</param>
    /// <param name="cancellationToken">Checked between chunks: a cancelled run has flushed every chunk it scored.</param>
    /// <exception cref="OperationCanceledException">Cancelled; rerun to resume.</exception>
    public static IReadOnlyList<float[]> ScoreAll(
        EvalDataset data, ScoreStore store, Func<IPairScorer> createScorer, int chunkSize, TextWriter progress,
        CancellationToken cancellationToken)
    {
        var candidates = data.Corpus.Count;
        var total = (long)data.Queries.Count * candidates;
        var done = data.Queries.Sum(q => (long)store.CompletedCount(q));
        var meter = new ProgressMeter(progress, total, done);
        if (done > 0)
        {
            progress.WriteLine(
                string.Create(CultureInfo.InvariantCulture, $"eval: resuming, {done:N0} of {total:N0} pairs already scored."));
        }

        IPairScorer? scorer = null;
        try
        {
            for (var q = 0; q < data.Queries.Count; q++)
            {
                var query = data.Queries[q];
                for (var start = store.CompletedCount(query); start < candidates; start += chunkSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (scorer is null)
                    {
                        scorer = createScorer();
                        meter.Restart(); // model loading is not scoring: keep it out of the rate and the ETA
                    }
                    var count = Math.Min(chunkSize, candidates - start);
                    var pairs = new (string Query, string Document)[count];
                    for (var i = 0; i < count; i++)
                    {
                        pairs[i] = (query.Query, data.Corpus[start + i].Contents);
                    }

                    var scores = scorer.Score(pairs);
                    if (scores.Length != count)
                    {
                        throw new InvalidOperationException($"the scorer returned {scores.Length} scores for {count} pairs.");
                    }

                    store.Append(query, start, scores);
                    meter.Advance(count, q + 1, data.Queries.Count, start + count == candidates);
                }
            }
        }
        finally
        {
            scorer?.Dispose();
        }

        return data.Queries.Select(q => store.GetScores(q.Qid)).ToList();
    }

    /// <summary>Progress and ETA lines, at most one every few seconds plus one per finished query.</summary>
    private sealed class ProgressMeter(TextWriter output, long total, long alreadyDone)
    {
        private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _scoredNow;
        private TimeSpan? _lastPrint;

        public void Restart() => _clock.Restart();

        public void Advance(int pairs, int queryNumber, int queries, bool queryFinished)
        {
            _scoredNow += pairs;
            var elapsed = _clock.Elapsed;
            if (!queryFinished && _lastPrint is { } last && elapsed - last < Interval)
            {
                return;
            }

            _lastPrint = elapsed;
            var done = alreadyDone + _scoredNow;
            var rate = _scoredNow / Math.Max(elapsed.TotalSeconds, 1e-9);
            var eta = rate > 0 ? TimeSpan.FromSeconds((total - done) / rate) : TimeSpan.Zero;
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"eval: query {queryNumber}/{queries}, pairs {done:N0}/{total:N0} ({100.0 * done / total:F1}%), " +
                $"{rate:F1} pairs/s, elapsed {Format(elapsed)}, ETA {Format(eta)}"));
        }

        private static string Format(TimeSpan t) =>
            string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}");
    }
}

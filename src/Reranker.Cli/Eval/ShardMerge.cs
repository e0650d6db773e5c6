namespace Reranker.Cli.Eval;

/// <summary>
/// <c>reranker eval --merge</c>: checks that the given shard outputs are exactly the shards of this run (same
/// fingerprint, each index once, every query of each shard finished, no query of another shard) and gives their scores
/// in the order an unsharded run scores them.
/// </summary>
internal static class ShardMerge
{
    /// <summary>
    /// The shard folders named by <c>--merge</c>: a folder with <c>shard-I-of-N</c> subfolders (the <c>--output</c> the
    /// shards were run with) stands for all of them, so <c>--merge OUTPUT</c> works without a shell to expand a glob.
    /// </summary>
    public static IReadOnlyList<string> Expand(IReadOnlyList<string> directories)
    {
        var result = new List<string>();
        foreach (var directory in directories)
        {
            var shards = Directory.Exists(directory)
                ? Directory.GetDirectories(directory, "shard-*-of-*").Order(StringComparer.Ordinal).ToList()
                : [];
            if (shards.Count > 0)
            {
                result.AddRange(shards);
            }
            else
            {
                result.Add(directory);
            }
        }

        return result;
    }

    /// <summary>Every query's candidate scores, in <see cref="EvalDataset.Queries"/> order, read from the shards.</summary>
    /// <param name="data">The unsharded run's queries and candidates.</param>
    /// <param name="directories">The <c>--output</c> folders of the shard runs (each with its <c>scores.jsonl</c>).</param>
    /// <param name="fingerprint">The fingerprint of the merging run; each shard must carry the same.</param>
    /// <exception cref="EvalInputException">A shard is missing, given twice, unfinished, or from another run.</exception>
    public static IReadOnlyList<float[]> Load(EvalDataset data, IReadOnlyList<string> directories, EvalFingerprint fingerprint)
    {
        var docIds = data.Corpus.Select(c => c.DocId).ToList();
        var shards = new List<(string Directory, ScoreStore Store)>();
        try
        {
            foreach (var directory in directories)
            {
                shards.Add((directory, ScoreStore.ReadShard(Path.Combine(directory, ScoreStore.FileName), fingerprint, docIds)));
            }

            return Collect(data, shards);
        }
        finally
        {
            foreach (var (_, store) in shards)
            {
                store.Dispose();
            }
        }
    }

    private static List<float[]> Collect(EvalDataset data, List<(string Directory, ScoreStore Store)> shards)
    {
        var first = shards[0];
        var count = first.Store.Shard!.Count;
        foreach (var (directory, store) in shards)
        {
            if (store.Shard!.Count != count)
            {
                throw new EvalInputException(
                    $"{directory} holds shard {store.Shard} but {first.Directory} holds shard {first.Store.Shard}: " +
                    "the shards of one run all have the same count N in --shard I/N.");
            }
        }

        var byIndex = new (string Directory, ScoreStore Store)?[count];
        foreach (var shard in shards)
        {
            var index = shard.Store.Shard!.Index;
            if (byIndex[index] is { } earlier)
            {
                throw new EvalInputException(
                    $"shard {shard.Store.Shard} is given twice ({earlier.Directory} and {shard.Directory}); give each shard's output once.");
            }

            byIndex[index] = shard;
        }

        var missing = Enumerable.Range(0, count).Where(i => byIndex[i] is null).Select(i => $"{i}/{count}").ToList();
        if (missing.Count > 0)
        {
            throw new EvalInputException(
                $"shard{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} {(missing.Count > 1 ? "are" : "is")} missing: " +
                $"the merge needs the output of every --shard I/{count}, I = 0..{count - 1}. Run the missing shard{(missing.Count > 1 ? "s" : "")}, then merge again.");
        }

        var candidates = data.Corpus.Count;
        var assigned = new HashSet<string>[count];
        for (var i = 0; i < count; i++)
        {
            assigned[i] = new HashSet<string>(StringComparer.Ordinal);
        }

        var scores = new List<float[]>(data.Queries.Count);
        for (var position = 0; position < data.Queries.Count; position++)
        {
            var query = data.Queries[position];
            var index = EvalDataset.ShardOf(position, count);
            var (directory, store) = byIndex[index]!.Value;
            assigned[index].Add(query.Qid);
            var done = store.CompletedCount(query);
            if (done != candidates)
            {
                throw new EvalInputException(
                    $"shard {store.Shard} ({directory}) is not finished: query '{query.Qid}' has {done} of {candidates} scores. " +
                    "Rerun that shard (it resumes where it stopped), then merge again.");
            }

            scores.Add(store.GetScores(query.Qid));
        }

        for (var i = 0; i < count; i++)
        {
            var (directory, store) = byIndex[i]!.Value;
            if (store.StoredQids.FirstOrDefault(qid => !assigned[i].Contains(qid)) is { } stray)
            {
                throw new EvalInputException(
                    $"shard {store.Shard} ({directory}) holds query '{stray}', which is not one of its queries in this run: " +
                    "merge with the same --qa and --queries as the shards were run with.");
            }
        }

        return scores;
    }
}

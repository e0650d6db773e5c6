namespace Reranker.Cli.Eval;

/// <summary>
/// The validated queries and candidate passages of one evaluation: what gets scored, in the order it gets scored.
/// </summary>
internal sealed class EvalDataset
{
    private EvalDataset(IReadOnlyList<QaItem> queries, IReadOnlyList<CorpusItem> corpus, int skippedQueries, int fullCorpusSize)
    {
        Queries = queries;
        Corpus = corpus;
        SkippedQueries = skippedQueries;
        FullCorpusSize = fullCorpusSize;
    }

    /// <summary>The queries to score, in file order (after <c>--queries</c>, without those AutoRAG would skip).</summary>
    public IReadOnlyList<QaItem> Queries { get; }

    /// <summary>The candidate passages every query is scored against, in corpus file order (after <c>--corpus-sample</c>).</summary>
    public IReadOnlyList<CorpusItem> Corpus { get; }

    /// <summary>Queries left out because their ground truth is empty or holds a blank id (AutoRAG scores them as None).</summary>
    public int SkippedQueries { get; }

    /// <summary>Passages in the corpus file, before sampling.</summary>
    public int FullCorpusSize { get; }

    /// <summary>
    /// The share of shard <paramref name="index"/> of <paramref name="count"/>: the queries at positions
    /// <c>index, index + count, index + 2·count, ...</c> of <see cref="Queries"/>, against the same candidates. The
    /// shards together hold every query exactly once, and each query's candidates are those of the unsharded run
    /// (the corpus sample is drawn from all selected queries before the split).
    /// </summary>
    public EvalDataset Shard(int index, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        return new EvalDataset(Queries.Where((_, i) => i % count == index).ToList(), Corpus, SkippedQueries, FullCorpusSize);
    }

    /// <summary>The shard (0-based, of <paramref name="count"/>) that scores the query at <paramref name="position"/> of <see cref="Queries"/>.</summary>
    public static int ShardOf(int position, int count) => position % count;

    /// <summary>Validates the inputs and applies the query limit and the corpus sample.</summary>
    /// <param name="qa">All QA rows, in file order.</param>
    /// <param name="corpus">All corpus rows, in file order.</param>
    /// <param name="maxQueries">Keep only the first this many queries; <see langword="null"/> for all.</param>
    /// <param name="corpusSample">
    /// Score against this many passages: every ground-truth passage of the kept queries plus a seeded random choice of
    /// the others, kept in corpus order. <see langword="null"/> (or a number not below the corpus size) for all.
    /// </param>
    /// <param name="seed">Seed of the corpus sample.</param>
    /// <exception cref="EvalInputException">The inputs cannot be evaluated; the message says why.</exception>
    public static EvalDataset Create(
        IReadOnlyList<QaItem> qa, IReadOnlyList<CorpusItem> corpus, int? maxQueries = null, int? corpusSample = null, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(qa);
        ArgumentNullException.ThrowIfNull(corpus);
        if (corpus.Count == 0)
        {
            throw new EvalInputException("the corpus is empty: there is nothing to rank.");
        }

        if (qa.Count == 0)
        {
            throw new EvalInputException("the QA file has no queries.");
        }

        var docIndex = new Dictionary<string, int>(corpus.Count, StringComparer.Ordinal);
        for (var i = 0; i < corpus.Count; i++)
        {
            if (!docIndex.TryAdd(corpus[i].DocId, i))
            {
                throw new EvalInputException(
                    $"duplicate doc_id '{corpus[i].DocId}' in the corpus (rows {docIndex[corpus[i].DocId]} and {i}); ids must be unique.");
            }
        }

        var qids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in qa)
        {
            if (!qids.Add(item.Qid))
            {
                throw new EvalInputException($"duplicate qid '{item.Qid}' in the QA file; query ids must be unique.");
            }
        }

        var selected = maxQueries is { } n ? qa.Take(n).ToList() : qa.ToList();
        var queries = selected.Where(q => RetrievalMetrics.IsEvaluable(q.RetrievalGt)).ToList();
        var skipped = selected.Count - queries.Count;
        if (queries.Count == 0)
        {
            throw new EvalInputException("no query has usable ground truth: every 'retrieval_gt' is empty or holds a blank id.");
        }

        var unknown = queries
            .SelectMany(q => q.RetrievalGt.SelectMany(g => g).Where(id => !docIndex.ContainsKey(id)).Select(id => (q.Qid, Id: id)))
            .ToList();
        if (unknown.Count > 0)
        {
            var shown = string.Join("; ", unknown.Take(5).Select(u => $"query '{u.Qid}' -> '{u.Id}'"));
            throw new EvalInputException(
                $"{unknown.Count} ground-truth id{(unknown.Count > 1 ? "s are" : " is")} not in the corpus " +
                $"(doc ids are compared byte-exactly): {shown}{(unknown.Count > 5 ? "; ..." : "")}");
        }

        IReadOnlyList<CorpusItem> candidates = corpus;
        if (corpusSample is { } size && size < corpus.Count)
        {
            var keep = SampleIndices(corpus.Count, queries.SelectMany(q => q.RetrievalGt.SelectMany(g => g)).Select(id => docIndex[id]), size, seed);
            candidates = keep.Select(i => corpus[i]).ToList();
        }

        return new EvalDataset(queries, candidates, skipped, corpus.Count);
    }

    /// <summary>
    /// Picks <paramref name="size"/> indices of <c>[0, count)</c>: all of <paramref name="required"/> plus a seeded
    /// uniform choice of the rest, returned ascending (corpus order).
    /// </summary>
    internal static int[] SampleIndices(int count, IEnumerable<int> required, int size, ulong seed)
    {
        var chosen = new SortedSet<int>(required);
        if (chosen.Count > size)
        {
            throw new EvalInputException(
                $"--corpus-sample {size} is smaller than the {chosen.Count} ground-truth passages of the selected queries, " +
                "which the sample always keeps; raise it or lower --queries.");
        }

        var others = Enumerable.Range(0, count).Where(i => !chosen.Contains(i)).ToArray();
        var rng = new SplitMix64(seed);
        var need = size - chosen.Count;
        for (var i = 0; i < need; i++)
        {
            // Partial Fisher-Yates: position i takes a uniform pick from others[i..].
            var j = i + (int)rng.NextBelow((ulong)(others.Length - i));
            (others[i], others[j]) = (others[j], others[i]);
            chosen.Add(others[i]);
        }

        return [.. chosen];
    }

    /// <summary>SplitMix64: a tiny PRNG whose sequence is fixed forever, so a seed means the same sample on any runtime.</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public ulong NextBelow(ulong bound)
        {
            // Rejection sampling avoids modulo bias.
            var limit = ulong.MaxValue - (ulong.MaxValue % bound);
            ulong x;
            do
            {
                x = Next();
            }
            while (x >= limit);

            return x % bound;
        }
    }
}

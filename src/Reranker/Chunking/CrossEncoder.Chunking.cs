using Reranker.Chunking;
using Reranker.Diagnostics;
using Reranker.Tokenization;

namespace Reranker;

public sealed partial class CrossEncoder
{
    /// <summary>
    /// Scores (query, document) pairs and tells, for each, which part of the document produced the score and how many
    /// chunks were scored.
    /// </summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <param name="longDocuments">
    /// How documents that do not fit are scored, for this call; <see langword="null"/> for
    /// <see cref="CrossEncoderOptions.LongDocuments"/>.
    /// </param>
    /// <returns>
    /// One result per pair, in the order of <paramref name="pairs"/>, with the same score and logit as
    /// <see cref="Predict"/> and <see cref="PredictLogits"/> give under the same long-document settings. Empty when
    /// <paramref name="pairs"/> is empty.
    /// </returns>
    /// <remarks>
    /// With <see cref="LongDocumentStrategy.Chunk"/>, scoring the query with
    /// <c>document.Substring(result.Span.Start, result.Span.Length)</c> as an ordinary pair gives exactly
    /// <see cref="PairScore.Logit"/> (each chunk fits, so it is scored as it stands), and a document that fits is a
    /// single chunk with exactly the score of <see cref="LongDocumentStrategy.Truncate"/>. Equality is bit for bit
    /// when pairs run one per model call (<see cref="CrossEncoderOptions.BatchSize"/> 1, the default, and always for a
    /// dynamically quantized model); in larger fp32 batches, padding moves a logit by float rounding, as it does
    /// for any pair.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// A query or document in <paramref name="pairs"/> is <see langword="null"/> (the message names its index); or,
    /// when chunking, a query leaves no room for document tokens in <see cref="CrossEncoderOptions.MaxLength"/> while
    /// its document does not fit (possible with <see cref="TruncationStrategy.QueryCapped"/> and a small
    /// <see cref="CrossEncoderOptions.MaxLength"/>).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The instance has been disposed.</exception>
    public PairScore[] ScorePairs(IReadOnlyList<(string Query, string Document)> pairs, LongDocumentOptions? longDocuments = null)
    {
        ValidatePairs(pairs);
        return ScoreCore(pairs, longDocuments ?? Options.LongDocuments, progress: null, CancellationToken.None);
    }

    /// <summary>Runs <see cref="ScorePairs"/> on a thread-pool thread, with progress and cancellation.</summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <param name="longDocuments">How documents that do not fit are scored, for this call; <see langword="null"/> for <see cref="CrossEncoderOptions.LongDocuments"/>.</param>
    /// <param name="progress">Receives how many (query, chunk) pairs are scored after each batch the model runs; the last report has all of them.</param>
    /// <param name="cancellationToken">
    /// Stops the call: checked between pairs and chunks while splitting and tokenizing, and between batches (chunks,
    /// at the default batch size of 1); a batch already running in ONNX Runtime is terminated.
    /// </param>
    /// <returns>The same results as <see cref="ScorePairs"/>.</returns>
    /// <remarks>The work runs on a thread-pool thread, as <see cref="PredictAsync"/> describes.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A query or document in <paramref name="pairs"/> is <see langword="null"/>; or a query leaves no room for a document that must be chunked (thrown by the returned task), as for <see cref="ScorePairs"/>.</exception>
    /// <exception cref="ObjectDisposedException">The instance has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the returned task).</exception>
    public Task<PairScore[]> ScorePairsAsync(
        IReadOnlyList<(string Query, string Document)> pairs,
        LongDocumentOptions? longDocuments = null,
        IProgress<ScoringProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ValidatePairs(pairs);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<PairScore[]>(cancellationToken);
        }

        var settings = longDocuments ?? Options.LongDocuments;
        return Task.Run(() => ScoreCore(pairs, settings, progress, cancellationToken), cancellationToken);
    }

    /// <summary>Scores validated pairs under <paramref name="settings"/>: one model pair each, or one per chunk.</summary>
    private PairScore[] ScoreCore(
        IReadOnlyList<(string Query, string Document)> pairs,
        LongDocumentOptions settings,
        IProgress<ScoringProgress>? progress,
        CancellationToken cancellationToken)
    {
        if (settings.Strategy == LongDocumentStrategy.Truncate)
        {
            var encodings = EncodeAll(pairs, cancellationToken);
            var logits = RunLogits(pairs, encodings, progress, cancellationToken);
            var whole = new PairScore[logits.Length];
            var scores = (float[])logits.Clone();
            Sigmoid(scores);
            for (var i = 0; i < whole.Length; i++)
            {
                whole[i] = new PairScore(scores[i], logits[i], new DocumentSpan(0, pairs[i].Document.Length), 1, encodings[i].IsTruncated);
            }

            return whole;
        }

        return ScoreChunked(pairs, settings, progress, cancellationToken);
    }

    private PairScore[] ScoreChunked(
        IReadOnlyList<(string Query, string Document)> pairs,
        LongDocumentOptions settings,
        IProgress<ScoringProgress>? progress,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var chunks = new List<PairEncoding>(pairs.Count);
        var chunkTexts = new List<(string Query, string Document)>(pairs.Count);
        var plans = new ChunkPlan[pairs.Count];
        var firstChunk = new int[pairs.Count + 1];
        string? budgetQuery = null;
        int queryTokens = 0, budget = 0;
        for (var i = 0; i < pairs.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (query, document) = pairs[i];
            if (!ReferenceEquals(query, budgetQuery))
            {
                // Rank passes one query string for every document: its budget is computed once.
                queryTokens = _encoder.CountTokens(query);
                budget = ChunkBudget.ForDocument(queryTokens, Options.MaxLength, _encoder.PairSpecialTokenCount, Options.Truncation);
                budgetQuery = query;
            }

            if (budget == 0 && _encoder.CountTokens(document) is var documentTokens and > 0)
            {
                throw new ArgumentException(
                    $"The query of pair {i} has {queryTokens} tokens, which leaves no room for document tokens in MaxLength {Options.MaxLength} " +
                    $"with {Options.Truncation} truncation, so its document ({documentTokens} tokens) cannot be split into chunks that fit. " +
                    "Shorten the query, raise MaxLength, use LongestFirst truncation, or score with LongDocumentStrategy.Truncate.");
            }

            var plan = DocumentChunker.Split(document, budget, settings.ChunkOverlap, settings.MaxChunksPerDocument, _encoder.CountTokens, cancellationToken);
            plans[i] = plan;
            firstChunk[i] = chunks.Count;
            foreach (var span in plan.Spans)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var text = span.Length == document.Length ? document : document.Substring(span.Start, span.Length);
                chunkTexts.Add((query, text));
                chunks.Add(Encode(query, text, cancellationToken));
            }
        }

        firstChunk[pairs.Count] = chunks.Count;
        // A non-finite logit names the (query, chunk) pair: its index counts chunks, its text is the chunk's.
        var logits = RunLogits(chunkTexts, [.. chunks], progress, cancellationToken);

        var results = new PairScore[pairs.Count];
        var best = new float[pairs.Count];
        var truncated = 0;
        for (var i = 0; i < results.Length; i++)
        {
            // The first chunk with the highest logit wins: ties go to the earlier text.
            var winner = firstChunk[i];
            var isTruncated = plans[i].LeftOut;
            for (var c = firstChunk[i]; c < firstChunk[i + 1]; c++)
            {
                winner = logits[c] > logits[winner] ? c : winner;
                isTruncated |= chunks[c].IsTruncated;
            }

            truncated += isTruncated ? 1 : 0;
            best[i] = logits[winner];
            results[i] = new PairScore(0, logits[winner], plans[i].Spans[winner - firstChunk[i]], firstChunk[i + 1] - firstChunk[i], isTruncated);
        }

        if (truncated > 0)
        {
            RerankerMetrics.TruncatedPairs.Add(truncated);
            Log.PairsTruncated(_logger, truncated, results.Length, Options.MaxLength);
        }

        Sigmoid(best);
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = results[i] with { Score = best[i] };
        }

        return results;
    }
}

using Microsoft.Extensions.VectorData;
using Reranker.Chunking;

namespace Reranker.Retrieval.Tests;

/// <summary>
/// <see cref="VectorSearchRerankExtensions"/> on a real <see cref="VectorStoreCollection{TKey, TRecord}"/> (in memory) of the
/// Microsoft.Extensions.VectorData.Abstractions package, scored by the tiny model: the over-fetch, the order and scores of
/// <see cref="CrossEncoder.Rank"/>, the vector score kept, long-document options and cancellation passed through.
/// </summary>
public sealed class VectorDataRerankTests : IDisposable
{
    private readonly CrossEncoder _reranker = CrossEncoder.Create(TestData.TinyModel);

    public void Dispose() => _reranker.Dispose();

    [Fact]
    public async Task SearchAndRerank_fetches_four_times_top_and_keeps_the_cross_encoders_best_with_the_vector_score()
    {
        var store = new InMemoryPassages(TestData.Passages);

        var results = await store.SearchAndRerankAsync(TestData.Query, top: 3, _reranker, p => p.Text);

        Assert.Equal(12, store.LastTop);
        var candidates = await store.SearchAsync(TestData.Query, 12).ToListAsync();
        var expected = _reranker.Rank(TestData.Query, [.. candidates.Select(c => c.Record.Text)], topK: 3);
        Assert.Equal(expected.Select(e => e.Index), results.Select(r => r.CandidateIndex));
        Assert.Equal(expected.Select(e => candidates[e.Index].Record), results.Select(r => r.Record));
        Assert.Equal(expected.Select(e => e.Score), results.Select(r => r.Score));
        Assert.Equal(expected.Select(e => candidates[e.Index].Score), results.Select(r => r.VectorScore));
        Assert.All(results, r => Assert.Equal((new DocumentSpan(0, r.Record.Text.Length), 1, false), (r.Span, r.ChunksScored, r.IsTruncated)));
        // The cross-encoder changed the vector search's order (otherwise this test would show nothing).
        Assert.NotEqual([0, 1, 2], results.Select(r => r.CandidateIndex));
    }

    [Fact]
    public async Task The_candidate_count_and_the_search_options_reach_the_store()
    {
        var store = new InMemoryPassages(TestData.Passages);
        var options = new VectorSearchOptions<Passage> { IncludeVectors = false };

        var results = await store.SearchAndRerankAsync(TestData.Query, top: 2, _reranker, p => p.Text, candidates: 5, searchOptions: options);

        Assert.Equal(5, store.LastTop);
        Assert.Same(options, store.LastOptions);
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.InRange(r.CandidateIndex, 0, 4));
    }

    [Fact]
    public async Task Rerank_reads_the_results_of_a_search_by_vector()
    {
        var store = new InMemoryPassages(TestData.Passages);
        var vector = new ReadOnlyMemory<float>(InMemoryPassages.Embed(TestData.Query));

        var results = await store.SearchAsync(vector, top: 8).RerankAsync(_reranker, TestData.Query, p => p.Text, top: 20);

        var candidates = await store.SearchAsync(vector, top: 8).ToListAsync();
        var expected = _reranker.Rank(TestData.Query, [.. candidates.Select(c => c.Record.Text)]);
        Assert.Equal(8, results.Count); // top beyond the candidates: all of them
        Assert.Equal(expected.Select(e => (candidates[e.Index].Record.Key, e.Score)), results.Select(r => (r.Record.Key, r.Score)));
    }

    [Fact]
    public async Task Long_document_options_flow_through_to_the_scoring()
    {
        using var reranker = CrossEncoder.Create(TestData.TinyModel, new CrossEncoderOptions { MaxLength = 64 });
        var longText = string.Join(' ', Enumerable.Range(0, 60).Select(i => $"문장 {i}번은 머신러닝에 대한 설명입니다."));
        var store = new InMemoryPassages([.. TestData.Passages, new Passage { Key = "long", Text = longText }]);
        var chunk = new LongDocumentOptions { Strategy = LongDocumentStrategy.Chunk, MaxChunksPerDocument = 4 };

        var results = await store.SearchAndRerankAsync(TestData.Query, top: 13, reranker, p => p.Text, candidates: 13, longDocuments: chunk);

        var result = Assert.Single(results, r => r.Record.Key == "long");
        var expected = reranker.ScorePairs([(TestData.Query, longText)], chunk)[0];
        Assert.Equal((expected.Score, expected.Span, expected.ChunksScored, expected.IsTruncated), (result.Score, result.Span, result.ChunksScored, result.IsTruncated));
        Assert.Equal(4, result.ChunksScored);
        Assert.True(result.IsTruncated);
        // Without the option the encoder's own setting (truncate) applies.
        var truncated = Assert.Single(await store.SearchAndRerankAsync(TestData.Query, top: 13, reranker, p => p.Text, candidates: 13), r => r.Record.Key == "long");
        Assert.Equal((1, new DocumentSpan(0, longText.Length)), (truncated.ChunksScored, truncated.Span));
    }

    [Fact]
    public async Task Cancellation_reaches_the_search_and_the_scoring()
    {
        var store = new InMemoryPassages(TestData.Passages);
        using var before = new CancellationTokenSource();
        await before.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.SearchAndRerankAsync(TestData.Query, 3, _reranker, p => p.Text, cancellationToken: before.Token));

        // Cancelled after the search, while the texts are read for scoring: the scoring stops.
        using var during = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.SearchAndRerankAsync(TestData.Query, 3, _reranker, p =>
        {
            during.Cancel();
            return p.Text;
        }, cancellationToken: during.Token));
        Assert.True(store.LastToken.CanBeCanceled, "the search did not get the caller's token");
    }

    [Fact]
    public async Task Bad_arguments_are_refused_with_their_names()
    {
        var store = new InMemoryPassages(TestData.Passages);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>("top", () => store.SearchAndRerankAsync(TestData.Query, 0, _reranker, p => p.Text));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>("candidates", () => store.SearchAndRerankAsync(TestData.Query, 5, _reranker, p => p.Text, candidates: 4));
        await Assert.ThrowsAsync<ArgumentNullException>("reranker", () => store.SearchAndRerankAsync(TestData.Query, 5, null!, p => p.Text));
        await Assert.ThrowsAsync<ArgumentNullException>("textSelector", () => store.SearchAndRerankAsync(TestData.Query, 5, _reranker, null!));
        var nullText = await Assert.ThrowsAsync<ArgumentException>("textSelector", () => store.SearchAndRerankAsync(TestData.Query, 5, _reranker, p => p.Key == "p3" ? null! : p.Text, candidates: 12));
        Assert.Contains("returned null for candidate", nullText.Message, StringComparison.Ordinal);
        Assert.Empty(await _reranker.RerankAsync(TestData.Query, Array.Empty<Passage>(), p => p.Text, top: 3));
    }
}

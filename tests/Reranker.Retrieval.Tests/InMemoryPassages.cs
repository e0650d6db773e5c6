using System.Runtime.CompilerServices;
using Microsoft.Extensions.VectorData;

namespace Reranker.Retrieval.Tests;

/// <summary>A passage record of the test store.</summary>
public sealed class Passage
{
    public required string Key { get; init; }

    public required string Text { get; init; }
}

/// <summary>
/// A real <see cref="VectorStoreCollection{TKey, TRecord}"/> kept in memory: a search embeds the query with a small
/// deterministic embedding (hashed character bigrams) and returns the most cosine-similar passages with their
/// similarity as the score. It records what each search was asked, so tests can see the over-fetch and the token.
/// </summary>
internal sealed class InMemoryPassages(IEnumerable<Passage> passages) : VectorStoreCollection<string, Passage>
{
    private const int Dimensions = 64;

    private readonly List<(Passage Passage, float[] Vector)> _rows = [.. passages.Select(p => (p, Embed(p.Text)))];

    public int? LastTop { get; private set; }

    public VectorSearchOptions<Passage>? LastOptions { get; private set; }

    public CancellationToken LastToken { get; private set; }

    public override string Name => "passages";

    public static float[] Embed(string text)
    {
        var vector = new float[Dimensions];
        for (var i = 0; i + 1 < text.Length; i++)
        {
            vector[((text[i] * 31) + text[i + 1]) % Dimensions] += 1;
        }

        var norm = MathF.Sqrt(vector.Sum(v => v * v));
        return norm == 0 ? vector : [.. vector.Select(v => v / norm)];
    }

    public override async IAsyncEnumerable<VectorSearchResult<Passage>> SearchAsync<TInput>(
        TInput searchValue, int top, VectorSearchOptions<Passage>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        LastTop = top;
        LastOptions = options;
        LastToken = cancellationToken;
        var query = searchValue switch
        {
            string text => Embed(text),
            ReadOnlyMemory<float> vector => vector.ToArray(),
            _ => throw new NotSupportedException($"Search input {typeof(TInput)}"),
        };
        var ranked = _rows
            .Select(r => (r.Passage, Score: (double)r.Vector.Zip(query, (a, b) => a * b).Sum()))
            .OrderByDescending(r => r.Score)
            .Take(top);
        foreach (var (passage, score) in ranked)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new VectorSearchResult<Passage>(passage, score);
        }
    }

    public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);

    public override Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override Task<Passage?> GetAsync(string key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(_rows.Select(r => r.Passage).FirstOrDefault(p => p.Key == key));

    public override IAsyncEnumerable<Passage> GetAsync(IEnumerable<string> keys, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public override IAsyncEnumerable<Passage> GetAsync(System.Linq.Expressions.Expression<Func<Passage, bool>> filter, int top, FilteredRecordRetrievalOptions<Passage>? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public override Task DeleteAsync(string key, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override Task DeleteAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override Task UpsertAsync(Passage record, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override Task UpsertAsync(IEnumerable<Passage> records, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override object? GetService(Type serviceType, object? serviceKey = null) => null;
}

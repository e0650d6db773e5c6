using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace Reranker.Retrieval.Tests;

/// <summary>
/// <see cref="TextSearchProviderRerankExtensions.WithReranking"/> inside the Microsoft Agent Framework: a real
/// <see cref="ChatClientAgent"/> with a real <see cref="TextSearchProvider"/> runs a question, and the chat client sees the
/// cross-encoder's best results in the context it is sent, in the cross-encoder's order.
/// </summary>
public sealed class AgentFrameworkRerankTests : IDisposable
{
    private readonly CrossEncoder _reranker = CrossEncoder.Create(TestData.TinyModel);

    public void Dispose() => _reranker.Dispose();

    [Fact]
    public async Task The_agent_is_given_the_reranked_top_results()
    {
        var searchedFor = new List<string>();
        var tokens = new List<CancellationToken>();
        // A first-stage search as a user writes one: here the store's order, 12 results to rerank.
        Func<string, CancellationToken, Task<IEnumerable<TextSearchProvider.TextSearchResult>>> search = (query, cancellationToken) =>
        {
            searchedFor.Add(query);
            tokens.Add(cancellationToken);
            return Task.FromResult(TestData.Passages.Select(p => new TextSearchProvider.TextSearchResult { SourceName = p.Key, Text = p.Text, RawRepresentation = p }));
        };
        var chat = new RecordingChatClient();
        var agent = new ChatClientAgent(chat, new ChatClientAgentOptions { AIContextProviders = [new TextSearchProvider(search.WithReranking(_reranker, top: 3))] });

        await agent.RunAsync(TestData.Query);

        var query = Assert.Single(searchedFor);
        Assert.Contains(TestData.Query, query, StringComparison.Ordinal);
        var expected = _reranker.Rank(query, [.. TestData.Passages.Select(p => p.Text)], topK: 3);
        var context = string.Join("\n", chat.Received.Select(m => m.Text));
        var positions = expected.Select(e => context.IndexOf(TestData.Passages[e.Index].Text, StringComparison.Ordinal)).ToArray();
        Assert.All(positions, p => Assert.True(p >= 0, $"a reranked result is missing from the agent's context:\n{context}"));
        Assert.Equal(positions.Order(), positions); // in the cross-encoder's order
        foreach (var left in TestData.Passages.Where((_, i) => expected.All(e => e.Index != i)))
        {
            Assert.DoesNotContain(left.Text, context, StringComparison.Ordinal);
        }

        Assert.NotEqual([0, 1, 2], expected.Select(e => e.Index));
        Assert.True(tokens.Single().CanBeCanceled || tokens.Single() == CancellationToken.None);
    }

    [Fact]
    public async Task The_wrapper_returns_the_searchs_own_objects_reordered_and_passes_the_token()
    {
        var results = TestData.Passages.Select(p => new TextSearchProvider.TextSearchResult { SourceName = p.Key, SourceLink = "https://example.invalid/" + p.Key, Text = p.Text, RawRepresentation = p }).ToArray();
        CancellationToken seen = default;
        Func<string, CancellationToken, Task<IEnumerable<TextSearchProvider.TextSearchResult>>> search = (_, cancellationToken) =>
        {
            seen = cancellationToken;
            return Task.FromResult<IEnumerable<TextSearchProvider.TextSearchResult>>(results);
        };
        using var cts = new CancellationTokenSource();

        var reranked = (await search.WithReranking(_reranker, top: 4)(TestData.Query, cts.Token)).ToArray();

        var expected = _reranker.Rank(TestData.Query, [.. TestData.Passages.Select(p => p.Text)], topK: 4);
        Assert.Equal(expected.Select(e => results[e.Index]), reranked); // the same instances
        Assert.Equal(cts.Token, seen);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => search.WithReranking(_reranker, top: 4)(TestData.Query, cts.Token));
        Assert.Throws<ArgumentOutOfRangeException>("top", () => search.WithReranking(_reranker, top: 0));
    }

    /// <summary>A chat client that records the messages an agent sends it and answers "ok".</summary>
    private sealed class RecordingChatClient : IChatClient
    {
        public List<ChatMessage> Received { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Received.AddRange(messages);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}

using Reranker.Inference;
using Reranker.Tokenization;

namespace Reranker.Tests.Support;

/// <summary>
/// A stand-in tokenizer that answers with the token ids the reference tokenizer produced (<c>pairs.jsonl</c>), so the
/// <see cref="CrossEncoder"/> logic can be tested against goldens independently of the C# tokenizer. Pairs that
/// are not in the goldens throw.
/// </summary>
internal sealed class GoldenPairEncoder : IPairEncoder
{
    private readonly Dictionary<(string, string, int, TruncationStrategy), GoldenPair> _rows =
        GoldenData.Pairs.ToDictionary(p => (p.Query, p.Passage, p.MaxLength, p.Truncation));

    public int PadId => 1;

    public int PairSpecialTokenCount => 4;
    public IEnumerable<(int Id, string What)> ProducibleIds => GoldenData.Pairs.SelectMany(p => p.InputIds).Distinct().Select(id => (id, "a golden id"));

    public static CrossEncoder CreateCrossEncoder(CrossEncoderOptions? options = null) =>
        CrossEncoder.CreateWithEncoder(TestPaths.TinyModel, options, _ => new GoldenPairEncoder());

    public PairEncoding EncodePair(string query, string document, int maxLength, TruncationStrategy truncation, CancellationToken cancellationToken = default)
    {
        if (!_rows.TryGetValue((query, document, maxLength, truncation), out var row))
        {
            throw new KeyNotFoundException($"No golden encoding for ({query}, {document}, {maxLength}, {truncation}).");
        }

        // The goldens do not record the split or whether text was cut: "fills max_length exactly" stands in for
        // "truncated". Tests use this flag only to check that CrossEncoder passes it through unchanged.
        return new PairEncoding((int[])row.InputIds.Clone(), -1, -1, row.InputIds.Length == maxLength);
    }

    public int CountTokens(string text) =>
        throw new NotSupportedException("The goldens record pair encodings only, not the tokens of one text: chunking needs the real tokenizer.");
}

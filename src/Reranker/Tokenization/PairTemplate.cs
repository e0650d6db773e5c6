namespace Reranker.Tokenization;

/// <summary>
/// The special ids around the sequences, from the post-processor: <c>Prefix A Middle B Suffix</c> for a pair,
/// <c>SinglePrefix A SingleSuffix</c> alone, each part with its segment (token type) ids. XLM-RoBERTa's template has
/// every type id 0; BERT's gives the second sequence and its closing <c>[SEP]</c> type id 1.
/// </summary>
internal sealed record PairTemplate(int[] Prefix, int[] Middle, int[] Suffix, int[] SinglePrefix, int[] SingleSuffix)
{
    /// <summary>Type ids of <see cref="Prefix"/>; all 0 unless the template says otherwise.</summary>
    public int[] PrefixTypeIds { get; init; } = new int[Prefix.Length];

    /// <summary>Type ids of <see cref="Middle"/>.</summary>
    public int[] MiddleTypeIds { get; init; } = new int[Middle.Length];

    /// <summary>Type ids of <see cref="Suffix"/>.</summary>
    public int[] SuffixTypeIds { get; init; } = new int[Suffix.Length];

    /// <summary>Type id of the first sequence's tokens (the query).</summary>
    public int FirstTypeId { get; init; }

    /// <summary>Type id of the second sequence's tokens (the document).</summary>
    public int SecondTypeId { get; init; }

    /// <summary>Type ids of <see cref="SinglePrefix"/>.</summary>
    public int[] SinglePrefixTypeIds { get; init; } = new int[SinglePrefix.Length];

    /// <summary>Type ids of <see cref="SingleSuffix"/>.</summary>
    public int[] SingleSuffixTypeIds { get; init; } = new int[SingleSuffix.Length];

    /// <summary>Type id of the tokens of a single sequence.</summary>
    public int SingleTypeId { get; init; }

    public int PairSpecialCount => Prefix.Length + Middle.Length + Suffix.Length;

    /// <summary>Whether every type id is 0 (a single-segment model such as XLM-RoBERTa).</summary>
    public bool AllTypeIdsZero =>
        FirstTypeId == 0 && SecondTypeId == 0 && SingleTypeId == 0
        && PrefixTypeIds.All(t => t == 0) && MiddleTypeIds.All(t => t == 0) && SuffixTypeIds.All(t => t == 0)
        && SinglePrefixTypeIds.All(t => t == 0) && SingleSuffixTypeIds.All(t => t == 0);

    /// <summary>Builds the ids and type ids of a pair from the kept tokens of each sequence.</summary>
    public (int[] Ids, int[] TypeIds) Pair(ReadOnlySpan<int> first, ReadOnlySpan<int> second)
    {
        var length = PairSpecialCount + first.Length + second.Length;
        var ids = new int[length];
        var types = new int[length];
        var at = 0;
        Append(ids, types, ref at, Prefix, PrefixTypeIds);
        Append(ids, types, ref at, first, FirstTypeId);
        Append(ids, types, ref at, Middle, MiddleTypeIds);
        Append(ids, types, ref at, second, SecondTypeId);
        Append(ids, types, ref at, Suffix, SuffixTypeIds);
        return (ids, types);
    }

    /// <summary>Builds the ids and type ids of one sequence alone.</summary>
    public (int[] Ids, int[] TypeIds) Single(ReadOnlySpan<int> sequence)
    {
        var length = SinglePrefix.Length + sequence.Length + SingleSuffix.Length;
        var ids = new int[length];
        var types = new int[length];
        var at = 0;
        Append(ids, types, ref at, SinglePrefix, SinglePrefixTypeIds);
        Append(ids, types, ref at, sequence, SingleTypeId);
        Append(ids, types, ref at, SingleSuffix, SingleSuffixTypeIds);
        return (ids, types);
    }

    private static void Append(int[] ids, int[] types, ref int at, ReadOnlySpan<int> part, ReadOnlySpan<int> partTypes)
    {
        part.CopyTo(ids.AsSpan(at));
        partTypes.CopyTo(types.AsSpan(at));
        at += part.Length;
    }

    private static void Append(int[] ids, int[] types, ref int at, ReadOnlySpan<int> part, int typeId)
    {
        part.CopyTo(ids.AsSpan(at));
        types.AsSpan(at, part.Length).Fill(typeId);
        at += part.Length;
    }
}

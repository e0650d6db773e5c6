namespace Reranker.Tests.Support;

/// <summary>
/// Test classes that run the 8192-token golden rows. One such run of the tiny model takes about 5 GB of attention
/// activations, so these classes run one at a time (beside the light ones) to keep the suite's peak memory within
/// an ordinary machine's.
/// </summary>
[CollectionDefinition(nameof(LongSequenceCollection))]
public sealed class LongSequenceCollection;

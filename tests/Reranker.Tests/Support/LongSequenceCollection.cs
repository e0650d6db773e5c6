namespace Reranker.Tests.Support;

/// <summary>
/// Test classes that run the 8192-token golden rows. Run as exported (unfused attention), one such run of the tiny
/// model takes about 5 GB of attention activations (about 120 MB with the default load-time attention rewrite), so
/// these classes run one at a time (beside the light ones) to keep the suite's peak memory within an ordinary
/// machine's.
/// </summary>
[CollectionDefinition(nameof(LongSequenceCollection))]
public sealed class LongSequenceCollection;

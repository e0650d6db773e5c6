namespace Reranker.Server.Tests;

/// <summary>
/// Tests that read counters off <c>/metrics</c> and assert on their change. OpenTelemetry's meter provider listens to
/// every meter of a name in the process, so two servers in one test process count each other's requests: these
/// classes run alone, never beside another server (measured: one server's 10 refused bodies were counted 20 times
/// while a parallel class sent its own).
/// </summary>
[CollectionDefinition(nameof(MetricsCollection), DisableParallelization = true)]
public sealed class MetricsCollection;

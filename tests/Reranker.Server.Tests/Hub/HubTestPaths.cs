namespace Reranker.Tests;

/// <summary>What the linked <c>FakeHubServer</c> of the library's tests needs from its own test project: the bundled model.</summary>
internal static class TestPaths
{
    public static string TinyModel => Reranker.Server.Tests.TestPaths.TinyModel;
}

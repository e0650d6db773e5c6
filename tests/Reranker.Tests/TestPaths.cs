namespace Reranker.Tests;

/// <summary>Locates the repository's bundled model and golden data from the test output folder.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string TinyModel => Path.Combine(RepoRoot, "models", "tiny-xlmr-reranker");

    public static string Fixture => Path.Combine(RepoRoot, "tests", "TestData", "tiny-xlmr-reranker");

    public static string Golden(string name) => Path.Combine(Fixture, "golden", name);

    /// <summary>The real bert-base-uncased vocabulary as a tokenizer.json (tests/TestData/bert-wordpiece).</summary>
    public static string BertTokenizerJson => Path.Combine(RepoRoot, "tests", "TestData", "bert-wordpiece", "tokenizer.json");

    /// <summary>The tiny BERT cross-encoder in optimum's layout (onnx/model.onnx), with Transformers.js goldens.</summary>
    public static string TinyBert => Path.Combine(RepoRoot, "tests", "TestData", "tiny-bert-reranker");

    public static string AutoRag(string name) => Path.Combine(RepoRoot, "tests", "TestData", "autorag-ko", name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Reranker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Reranker.sln not found above " + AppContext.BaseDirectory);
    }
}

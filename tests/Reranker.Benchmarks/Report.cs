namespace Reranker.Benchmarks;

internal static class Report
{
    public static void Write(string outDir, string docsPath) => throw new NotImplementedException(outDir + docsPath);
}

using Parquet.Serialization;

namespace Reranker.Tests;

/// <summary>The texts of the AutoRAG Korean benchmark bundled under tests/TestData/autorag-ko.</summary>
internal static class AutoRagData
{
    public static IReadOnlyList<string> Passages() =>
        Read<CorpusRow>("ocr_corpus_v3.parquet").Select(r => r.contents!).ToList();

    public static IReadOnlyList<string> Queries() =>
        Read<QaRow>("qa_v4.parquet").Select(r => r.query!).ToList();

    private static IList<T> Read<T>(string name)
        where T : class, new()
    {
        using var stream = File.OpenRead(TestPaths.AutoRag(name));
        return ParquetSerializer.DeserializeAsync<T>(stream).GetAwaiter().GetResult().Data;
    }

#pragma warning disable IDE1006, CA1812, SA1300 // Column names as the Parquet files spell them.
    private sealed class CorpusRow
    {
        public string? doc_id { get; set; }

        public string? contents { get; set; }
    }

    private sealed class QaRow
    {
        public string? qid { get; set; }

        public string? query { get; set; }
    }
#pragma warning restore IDE1006, CA1812, SA1300
}

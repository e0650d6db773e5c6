using System.Text.Json;
using System.Text.Json.Serialization;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Reranker.Cli.Eval;

/// <summary>
/// Reads AutoRAG-format QA and corpus files, as Parquet (AutoRAG's own files) or as JSONL (one JSON object a line).
/// The format is chosen by extension: <c>.parquet</c>, or <c>.jsonl</c>/<c>.ndjson</c>.
/// </summary>
/// <remarks>
/// JSONL schema: QA lines are <c>{"qid": string, "query": string, "retrieval_gt": [[string, ...], ...]}</c>;
/// corpus lines are <c>{"doc_id": string, "contents": string}</c>. Other properties are ignored, blank lines skipped.
/// Strings are kept exactly as stored: nothing is trimmed or normalised.
/// </remarks>
internal static class EvalDataReader
{
    private const string QidColumn = "qid";
    private const string QueryColumn = "query";
    private const string RetrievalGtColumn = "retrieval_gt";
    private const string DocIdColumn = "doc_id";
    private const string ContentsColumn = "contents";

    public static IReadOnlyList<QaItem> ReadQa(string path)
    {
        return Kind(path) switch
        {
            FileKind.Parquet => ReadQaParquet(path),
            _ => ReadQaJsonl(path),
        };
    }

    public static IReadOnlyList<CorpusItem> ReadCorpus(string path)
    {
        return Kind(path) switch
        {
            FileKind.Parquet => ReadCorpusParquet(path),
            _ => ReadCorpusJsonl(path),
        };
    }

    private enum FileKind
    {
        Parquet,
        Jsonl,
    }

    private static FileKind Kind(string path)
    {
        if (!File.Exists(path))
        {
            throw new EvalInputException($"file not found: {path}");
        }

        var ext = Path.GetExtension(path);
        if (ext.Equals(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            return FileKind.Parquet;
        }

        if (ext.Equals(".jsonl", StringComparison.OrdinalIgnoreCase) || ext.Equals(".ndjson", StringComparison.OrdinalIgnoreCase))
        {
            return FileKind.Jsonl;
        }

        throw new EvalInputException($"{path}: unknown format '{ext}'; expected a .parquet file (AutoRAG format) or a .jsonl file.");
    }

    // ---------------------------------------------------------------- Parquet

    private static List<QaItem> ReadQaParquet(string path)
    {
        var schema = ReadSchema(path);
        RequireColumns(path, schema, QidColumn, QueryColumn, RetrievalGtColumn);
        RequireStrings(path, schema, QidColumn, QueryColumn);
        var gt = schema.Fields.First(f => f.Name == RetrievalGtColumn);
        if (!IsListOfListOfString(gt))
        {
            throw new EvalInputException(
                $"{path}: column '{RetrievalGtColumn}' must be list<list<string>> (AutoRAG's groups of doc ids), found {Describe(gt)}.");
        }

        var rows = Deserialize<QaRow>(path);
        var items = new List<QaItem>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var where = $"{path}: row {i}";
            items.Add(new QaItem(
                Required(row.Qid, where, QidColumn),
                Required(row.Query, where, QueryColumn),
                ToGroups(row.RetrievalGt, where)));
        }

        return items;
    }

    private static List<CorpusItem> ReadCorpusParquet(string path)
    {
        var schema = ReadSchema(path);
        RequireColumns(path, schema, DocIdColumn, ContentsColumn);
        RequireStrings(path, schema, DocIdColumn, ContentsColumn);
        var rows = Deserialize<CorpusRow>(path);
        var items = new List<CorpusItem>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var where = $"{path}: row {i}";
            items.Add(new CorpusItem(Required(rows[i].DocId, where, DocIdColumn), Required(rows[i].Contents, where, ContentsColumn)));
        }

        return items;
    }

    private static ParquetSchema ReadSchema(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return ParquetReader.ReadSchemaAsync(stream).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is not EvalInputException and not OutOfMemoryException)
        {
            throw new EvalInputException($"{path}: not a readable Parquet file ({ex.Message})", ex);
        }
    }

    private static IList<T> Deserialize<T>(string path)
        where T : class, new()
    {
        try
        {
            using var stream = File.OpenRead(path);
            return ParquetSerializer.DeserializeAsync<T>(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception ex) when (ex is not EvalInputException and not OutOfMemoryException)
        {
            throw new EvalInputException($"{path}: could not read the rows ({ex.Message})", ex);
        }
    }

    private static void RequireColumns(string path, ParquetSchema schema, params string[] names)
    {
        var present = schema.Fields.Select(f => f.Name).ToList();
        var missing = names.Where(n => !present.Contains(n, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0)
        {
            throw new EvalInputException(
                $"{path}: missing column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(m => $"'{m}'"))} " +
                $"(found: {string.Join(", ", present)}).");
        }
    }

    private static bool IsListOfListOfString(Field field) =>
        field is ListField { Item: ListField { Item: var item } } && IsString(item);

    // Parquet.Net 6 reports UTF-8 columns as ReadOnlyMemory<char>.
    private static bool IsString(Field field) =>
        field is DataField { ClrType: var t } && (t == typeof(string) || t == typeof(ReadOnlyMemory<char>));

    private static void RequireStrings(string path, ParquetSchema schema, params string[] names)
    {
        foreach (var field in schema.Fields.Where(f => names.Contains(f.Name, StringComparer.Ordinal) && !IsString(f)))
        {
            throw new EvalInputException($"{path}: column '{field.Name}' must be a string column, found {Describe(field)}.");
        }
    }

    private static string Describe(Field field) => field switch
    {
        ListField list => $"list<{Describe(list.Item)}>",
        DataField data => IsString(data) ? "string" : data.ClrType.Name,
        _ => field.SchemaType.ToString(),
    };

    private static string Required(string? value, string where, string column) =>
        value ?? throw new EvalInputException($"{where}: '{column}' is null.");

    private static List<IReadOnlyList<string>> ToGroups(List<List<string>>? groups, string where)
    {
        if (groups is null)
        {
            throw new EvalInputException($"{where}: '{RetrievalGtColumn}' is null.");
        }

        var result = new List<IReadOnlyList<string>>(groups.Count);
        foreach (var group in groups)
        {
            if (group is null || group.Any(id => id is null))
            {
                throw new EvalInputException($"{where}: '{RetrievalGtColumn}' holds a null group or id.");
            }

            result.Add(group.ToArray());
        }

        return result;
    }

    // Parquet.Net maps columns by [JsonPropertyName]; columns the class omits (generation_gt, metadata) are not read.
    private sealed class QaRow
    {
        [JsonPropertyName(QidColumn)]
        public string? Qid { get; set; }

        [JsonPropertyName(QueryColumn)]
        public string? Query { get; set; }

        [JsonPropertyName(RetrievalGtColumn)]
        public List<List<string>>? RetrievalGt { get; set; }
    }

    private sealed class CorpusRow
    {
        [JsonPropertyName(DocIdColumn)]
        public string? DocId { get; set; }

        [JsonPropertyName(ContentsColumn)]
        public string? Contents { get; set; }
    }

    // ---------------------------------------------------------------- JSONL

    private static List<QaItem> ReadQaJsonl(string path)
    {
        var items = new List<QaItem>();
        foreach (var (line, root) in JsonLines(path))
        {
            var where = $"{path}: line {line}";
            var gtElement = Property(root, RetrievalGtColumn, where);
            if (gtElement.ValueKind != JsonValueKind.Array)
            {
                throw new EvalInputException($"{where}: '{RetrievalGtColumn}' must be an array of arrays of doc ids, e.g. [[\"doc-1\"]].");
            }

            var groups = new List<IReadOnlyList<string>>();
            foreach (var group in gtElement.EnumerateArray())
            {
                if (group.ValueKind != JsonValueKind.Array || group.EnumerateArray().Any(id => id.ValueKind != JsonValueKind.String))
                {
                    throw new EvalInputException($"{where}: '{RetrievalGtColumn}' must be an array of arrays of doc ids, e.g. [[\"doc-1\"]].");
                }

                groups.Add(group.EnumerateArray().Select(id => id.GetString()!).ToArray());
            }

            items.Add(new QaItem(StringProperty(root, QidColumn, where), StringProperty(root, QueryColumn, where), groups));
        }

        return items;
    }

    private static List<CorpusItem> ReadCorpusJsonl(string path)
    {
        var items = new List<CorpusItem>();
        foreach (var (line, root) in JsonLines(path))
        {
            var where = $"{path}: line {line}";
            items.Add(new CorpusItem(StringProperty(root, DocIdColumn, where), StringProperty(root, ContentsColumn, where)));
        }

        return items;
    }

    private static IEnumerable<(int Line, JsonElement Root)> JsonLines(string path)
    {
        var number = 0;
        foreach (var text in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(text);
                root = doc.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw new EvalInputException($"{path}: line {number}: not valid JSON ({ex.Message})", ex);
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new EvalInputException($"{path}: line {number}: expected a JSON object.");
            }

            yield return (number, root);
        }
    }

    private static JsonElement Property(JsonElement root, string name, string where) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : throw new EvalInputException($"{where}: missing '{name}'.");

    private static string StringProperty(JsonElement root, string name, string where)
    {
        var value = Property(root, name, where);
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new EvalInputException($"{where}: '{name}' must be a string, found {value.ValueKind}.");
    }
}

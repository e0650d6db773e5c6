using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Reranker.Cli.Eval;

/// <summary>What the stored scores depend on. A resumed run must match all three parts.</summary>
/// <param name="Model">SHA-256 over the ONNX file and the tokenizer/config files beside it.</param>
/// <param name="Candidates">SHA-256 over the candidate passages (ids and contents, in order).</param>
/// <param name="Scoring">The options that change a score: model file name, max length, truncation.</param>
internal sealed record EvalFingerprint(string Model, string Candidates, string Scoring)
{
    private static readonly string[] SideFiles =
        ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model"];

    /// <summary>Hashes the model file (and its external-data file, if any) and the tokenizer files of a model directory.</summary>
    public static string HashModel(string modelDirectory, string modelFile)
    {
        var files = new List<string> { modelFile, modelFile + ".data", modelFile + "_data" };
        files.AddRange(SideFiles);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in files)
        {
            var path = Path.Combine(modelDirectory, name);
            if (!File.Exists(path))
            {
                continue;
            }

            AppendString(hash, name);
            using var stream = File.OpenRead(path);
            hash.AppendData(SHA256.HashData(stream));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Hashes the candidate passages, ids and contents, in order.</summary>
    public static string HashCandidates(IReadOnlyList<CorpusItem> candidates)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var item in candidates)
        {
            AppendString(hash, item.DocId);
            AppendString(hash, item.Contents);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>SHA-256 of a query text: stored with each record so a changed query under the same qid is caught.</summary>
    public static string HashText(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static void AppendString(IncrementalHash hash, string value)
    {
        // Length-prefixed so that ("ab","c") and ("a","bc") hash differently.
        var bytes = Encoding.UTF8.GetBytes(value);
        hash.AppendData(BitConverter.GetBytes(bytes.Length));
        hash.AppendData(bytes);
    }
}

/// <summary>One of <paramref name="Count"/> shards of a run (<c>--shard Index/Count</c>, 0-based).</summary>
internal sealed record EvalShard(int Index, int Count)
{
    /// <summary>As written on the command line: <c>Index/Count</c>.</summary>
    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>
/// The append-only checkpoint of an evaluation: <c>scores.jsonl</c>, one header line, then one line per scored chunk.
/// </summary>
/// <remarks>
/// <para>Header: <c>{"format":"reranker-eval-scores/1","fingerprint":{"model":…,"candidates":…,"scoring":…},"doc_ids":[…]}</c>;
/// <c>doc_ids</c> are the candidates in scoring order. A shard's header adds <c>"shard":{"index":I,"count":N}</c>.</para>
/// <para>Record: <c>{"qid":…,"query_sha256":…,"start":i,"scores":[…]}</c>: the scores of candidates
/// <c>start .. start+n-1</c> for that query. A query's records are contiguous from 0.</para>
/// <para>Each record is written whole and flushed before the next chunk is scored. A line cut short by a crash is
/// dropped on the next open, so the run resumes at the last complete chunk.</para>
/// </remarks>
internal sealed class ScoreStore : IDisposable
{
    public const string FileName = "scores.jsonl";
    private const string Format = "reranker-eval-scores/1";

    // Doc ids and qids stay readable (Korean text is written as is, not as \u escapes).
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Dictionary<string, (string QuerySha, List<float> Scores)> _byQid = new(StringComparer.Ordinal);
    private readonly FileStream? _stream;
    private readonly string _path;
    private readonly int _candidateCount;

    private ScoreStore(string path, FileStream? stream, int candidateCount, EvalShard? shard)
    {
        _path = path;
        _stream = stream;
        _candidateCount = candidateCount;
        Shard = shard;
    }

    /// <summary>The shard this store holds (from the header once loaded); <see langword="null"/> for a whole run.</summary>
    public EvalShard? Shard { get; private set; }

    /// <summary>The query ids with at least one stored score.</summary>
    public IEnumerable<string> StoredQids => _byQid.Keys;

    /// <summary>Candidate scores already on disk when the store was opened.</summary>
    public long ResumedPairs { get; private set; }

    /// <summary>
    /// Opens (or creates) the store at <paramref name="path"/>. An existing file must carry the same fingerprint and
    /// candidate ids; otherwise this throws, unless <paramref name="restart"/> discards it.
    /// </summary>
    /// <exception cref="EvalInputException">The file belongs to another model, data set or options, or is corrupt.</exception>
    public static ScoreStore Open(string path, EvalFingerprint fingerprint, IReadOnlyList<string> docIds, bool restart, EvalShard? shard = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (restart && File.Exists(path))
        {
            File.Delete(path);
        }

        var existing = File.Exists(path) ? File.ReadAllBytes(path) : [];
        var lastNewline = Array.LastIndexOf(existing, (byte)'\n');
        var complete = existing.AsMemory(0, lastNewline + 1); // a cut-short tail is dropped

        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        var store = new ScoreStore(path, stream, docIds.Count, shard);
        try
        {
            stream.SetLength(complete.Length);
            stream.Seek(0, SeekOrigin.End);
            if (complete.Length == 0)
            {
                store.WriteHeader(fingerprint, docIds);
            }
            else
            {
                store.Load(complete, fingerprint, docIds, resuming: true);
                if (store.Shard != shard)
                {
                    throw new EvalInputException(
                        $"{path} holds the scores of {Describe(store.Shard)}, not of {Describe(shard)}; " +
                        "rerun with --restart to discard them, or use another --output.");
                }
            }

            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the finished or unfinished output of a shard, for <c>--merge</c>: its header must carry a shard and the
    /// fingerprint of the merging run. Nothing is written.
    /// </summary>
    /// <exception cref="EvalInputException">No scores file, not a shard's, or scored for another model, data or options.</exception>
    public static ScoreStore ReadShard(string path, EvalFingerprint fingerprint, IReadOnlyList<string> docIds)
    {
        if (!File.Exists(path))
        {
            throw new EvalInputException($"{path} does not exist: give the --output folders of the shard runs (each holds a {FileName}).");
        }

        var content = File.ReadAllBytes(path);
        var complete = content.AsMemory(0, Array.LastIndexOf(content, (byte)'\n') + 1);
        var store = new ScoreStore(path, null, docIds.Count, null);
        store.Load(complete, fingerprint, docIds, resuming: false);
        if (store.Shard is null)
        {
            throw new EvalInputException($"{path} holds the scores of a whole run, not of a shard (run with --shard I/N); there is nothing to merge it with.");
        }

        return store;
    }

    private static string Describe(EvalShard? shard) => shard is null ? "a whole run" : $"shard {shard}";

    /// <summary>How many leading candidates of <paramref name="query"/> already have scores.</summary>
    /// <exception cref="EvalInputException">The stored scores were computed for a different query text under this qid.</exception>
    public int CompletedCount(QaItem query)
    {
        if (!_byQid.TryGetValue(query.Qid, out var entry))
        {
            return 0;
        }

        if (entry.QuerySha != EvalFingerprint.HashText(query.Query))
        {
            throw new EvalInputException(
                $"{_path}: the text of query '{query.Qid}' differs from the one its stored scores were computed for; " +
                "rerun with --restart to discard the stored scores, or use another --output.");
        }

        return entry.Scores.Count;
    }

    /// <summary>The stored scores of a query, all candidates.</summary>
    public float[] GetScores(string qid)
    {
        var scores = _byQid[qid].Scores;
        if (scores.Count != _candidateCount)
        {
            throw new InvalidOperationException($"query '{qid}' has {scores.Count} of {_candidateCount} scores.");
        }

        return [.. scores];
    }

    /// <summary>Appends the scores of candidates <paramref name="start"/>.. of a query and flushes them.</summary>
    public void Append(QaItem query, int start, ReadOnlySpan<float> scores)
    {
        var have = _byQid.TryGetValue(query.Qid, out var entry) ? entry.Scores.Count : 0;
        if (start != have || start + scores.Length > _candidateCount)
        {
            throw new InvalidOperationException($"query '{query.Qid}': chunk at {start} does not follow the {have} stored scores.");
        }

        var sha = EvalFingerprint.HashText(query.Query);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("qid", query.Qid);
            json.WriteString("query_sha256", sha);
            json.WriteNumber("start", start);
            json.WriteStartArray("scores");
            foreach (var s in scores)
            {
                if (!float.IsFinite(s))
                {
                    throw new InvalidDataException($"the model returned a non-finite score ({s}) for query '{query.Qid}'.");
                }

                json.WriteNumberValue(s); // shortest round-trip form: reading it back gives the same float
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        WriteLine(buffer.WrittenSpan);
        if (entry.Scores is null)
        {
            entry = (sha, []);
            _byQid[query.Qid] = entry;
        }

        entry.Scores.AddRange(scores);
    }

    public void Dispose() => _stream?.Dispose();

    private void WriteHeader(EvalFingerprint fingerprint, IReadOnlyList<string> docIds)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("format", Format);
            json.WriteStartObject("fingerprint");
            json.WriteString("model", fingerprint.Model);
            json.WriteString("candidates", fingerprint.Candidates);
            json.WriteString("scoring", fingerprint.Scoring);
            json.WriteEndObject();
            json.WriteStartArray("doc_ids");
            foreach (var id in docIds)
            {
                json.WriteStringValue(id);
            }

            json.WriteEndArray();
            if (Shard is { } shard)
            {
                json.WriteStartObject("shard");
                json.WriteNumber("index", shard.Index);
                json.WriteNumber("count", shard.Count);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        WriteLine(buffer.WrittenSpan);
    }

    private void WriteLine(ReadOnlySpan<byte> json)
    {
        var stream = _stream ?? throw new InvalidOperationException("a shard read for merging is read-only.");
        stream.Write(json);
        stream.WriteByte((byte)'\n');
        stream.Flush();
    }

    private void Load(ReadOnlyMemory<byte> content, EvalFingerprint fingerprint, IReadOnlyList<string> docIds, bool resuming)
    {
        var lineNumber = 0;
        var rest = content;
        while (rest.Length > 0)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            var line = rest[..end];
            rest = rest[(end + 1)..];
            lineNumber++;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (lineNumber == 1)
                {
                    CheckHeader(doc.RootElement, fingerprint, docIds, resuming);
                    Shard = doc.RootElement.TryGetProperty("shard", out var shard)
                        ? new EvalShard(shard.GetProperty("index").GetInt32(), shard.GetProperty("count").GetInt32())
                        : null;
                }
                else
                {
                    LoadRecord(doc.RootElement);
                }
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new EvalInputException(
                    $"{_path}: line {lineNumber} is not a valid scores record ({ex.Message})" +
                    (resuming ? "; rerun with --restart to start over." : "; rerun that shard."), ex);
            }
        }
    }

    private void CheckHeader(JsonElement header, EvalFingerprint expected, IReadOnlyList<string> docIds, bool resuming)
    {
        if (header.GetProperty("format").GetString() != Format)
        {
            throw new EvalInputException($"{_path}: not a reranker eval scores file; rerun with --restart or use another --output.");
        }

        var fp = header.GetProperty("fingerprint");
        var changed = new List<string>();
        if (fp.GetProperty("model").GetString() != expected.Model)
        {
            changed.Add("the model (ONNX or tokenizer files)");
        }

        if (fp.GetProperty("candidates").GetString() != expected.Candidates)
        {
            changed.Add("the candidate passages (corpus file or --corpus-sample/--seed)");
        }

        if (fp.GetProperty("scoring").GetString() is var scoring && scoring != expected.Scoring)
        {
            changed.Add($"the scoring options (stored: {scoring}; now: {expected.Scoring})");
        }

        var storedIds = header.GetProperty("doc_ids").EnumerateArray().Select(e => e.GetString()).ToList();
        if (changed.Count == 0 && !storedIds.SequenceEqual(docIds, StringComparer.Ordinal))
        {
            changed.Add("the candidate doc ids");
        }

        if (changed.Count > 0)
        {
            throw new EvalInputException(resuming
                ? $"{_path} holds scores from a different run: changed {string.Join(", ", changed)}. " +
                  "Refusing to resume; rerun with --restart to discard them, or use another --output."
                : $"{_path} was scored by a different run than this merge: changed {string.Join(", ", changed)}. " +
                  "Merge with the same --model, --model-file, --corpus, --corpus-sample, --seed, --max-length and --truncation as the shards were run with.");
        }
    }

    private void LoadRecord(JsonElement record)
    {
        var qid = record.GetProperty("qid").GetString() ?? throw new FormatException("null qid");
        var sha = record.GetProperty("query_sha256").GetString() ?? throw new FormatException("null query_sha256");
        var start = record.GetProperty("start").GetInt32();
        if (!_byQid.TryGetValue(qid, out var entry))
        {
            entry = (sha, []);
            _byQid[qid] = entry;
        }

        if (entry.QuerySha != sha || start != entry.Scores.Count)
        {
            throw new FormatException($"record of '{qid}' at {start} does not continue its {entry.Scores.Count} stored scores");
        }

        foreach (var s in record.GetProperty("scores").EnumerateArray())
        {
            entry.Scores.Add(s.GetSingle());
        }

        if (entry.Scores.Count > _candidateCount)
        {
            throw new FormatException($"'{qid}' has more scores than candidates");
        }

        ResumedPairs += record.GetProperty("scores").GetArrayLength();
    }
}

using System.Globalization;

namespace Reranker.Inference;

/// <summary>
/// Checks, when a model is loaded, that the tokenizer, <c>config.json</c> and <see cref="CrossEncoderOptions.MaxLength"/>
/// fit the model graph itself: every id the tokenizer can produce is a row of the word-embedding table (ONNX Gather
/// reads out of range fail at run time, and negative indices are silently taken from the end), and every position a
/// pair of <c>MaxLength</c> tokens uses is a row of the position table.
/// </summary>
internal static class ModelFit
{
    /// <summary>The graph input that carries token ids.</summary>
    private const string InputIds = LogitSession.InputIdsName;

    /// <summary>
    /// Finds the word-embedding table (the table a <c>Gather</c> or <c>EmbedLayerNormalization</c> indexes with
    /// <c>input_ids</c>) and the position table (the other embedding table of the same width whose name says
    /// "position", or the position input of <c>EmbedLayerNormalization</c>).
    /// </summary>
    /// <returns>The tables found; either is <see langword="null"/> when the graph does not show it.</returns>
    public static (Table? Words, Table? Positions) FindEmbeddingTables(OnnxGraphSummary graph)
    {
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == "EmbedLayerNormalization" && node.Inputs.Count > 2 && IsFromInputIds(graph, node.Inputs[0]))
            {
                var words = AsTable(graph.ResolveTable(node.Inputs[2]));
                var positions = node.Inputs.Count > 3 && node.Inputs[3].Length > 0 ? AsTable(graph.ResolveTable(node.Inputs[3])) : null;
                return (words, positions);
            }
        }

        Table? wordTable = null;
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == "Gather" && node.Inputs.Count == 2 && IsFromInputIds(graph, node.Inputs[1])
                && AsTable(graph.ResolveTable(node.Inputs[0])) is { } table)
            {
                wordTable = table;
                break;
            }
        }

        if (wordTable is null)
        {
            return (null, null);
        }

        Table? positionTable = null;
        foreach (var node in graph.Nodes)
        {
            if (node.OpType != "Gather" || node.Inputs.Count != 2 || IsFromInputIds(graph, node.Inputs[1]))
            {
                continue;
            }

            if (AsTable(graph.ResolveTable(node.Inputs[0])) is { } table
                && table.Name != wordTable.Name
                && table.Width == wordTable.Width
                && table.Name.Contains("position", StringComparison.OrdinalIgnoreCase)
                && (positionTable is null || table.Rows > positionTable.Rows))
            {
                positionTable = table;
            }
        }

        return (wordTable, positionTable);
    }

    /// <summary>Checks the tokenizer's ids, config.json and MaxLength against the model's tables.</summary>
    /// <param name="modelPath">The ONNX file, for messages.</param>
    /// <param name="words">The word-embedding table, if found.</param>
    /// <param name="positions">The position table, if found.</param>
    /// <param name="tokenizerIds">Every id the tokenizer can produce, with what produces it.</param>
    /// <param name="config">The model's config.json.</param>
    /// <param name="configPath">Its path, for messages.</param>
    /// <param name="maxLength">The longest pair the caller will feed, special tokens included.</param>
    /// <exception cref="InvalidDataException">The tokenizer or config.json does not fit the model graph.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> exceeds the position table.</exception>
    public static void Check(
        string modelPath,
        Table? words,
        Table? positions,
        IEnumerable<(int Id, string What)> tokenizerIds,
        ModelConfig config,
        string configPath,
        int maxLength)
    {
        if (words is not null)
        {
            foreach (var (id, what) in tokenizerIds)
            {
                if (id < 0 || id >= words.Rows)
                {
                    throw new InvalidDataException(
                        $"The tokenizer does not fit the model: {what} has id {id}, but the model's word-embedding table " +
                        $"'{words.Name}' in '{modelPath}' has {words.Rows} rows (ids 0 to {words.Rows - 1}). Expected the tokenizer made for this model.");
                }
            }
        }

        if (positions is null)
        {
            return;
        }

        if (config.MaxPositionEmbeddings is { } declared && declared > positions.Rows)
        {
            throw new InvalidDataException(
                $"'{configPath}' declares max_position_embeddings {declared}, but the model's position table '{positions.Name}' in " +
                $"'{modelPath}' has {positions.Rows} rows. Expected the config.json of this model.");
        }

        var limit = positions.Rows - config.PositionOffset;
        if (maxLength > limit)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxLength),
                maxLength,
                string.Create(CultureInfo.InvariantCulture, $"MaxLength {maxLength} exceeds the {limit} tokens the model takes (its position table '{positions.Name}' in '{modelPath}' has {positions.Rows} rows, positions start at {config.PositionOffset})."));
        }
    }

    private static bool IsFromInputIds(OnnxGraphSummary graph, string tensor)
    {
        for (var hops = 0; hops < 4; hops++)
        {
            if (tensor == InputIds)
            {
                return true;
            }

            var producer = graph.Nodes.FirstOrDefault(n => n.Outputs.Contains(tensor, StringComparer.Ordinal));
            if (producer is null || producer.OpType is not ("Cast" or "Identity") || producer.Inputs.Count == 0)
            {
                return false;
            }

            tensor = producer.Inputs[0];
        }

        return false;
    }

    private static Table? AsTable((string Name, long[] Dims)? resolved) =>
        resolved is { } r && r.Dims.Length == 2 && r.Dims[0] > 0 ? new Table(r.Name, r.Dims[0], r.Dims[1]) : null;

    /// <summary>An embedding table: its initializer name, rows and width.</summary>
    internal sealed record Table(string Name, long Rows, long Width);
}

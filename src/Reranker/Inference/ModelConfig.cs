using System.Text.Json;

namespace Reranker.Inference;

/// <summary>The facts this library needs from a Hugging Face <c>config.json</c>.</summary>
/// <param name="LabelCount">Number of output labels (<c>num_labels</c>, else the size of <c>id2label</c>); <see langword="null"/> when the file says neither.</param>
/// <param name="MaxPositionEmbeddings"><c>max_position_embeddings</c>, or <see langword="null"/> when absent.</param>
internal sealed record ModelConfig(int? LabelCount, int? MaxPositionEmbeddings)
{
    /// <summary>
    /// The position offset assumed when the config does not name the model family: XLM-RoBERTa's 2, the larger of
    /// the known offsets, so an unknown model is never fed a position beyond its table.
    /// </summary>
    public const int DefaultPositionOffset = 2;

    /// <summary>
    /// Where position ids start. RoBERTa-family models (XLM-RoBERTa, bge-reranker-v2-m3, jina-reranker-v2) number
    /// positions from <c>pad_token_id + 1</c> = 2, so a model with <c>max_position_embeddings</c> P takes at most P - 2
    /// tokens (8194 - 2 = 8192 for bge-reranker-v2-m3, 1026 - 2 = 1024 for jina-reranker-v2); BERT and others from 0
    /// (512 for ms-marco-MiniLM). Unknown families: <see cref="DefaultPositionOffset"/>.
    /// </summary>
    public int PositionOffset { get; init; } = DefaultPositionOffset;

    /// <summary>The model family as <c>model_type</c> (else the first <c>architectures</c> entry) names it, for messages.</summary>
    public string? Family { get; init; }

    /// <summary>The longest input, special tokens included, that the position table allows; <see langword="null"/> when unknown.</summary>
    public int? MaxSequenceLength => MaxPositionEmbeddings - PositionOffset;

    /// <summary>Model types whose positions start at 0: BERT and its relatives, and models with rotary positions (gte's "new").</summary>
    private static readonly HashSet<string> ZeroOffsetTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "bert", "distilbert", "electra", "albert", "mpnet", "ernie", "new", "modernbert", "nomic_bert", "megatron-bert",
    };

    /// <summary>The RoBERTa family (positions from <c>pad_token_id + 1</c>), by <c>model_type</c> or architecture name.</summary>
    private static bool IsRobertaFamily(string? modelType, IReadOnlyList<string> architectures) =>
        modelType is { } t
            ? t.Contains("roberta", StringComparison.OrdinalIgnoreCase) || t.Equals("camembert", StringComparison.OrdinalIgnoreCase)
            : architectures.Any(a => a.Contains("Roberta", StringComparison.OrdinalIgnoreCase) || a.StartsWith("Camembert", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads and checks <c>config.json</c>.</summary>
    /// <remarks>
    /// Only a JSON object is required: every field is optional and checked when present (<c>{}</c> loads). The model
    /// graph is the authority for what the file leaves out: the <c>logits</c> width and, through
    /// <see cref="ModelFit"/>, the embedding and position tables.
    /// </remarks>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a JSON object or a field has the wrong type.</exception>
    /// <exception cref="NotSupportedException">The model has more than one label.</exception>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Model configuration not found: '{path}'.", path);
        }

        ModelConfig config;
        try
        {
            using var stream = File.OpenRead(path);
            using var document = JsonDocument.Parse(stream);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{path}' is not a JSON object.");
            }

            int? labels = null;
            if (root.TryGetProperty("num_labels", out var numLabels))
            {
                labels = numLabels.GetInt32();
            }
            else if (root.TryGetProperty("id2label", out var id2Label))
            {
                labels = id2Label.EnumerateObject().Count();
            }

            int? maxPositions = root.TryGetProperty("max_position_embeddings", out var positions) ? positions.GetInt32() : null;
            var modelType = root.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
            var architectures = root.TryGetProperty("architectures", out var archs) && archs.ValueKind == JsonValueKind.Array
                ? archs.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!).ToList()
                : [];
            var offset = DefaultPositionOffset;
            if (IsRobertaFamily(modelType, architectures))
            {
                // RoBERTa's create_position_ids_from_input_ids: padding_idx + 1 onwards.
                offset = (root.TryGetProperty("pad_token_id", out var pad) && pad.ValueKind == JsonValueKind.Number ? pad.GetInt32() : 1) + 1;
            }
            else if ((modelType is { } known && ZeroOffsetTypes.Contains(known))
                     || (modelType is null && architectures.Count > 0 && architectures.All(a => a.StartsWith("Bert", StringComparison.Ordinal) || a.StartsWith("New", StringComparison.Ordinal))))
            {
                offset = 0;
            }

            config = new ModelConfig(labels, maxPositions) { PositionOffset = offset, Family = modelType ?? architectures.FirstOrDefault() };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"Model configuration '{path}' is malformed: {e.Message}", e);
        }

        if (config.LabelCount is { } count && count != 1)
        {
            throw new NotSupportedException(
                $"'{path}' declares {count} labels; a cross-encoder reranker has exactly one (a single relevance logit).");
        }

        if (config.MaxPositionEmbeddings is { } max && max <= config.PositionOffset)
        {
            throw new InvalidDataException($"'{path}' declares max_position_embeddings {max}, too small for any input.");
        }

        return config;
    }

    /// <summary>
    /// The tokenizer's own maximum length: <c>model_max_length</c> in <c>tokenizer_config.json</c> beside the model
    /// (1024 for jina-reranker-v2, 512 for ms-marco-MiniLM), or <see langword="null"/> when the file or the field is
    /// absent, or holds transformers' "no limit" value (about 1e30).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a JSON object.</exception>
    public static int? ReadModelMaxLength(string tokenizerConfigPath)
    {
        if (!File.Exists(tokenizerConfigPath))
        {
            return null;
        }

        try
        {
            using var stream = File.OpenRead(tokenizerConfigPath);
            using var document = JsonDocument.Parse(stream);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{tokenizerConfigPath}' is not a JSON object.");
            }

            return document.RootElement.TryGetProperty("model_max_length", out var value)
                   && value.ValueKind == JsonValueKind.Number
                   && value.TryGetDouble(out var length)
                   && length is >= 1 and < 10_000_000
                ? (int)length
                : null;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{tokenizerConfigPath}' is malformed: {e.Message}", e);
        }
    }
}

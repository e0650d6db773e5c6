using System.Text.Json;

namespace Reranker.Inference;

/// <summary>The facts this library needs from a Hugging Face <c>config.json</c>.</summary>
/// <param name="LabelCount">Number of output labels (<c>num_labels</c>, else the size of <c>id2label</c>); <see langword="null"/> when the file says neither.</param>
/// <param name="MaxPositionEmbeddings"><c>max_position_embeddings</c>, or <see langword="null"/> when absent.</param>
internal sealed record ModelConfig(int? LabelCount, int? MaxPositionEmbeddings)
{
    /// <summary>
    /// XLM-R numbers positions from <c>pad_token_id + 1</c> = 2, so a model with <c>max_position_embeddings</c> P
    /// takes at most P - 2 tokens (8194 - 2 = 8192 for bge-reranker-v2-m3).
    /// </summary>
    public const int PositionOffset = 2;

    /// <summary>The longest input, special tokens included, that the position table allows; <see langword="null"/> when unknown.</summary>
    public int? MaxSequenceLength => MaxPositionEmbeddings - PositionOffset;

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
            config = new ModelConfig(labels, maxPositions);
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

        if (config.MaxPositionEmbeddings is { } max && max <= PositionOffset)
        {
            throw new InvalidDataException($"'{path}' declares max_position_embeddings {max}, too small for any input.");
        }

        return config;
    }
}

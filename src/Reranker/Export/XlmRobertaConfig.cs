using System.Globalization;
using System.Text.Json;

namespace Reranker.Export;

/// <summary>
/// The parts of a Hugging Face <c>config.json</c> that define an <c>XLMRobertaForSequenceClassification</c> graph
/// (or a <c>BertForSequenceClassification</c> one, the same encoder with positions from 0, segment embeddings and a
/// pooler). <see cref="Parse"/> refuses anything this exporter cannot reproduce exactly.
/// </summary>
public sealed record XlmRobertaConfig
{
    /// <summary>The architecture of XLM-RoBERTa rerankers (bge-reranker-v2-m3 and its fine-tunes).</summary>
    public const string SupportedArchitecture = "XLMRobertaForSequenceClassification";

    /// <summary>The architecture of BERT cross-encoders (ms-marco-MiniLM and its siblings).</summary>
    public const string BertArchitecture = "BertForSequenceClassification";

    /// <summary>The architecture: <see cref="SupportedArchitecture"/> (the default) or <see cref="BertArchitecture"/>.</summary>
    public string Architecture { get; init; } = SupportedArchitecture;

    /// <summary>Whether this is a BERT model: inputs with <c>token_type_ids</c>, positions from 0, a pooler before the classifier.</summary>
    public bool IsBert => Architecture == BertArchitecture;

    /// <summary>Prefix of the encoder's parameter names: <c>roberta.</c> or <c>bert.</c>.</summary>
    internal string Prefix => IsBert ? "bert." : "roberta.";

    /// <summary>Vocabulary size (rows of the word embedding table).</summary>
    public required int VocabSize { get; init; }

    /// <summary>Hidden size.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Number of encoder layers.</summary>
    public required int NumHiddenLayers { get; init; }

    /// <summary>Number of attention heads (must divide <see cref="HiddenSize"/>).</summary>
    public required int NumAttentionHeads { get; init; }

    /// <summary>Width of the feed-forward layer.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Rows of the position embedding table.</summary>
    public required int MaxPositionEmbeddings { get; init; }

    /// <summary>Rows of the token type embedding table (at least 1; only type 0 is used).</summary>
    public required int TypeVocabSize { get; init; }

    /// <summary>Id of the padding token (also the position-id offset).</summary>
    public required int PadTokenId { get; init; }

    /// <summary>Epsilon of every LayerNorm.</summary>
    public required double LayerNormEps { get; init; }

    /// <summary>Standard deviation of the random initialization (Hugging Face <c>initializer_range</c>).</summary>
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Reads and validates a <c>config.json</c> file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid JSON or lacks a required field.</exception>
    /// <exception cref="NotSupportedException">The model is not a one-label XLM-R sequence classifier.</exception>
    public static XlmRobertaConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"config file not found: {path}", path);
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates the text of a <c>config.json</c>; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">The text is not valid JSON or lacks a required field.</exception>
    /// <exception cref="NotSupportedException">The model is not a one-label XLM-R sequence classifier.</exception>
    public static XlmRobertaConfig Parse(string json, string source = "config.json")
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(json);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{source}: expected a JSON object");
        }

        var architectures = root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray().Select(e => e.ToString()).ToArray()
            : [];
        if (architectures.Length != 1 || architectures[0] is not (SupportedArchitecture or BertArchitecture))
        {
            var found = architectures.Length == 0 ? "no \"architectures\" entry" : "[" + string.Join(", ", architectures) + "]";
            throw new NotSupportedException(
                $"{source}: architectures is {found}; only {SupportedArchitecture} and {BertArchitecture} (one label) are supported");
        }

        var numLabels = root.TryGetProperty("num_labels", out var nl) && nl.ValueKind == JsonValueKind.Number
            ? nl.GetInt32()
            : root.TryGetProperty("id2label", out var id2) && id2.ValueKind == JsonValueKind.Object
                ? id2.EnumerateObject().Count()
                : 2; // transformers' default
        if (numLabels != 1)
        {
            throw new NotSupportedException(
                $"{source}: the classifier has {numLabels} labels; only 1 label (a reranker's single logit) is supported");
        }

        var positionType = OptionalString(root, "position_embedding_type") ?? "absolute";
        if (positionType != "absolute")
        {
            throw new NotSupportedException(
                $"{source}: position_embedding_type is \"{positionType}\"; only \"absolute\" is supported");
        }

        var act = OptionalString(root, "hidden_act") ?? "gelu";
        if (act != "gelu")
        {
            throw new NotSupportedException($"{source}: hidden_act is \"{act}\"; only \"gelu\" (exact erf GELU) is supported");
        }

        var config = new XlmRobertaConfig
        {
            Architecture = architectures[0],
            VocabSize = RequiredInt(root, "vocab_size", source),
            HiddenSize = RequiredInt(root, "hidden_size", source),
            NumHiddenLayers = RequiredInt(root, "num_hidden_layers", source),
            NumAttentionHeads = RequiredInt(root, "num_attention_heads", source),
            IntermediateSize = RequiredInt(root, "intermediate_size", source),
            MaxPositionEmbeddings = RequiredInt(root, "max_position_embeddings", source),
            TypeVocabSize = RequiredInt(root, "type_vocab_size", source),
            PadTokenId = RequiredInt(root, "pad_token_id", source),
            LayerNormEps = RequiredDouble(root, "layer_norm_eps", source),
            InitializerRange = root.TryGetProperty("initializer_range", out var ir) && ir.ValueKind == JsonValueKind.Number
                ? ir.GetDouble()
                : 0.02,
        };
        if (config.HiddenSize % config.NumAttentionHeads != 0)
        {
            throw new InvalidDataException(
                $"{source}: hidden_size {config.HiddenSize} is not a multiple of num_attention_heads {config.NumAttentionHeads}");
        }

        if (config.PadTokenId >= config.VocabSize || config.PadTokenId >= config.MaxPositionEmbeddings)
        {
            throw new InvalidDataException($"{source}: pad_token_id {config.PadTokenId} is outside the embedding tables");
        }

        return config;
    }

    /// <summary>The parameters of the model by their Hugging Face names, with their shapes (torch layout).</summary>
    public IReadOnlyList<(string Name, long[] Shape)> ParameterShapes()
    {
        long h = HiddenSize, f = IntermediateSize;
        var e = Prefix + "embeddings.";
        var list = new List<(string, long[])>
        {
            (e + "word_embeddings.weight", [VocabSize, h]),
            (e + "position_embeddings.weight", [MaxPositionEmbeddings, h]),
            (e + "token_type_embeddings.weight", [TypeVocabSize, h]),
            (e + "LayerNorm.weight", [h]),
            (e + "LayerNorm.bias", [h]),
        };
        for (var i = 0; i < NumHiddenLayers; i++)
        {
            var p = $"{Prefix}encoder.layer.{i}.";
            foreach (var (name, outDim, inDim) in new[]
                     {
                         ("attention.self.query", h, h), ("attention.self.key", h, h), ("attention.self.value", h, h),
                         ("attention.output.dense", h, h), ("intermediate.dense", f, h), ("output.dense", h, f),
                     })
            {
                list.Add((p + name + ".weight", [outDim, inDim]));
                list.Add((p + name + ".bias", [outDim]));
            }

            foreach (var ln in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                list.Add((p + ln + ".weight", [h]));
                list.Add((p + ln + ".bias", [h]));
            }
        }

        var (dense, output) = HeadNames;
        list.Add((dense + ".weight", [h, h]));
        list.Add((dense + ".bias", [h]));
        list.Add((output + ".weight", [1, h]));
        list.Add((output + ".bias", [1]));
        return list;
    }

    /// <summary>The two linears of the head on the first token (dense, tanh, output): RoBERTa's classification head, or BERT's pooler and classifier.</summary>
    internal (string Dense, string Output) HeadNames => IsBert ? ("bert.pooler.dense", "classifier") : ("classifier.dense", "classifier.out_proj");

    /// <summary>Total number of parameters.</summary>
    public long ParameterCount => ParameterShapes().Sum(p => p.Shape.Aggregate(1L, (x, y) => x * y));

    private static string? OptionalString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int RequiredInt(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var i))
        {
            throw new InvalidDataException($"{source}: \"{name}\" is missing or not an integer");
        }

        if (i < 0 || (i == 0 && name != "pad_token_id"))
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: \"{name}\" is {i}"));
        }

        return i;
    }

    private static double RequiredDouble(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Number)
        {
            throw new InvalidDataException($"{source}: \"{name}\" is missing or not a number");
        }

        return v.GetDouble();
    }
}

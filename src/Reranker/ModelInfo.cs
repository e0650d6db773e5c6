using Reranker.Inference;

namespace Reranker;

/// <summary>How the weights of a loaded model are stored and computed.</summary>
public enum ModelPrecision
{
    /// <summary>Floating point, not quantized: an fp32 export such as <c>reranker export</c> or optimum write.</summary>
    Float = 0,

    /// <summary>
    /// Dynamically quantized int8 (<c>DynamicQuantizeLinear</c>/<c>DynamicQuantizeMatMul</c> nodes, as written by
    /// <c>reranker export --int8</c> or onnxruntime's <c>quantize_dynamic</c>); such a model runs one pair per call.
    /// </summary>
    Int8 = 1,
}

/// <summary>What a <see cref="CrossEncoder"/> loaded: its model file and precision, and its tokenizer.</summary>
/// <param name="Directory">The model directory (full path).</param>
/// <param name="ModelPath">The ONNX file that was loaded (full path).</param>
/// <param name="Precision">Whether the model is dynamically quantized int8 or floating point.</param>
/// <param name="TokenizerPath">The tokenizer file that was loaded: <c>tokenizer.json</c>, or <c>sentencepiece.bpe.model</c> for the fallback.</param>
/// <param name="TokenizerMatchesHuggingFace">
/// <see langword="true"/> when the tokenizer is read from <c>tokenizer.json</c> and gives the ids of the Hugging Face fast
/// tokenizer (what transformers, sentence-transformers and FlagEmbedding feed the model); <see langword="false"/> for the
/// SentencePiece fallback, which follows the SentencePiece library and differs on rare inputs.
/// </param>
public sealed record ModelInfo(string Directory, string ModelPath, ModelPrecision Precision, string TokenizerPath, bool TokenizerMatchesHuggingFace)
{
    internal static ModelInfo Describe(string directory, string modelPath, bool dynamicallyQuantized, IPairEncoder encoder)
    {
        var json = Path.Combine(directory, "tokenizer.json");
        var tokenizerPath = File.Exists(json) ? json : Path.Combine(directory, "sentencepiece.bpe.model");
        var matches = encoder is TokenizerPairEncoder x ? x.MatchesHuggingFace : tokenizerPath == json;
        return new ModelInfo(directory, modelPath, dynamicallyQuantized ? ModelPrecision.Int8 : ModelPrecision.Float, tokenizerPath, matches);
    }
}

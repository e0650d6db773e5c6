using System.Text.Json.Nodes;
using Reranker.Tests.Support;
using Reranker.Tokenization;
using DataType = Reranker.Export.Onnx.TensorProto.Types.DataType;

namespace Reranker.Tests;

/// <summary>
/// Repositories that ship ONNX, in their real layouts, with miniature stand-ins (the real files cannot be downloaded
/// here): jina-reranker-v2-base-multilingual (XLM-R tokenizer, config without model_type, onnx/model.onnx with
/// fp16 and quantized variants, model_max_length 1024, max_position_embeddings 1026) and
/// gte-multilingual-reranker-base from onnx-community (model_type "new" with rotary positions, 8192 tokens,
/// onnx/model.onnx with its weights in model.onnx_data).
/// </summary>
public sealed class ShippedOnnxLayoutTests : IDisposable
{
    private static readonly (string Query, string Document)[] Pairs =
    [
        ("머신러닝이란?", "머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다."),
        ("hello", "world"),
        ("", "빈 질문"),
        ("query", ""),
        ("긴 질문 " + string.Concat(Enumerable.Repeat("반복 ", 30)), string.Concat(Enumerable.Repeat("문서 내용입니다. ", 80))),
    ];

    private readonly string _root = Directory.CreateTempSubdirectory("reranker-layout-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>jina's layout around the tiny XLM-R model: no model.onnx at the root, variants in onnx/.</summary>
    private string JinaLayout(int modelMaxLength = 1024)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, $"jina-{modelMaxLength}-{Guid.NewGuid():N}")).FullName;
        var onnx = Directory.CreateDirectory(Path.Combine(dir, "onnx")).FullName;
        File.Copy(Path.Combine(TestPaths.TinyModel, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        File.Copy(Path.Combine(TestPaths.TinyModel, "model.onnx"), Path.Combine(onnx, "model.onnx"));
        File.Copy(Path.Combine(TestPaths.TinyModel, "model_int8.onnx"), Path.Combine(onnx, "model_quantized.onnx"));
        StandInModels.WritePooledClassifier(Path.Combine(onnx, "model_fp16.onnx"), ["input_ids", "attention_mask"], 8002, logitsType: DataType.Float16);

        // jina's config.json names the architecture but no model_type (its AutoConfig is custom code).
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.TinyModel, "config.json")))!.AsObject();
        config.Remove("model_type");
        config["max_position_embeddings"] = 1026;
        config["auto_map"] = new JsonObject { ["AutoConfig"] = "configuration_xlm_roberta.XLMRobertaFlashConfig" };
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), $$"""{"model_max_length": {{modelMaxLength}}, "tokenizer_class": "XLMRobertaTokenizer"}""");
        return dir;
    }

    /// <summary>onnx-community's gte layout: model_type "new", rotary positions, weights in onnx/model.onnx_data.</summary>
    private (string Dir, StandInModels.PooledWeights Weights) GteLayout(string externalData = "model.onnx_data")
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, $"gte-{externalData}-{Guid.NewGuid():N}")).FullName;
        var onnx = Directory.CreateDirectory(Path.Combine(dir, "onnx")).FullName;
        File.Copy(Path.Combine(TestPaths.TinyModel, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var weights = StandInModels.WritePooledClassifier(Path.Combine(onnx, "model.onnx"), ["input_ids", "attention_mask", "token_type_ids"], 8002, typeRows: 1, externalData: externalData);
        File.WriteAllText(Path.Combine(dir, "config.json"), """
            {"architectures": ["NewForSequenceClassification"], "model_type": "new", "max_position_embeddings": 8192,
             "position_embedding_type": "rope", "type_vocab_size": 1, "pad_token_id": 1, "vocab_size": 8002, "num_labels": 1}
            """);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"model_max_length": 8192, "tokenizer_class": "XLMRobertaTokenizer"}""");
        return (dir, weights);
    }

    [Fact]
    public void Jina_Default_LoadsOnnxFolder_SameLogitsAsTheRootModel()
    {
        using var shipped = CrossEncoder.Create(JinaLayout());
        using var root = CrossEncoder.Create(TestPaths.TinyModel);
        Assert.Equal(Path.Combine(Path.GetDirectoryName(shipped.Model.ModelPath)!, "model.onnx"), shipped.Model.ModelPath);
        Assert.EndsWith("/onnx/model.onnx", shipped.Model.ModelPath.Replace('\\', '/'), StringComparison.Ordinal);
        Assert.Equal(ModelPrecision.Float, shipped.Model.Precision);
        Assert.Equal(root.PredictLogits(Pairs), shipped.PredictLogits(Pairs));
        Assert.False(shipped.Session.TakesTokenTypeIds);
    }

    [Fact]
    public void Jina_Variants_ArePickedByName_AndAMissingOneListsWhatExists()
    {
        var dir = JinaLayout();
        using (var quantized = CrossEncoder.Create(dir, new CrossEncoderOptions { ModelVariant = "quantized" }))
        {
            Assert.EndsWith("model_quantized.onnx", quantized.Model.ModelPath, StringComparison.Ordinal);
            Assert.Equal(ModelPrecision.Int8, quantized.Model.Precision);
            Assert.All(quantized.Predict(Pairs), s => Assert.InRange(s, 0f, 1f));
        }

        var e = Assert.Throws<FileNotFoundException>(() => CrossEncoder.Create(dir, new CrossEncoderOptions { ModelVariant = "bnb4" }));
        Assert.Contains("'bnb4'", e.Message, StringComparison.Ordinal);
        Assert.Contains("onnx/model_fp16.onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("fp32 (model.onnx, the default), fp16, quantized", e.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => CrossEncoder.Create(dir, new CrossEncoderOptions { ModelVariant = "fp16", ModelFileName = "onnx/model.onnx" }));
        Assert.Throws<ArgumentException>(() => new CrossEncoderOptions { ModelVariant = "../model" });
        using var named = CrossEncoder.Create(dir, new CrossEncoderOptions { ModelFileName = "onnx/model_quantized.onnx" });
        Assert.Equal(ModelPrecision.Int8, named.Model.Precision);
    }

    [Fact]
    public void Fp16Variant_WithFloat16Logits_IsWidenedToFloat()
    {
        var dir = JinaLayout();
        using var fp16 = CrossEncoder.Create(dir, new CrossEncoderOptions { ModelVariant = "fp16", BatchSize = 4 });
        Assert.True(fp16.Session.LogitsAreFloat16);
        var weights = StandInModels.WritePooledClassifier(Path.Combine(_root, "reference.onnx"), ["input_ids", "attention_mask"], 8002, logitsType: DataType.Float16);
        var logits = fp16.PredictLogits(Pairs);
        for (var i = 0; i < Pairs.Length; i++)
        {
            var expected = weights.Logit(fp16.EncodePair(Pairs[i].Query, Pairs[i].Document).InputIds);
            Assert.True(Math.Abs(expected - logits[i]) <= 2e-3 * Math.Max(1, Math.Abs(expected)), $"pair {i}: {logits[i]} vs {expected}");
        }
    }

    [Fact]
    public void Jina_MaxLength_FollowsPositionsAndModelMaxLength()
    {
        // 1026 positions from offset 2 (pad_token_id 1 + 1, found from the architecture without model_type) = 1024.
        using (var atLimit = CrossEncoder.Create(JinaLayout(), new CrossEncoderOptions { MaxLength = 1024 }))
        {
            Assert.Equal(1024, atLimit.Options.MaxLength);
        }

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEncoder.Create(JinaLayout(), new CrossEncoderOptions { MaxLength = 1025 }));
        Assert.Contains("max_position_embeddings 1026 - 2", e.Message, StringComparison.Ordinal);

        // The tokenizer's own limit counts too; the default 512 is lowered to it, an explicit larger value refused.
        var small = JinaLayout(modelMaxLength: 256);
        using (var lowered = CrossEncoder.Create(small))
        {
            Assert.Equal(256, lowered.Options.MaxLength);
            var pair = lowered.EncodePair("q", string.Concat(Enumerable.Repeat("문서 ", 400)));
            Assert.Equal(256, pair.InputIds.Length);
            Assert.True(pair.IsTruncated);
        }

        var tooLong = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEncoder.Create(small, new CrossEncoderOptions { MaxLength = 300 }));
        Assert.Contains("model_max_length 256", tooLong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gte_ExternalDataInOnnxFolder_SegmentIdsZero_8192Tokens_LogitsAsComputed()
    {
        var (dir, weights) = GteLayout();
        Assert.True(File.Exists(Path.Combine(dir, "onnx", "model.onnx_data")));
        using var encoder = CrossEncoder.Create(dir, new CrossEncoderOptions { MaxLength = 8192, BatchSize = 4 });
        Assert.True(encoder.Session.TakesTokenTypeIds);
        Assert.Equal(8192, encoder.Options.MaxLength);
        var logits = encoder.PredictLogits(Pairs);
        for (var i = 0; i < Pairs.Length; i++)
        {
            var pair = encoder.EncodePair(Pairs[i].Query, Pairs[i].Document);
            Assert.All(pair.TokenTypeIds, t => Assert.Equal(0, t));
            Assert.Equal(weights.Logit(pair.InputIds, pair.TokenTypeIds), logits[i], 1e-5);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEncoder.Create(dir, new CrossEncoderOptions { MaxLength = 8193 }));
    }

    [Fact]
    public void ExternalData_UnderEitherName_Loads_AndAMissingFileIsNamed()
    {
        var (torchStyle, weights) = GteLayout(externalData: "model.onnx.data");
        using (var encoder = CrossEncoder.Create(torchStyle))
        {
            var pair = encoder.EncodePair("hello", "world");
            Assert.Equal(weights.Logit(pair.InputIds), encoder.PredictLogits([("hello", "world")])[0], 1e-5);
        }

        var (dir, _) = GteLayout();
        File.Move(Path.Combine(dir, "onnx", "model.onnx_data"), Path.Combine(dir, "onnx", "model.onnx.data"));
        var e = Assert.Throws<FileNotFoundException>(() => CrossEncoder.Create(dir));
        Assert.Contains("'model.onnx_data'", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.onnx.data", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("model.onnx_data", e.FileName, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoLogitClassifier_IsRefused_NamingTheShape()
    {
        var (dir, _) = GteLayout();
        StandInModels.WritePooledClassifier(Path.Combine(dir, "onnx", "model.onnx"), ["input_ids", "attention_mask"], 8002, logitWidth: 2);
        var e = Assert.Throws<NotSupportedException>(() => CrossEncoder.Create(dir));
        Assert.Contains("[batch, 2]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ByteLevelBpeTokenizer_IsRefused_SayingSo()
    {
        var (dir, _) = GteLayout();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), """
            {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}, "post_processor": null}
            """);
        var e = Assert.Throws<NotSupportedException>(() => CrossEncoder.Create(dir));
        Assert.Contains("Byte-level BPE", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossEncoderTokenizer_PicksTheClassFromTheFile()
    {
        Assert.IsType<XlmRobertaTokenizer>(CrossEncoderTokenizer.FromTokenizerJson(Path.Combine(TestPaths.TinyModel, "tokenizer.json")));
        Assert.IsType<BertWordPieceTokenizer>(CrossEncoderTokenizer.FromTokenizerJson(TestPaths.BertTokenizerJson));
        var e = Assert.Throws<NotSupportedException>(() => XlmRobertaTokenizer.FromTokenizerJson(TestPaths.BertTokenizerJson));
        Assert.Contains("WordPiece", e.Message, StringComparison.Ordinal);
    }
}

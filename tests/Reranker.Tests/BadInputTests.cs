using Microsoft.ML.OnnxRuntime;
using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests;

/// <summary>Invalid arguments, options, directories and model files: each fails with the documented exception.</summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class BadInputTests
{
    [Fact]
    public void Null_or_blank_model_directory_is_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => CrossEncoder.Create(null!));
        Assert.Throws<ArgumentException>(() => CrossEncoder.Create(""));
        Assert.Throws<ArgumentException>(() => CrossEncoder.Create("   "));
    }

    [Fact]
    public void Missing_directory_throws_DirectoryNotFoundException_with_the_path()
    {
        var missing = Path.Combine(Path.GetTempPath(), "reranker-no-such-dir-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<DirectoryNotFoundException>(() => CrossEncoder.Create(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("model.onnx")]
    [InlineData("config.json")]
    public void Missing_model_file_throws_FileNotFoundException_with_the_path(string file)
    {
        using var directory = new TempModelDirectory();
        directory.Delete(file);
        var e = Assert.Throws<FileNotFoundException>(() => CrossEncoder.Create(directory.Path));
        Assert.Equal(directory.File(file), e.FileName);
        Assert.Contains(directory.File(file), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_model_file_named_by_option_throws_FileNotFoundException()
    {
        var e = Assert.Throws<FileNotFoundException>(() =>
            CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { ModelFileName = "model_fp16.onnx" }));
        Assert.Equal(Path.Combine(TestPaths.TinyModel, "model_fp16.onnx"), e.FileName);
    }

    [Fact]
    public void Missing_tokenizer_throws_FileNotFoundException()
    {
        using var directory = new TempModelDirectory();
        directory.Delete("tokenizer.json");
        directory.Delete("sentencepiece.bpe.model");
        var e = Assert.Throws<FileNotFoundException>(() => CrossEncoder.Create(directory.Path));
        Assert.Equal(directory.File("tokenizer.json"), e.FileName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Empty_or_cut_sentencepiece_model_throws_InvalidDataException_naming_the_file(int length)
    {
        using var directory = new TempModelDirectory();
        directory.Delete("tokenizer.json");
        directory.Write("sentencepiece.bpe.model", File.ReadAllBytes(directory.File("sentencepiece.bpe.model"))[..length]);
        var e = Assert.Throws<InvalidDataException>(() => CrossEncoder.Create(directory.Path));
        Assert.Contains(directory.File("sentencepiece.bpe.model"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_config_object_loads_and_the_graph_supplies_the_limits()
    {
        // Decision: every config.json field is optional; the model graph is the authority (one logit, its tables).
        using var directory = new TempModelDirectory();
        directory.Write("config.json", "{}");
        using var encoder = CrossEncoder.Create(directory.Path);
        Assert.InRange(encoder.Predict([("질문", "문서")])[0], 0f, 1f);
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEncoder.Create(directory.Path, new CrossEncoderOptions { MaxLength = 8193 }));
    }

    public static TheoryData<string, byte[]> MalformedModels() => new()
    {
        { "garbage", "this is not an ONNX protobuf, just text \u0001\u0002\u00ff"u8.ToArray() },
        { "empty", [] },
        { "cut in half", File.ReadAllBytes(Path.Combine(TestPaths.TinyModel, "model.onnx"))[..2_000_000] },
        { "random bytes", RandomBytes(4096) },
    };

    [Theory]
    [MemberData(nameof(MalformedModels))]
    public void Malformed_onnx_file_throws_InvalidDataException(string what, byte[] bytes)
    {
        using var directory = new TempModelDirectory();
        directory.Write("model.onnx", bytes);
        var e = Assert.Throws<InvalidDataException>(() => CrossEncoder.Create(directory.Path));
        Assert.IsType<OnnxRuntimeException>(e.InnerException);
        Assert.Contains(directory.File("model.onnx"), e.Message, StringComparison.Ordinal);
        Assert.NotNull(what);
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{ \"max_position_embeddings\": \"many\" }")]
    public void Malformed_config_throws_InvalidDataException(string json)
    {
        using var directory = new TempModelDirectory();
        directory.Write("config.json", json);
        Assert.Throws<InvalidDataException>(() => CrossEncoder.Create(directory.Path));
    }

    [Theory]
    [InlineData("\"id2label\": { \"0\": \"LABEL_0\", \"1\": \"LABEL_1\" }", 2)]
    [InlineData("\"num_labels\": 3", 3)]
    public void Config_with_more_than_one_label_throws_NotSupportedException(string labels, int count)
    {
        using var directory = new TempModelDirectory();
        directory.Write("config.json", "{ \"model_type\": \"xlm-roberta\", \"max_position_embeddings\": 8194, " + labels + " }");
        var e = Assert.Throws<NotSupportedException>(() => CrossEncoder.Create(directory.Path));
        Assert.Contains($"{count} labels", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MaxLength_beyond_the_position_table_throws_ArgumentOutOfRangeException()
    {
        // The tiny model, like bge-reranker-v2-m3, has max_position_embeddings 8194: at most 8192 tokens.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 8193 }));
        Assert.Contains("8192", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_without_logits_output_throws_NotSupportedException()
    {
        var model = StandardInputs(new OnnxGraphWriter())
            .Output("last_hidden_state", OnnxGraphWriter.Float, "batch", "sequence")
            .Node("Cast", ["attention_mask"], ["last_hidden_state"], ("to", 1))
            .ToModel();
        var e = AssertCreateFails<NotSupportedException>(model);
        Assert.Contains("'logits'", e.Message, StringComparison.Ordinal);
        Assert.Contains("last_hidden_state", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_with_two_logits_per_pair_throws_NotSupportedException()
    {
        var model = new OnnxGraphWriter()
            .Input("input_ids", OnnxGraphWriter.Int64, "batch", "sequence")
            .Input("attention_mask", OnnxGraphWriter.Int64, "batch", 2)
            .Output("logits", OnnxGraphWriter.Float, "batch", 2)
            .Node("Cast", ["attention_mask"], ["logits"], ("to", 1))
            .ToModel();
        var e = AssertCreateFails<NotSupportedException>(model);
        Assert.Contains("2 logits", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_with_an_unknown_input_throws_NotSupportedException_naming_it()
    {
        var model = StandardInputs(new OnnxGraphWriter())
            .Input("pixel_values", OnnxGraphWriter.Float, "batch", 3)
            .Output("logits", OnnxGraphWriter.Float, "batch", 1)
            .Node("ReduceSum", ["pixel_values"], ["logits"], ("axes", new long[] { 1 }), ("keepdims", 1))
            .ToModel();
        var e = AssertCreateFails<NotSupportedException>(model);
        Assert.Contains("'pixel_values'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_whose_symbolic_logits_width_is_not_one_fails_at_the_first_run()
    {
        // Declares logits [batch, width]; at run time width = sequence length, not 1.
        var model = StandardInputs(new OnnxGraphWriter())
            .Output("logits", OnnxGraphWriter.Float, "batch", "width")
            .Node("Cast", ["attention_mask"], ["logits"], ("to", 1))
            .ToModel();
        using var directory = new TempModelDirectory(copyModel: false);
        directory.Write("model.onnx", model);
        using var encoder = CrossEncoder.CreateWithEncoder(directory.Path, new CrossEncoderOptions { MaxLength = 8192 }, _ => new GoldenPairEncoder());
        var pair = GoldenData.Pairs.First(r => r.MaxLength == 8192 && r.Truncation == TruncationStrategy.LongestFirst);

        var e = Assert.Throws<NotSupportedException>(() => encoder.Predict([(pair.Query, pair.Passage)]));
        Assert.Contains("exactly one logit", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_reject_invalid_values()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { MaxLength = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { MaxLength = CrossEncoderOptions.MinMaxLength - 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { BatchSize = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { BatchSize = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { MaxBatchTokens = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { IntraOpNumThreads = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { Truncation = (TruncationStrategy)7 });
        Assert.Throws<ArgumentNullException>(() => new CrossEncoderOptions { ModelFileName = null! });
        Assert.Throws<ArgumentException>(() => new CrossEncoderOptions { ModelFileName = " " });

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderOptions { BatchSize = 0 });
        Assert.Equal(nameof(CrossEncoderOptions.BatchSize), e.ParamName);
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        using var encoder = GoldenPairEncoder.CreateCrossEncoder();
        Assert.Throws<ArgumentNullException>(() => encoder.Predict(null!));
        Assert.Throws<ArgumentNullException>(() => encoder.PredictLogits(null!));
        Assert.Throws<ArgumentNullException>(() => encoder.Rank(null!, ["a"]));
        Assert.Throws<ArgumentNullException>(() => encoder.Rank("a", null!));
        Assert.Throws<ArgumentNullException>(() => encoder.EncodePair(null!, "a"));
        Assert.Throws<ArgumentNullException>(() => encoder.EncodePair("a", null!));
    }

    [Fact]
    public void Null_text_inside_a_list_is_rejected_naming_its_index()
    {
        using var encoder = GoldenPairEncoder.CreateCrossEncoder();

        var query = Assert.Throws<ArgumentException>(() => encoder.Predict([("a", "b"), ("c", "d"), (null!, "e")]));
        Assert.Equal("pairs", query.ParamName);
        Assert.Contains("pair 2", query.Message, StringComparison.Ordinal);

        var document = Assert.Throws<ArgumentException>(() => encoder.PredictLogits([("a", null!)]));
        Assert.Contains("pair 0", document.Message, StringComparison.Ordinal);

        var ranked = Assert.Throws<ArgumentException>(() => encoder.Rank("q", ["a", "b", "c", null!]));
        Assert.Equal("documents", ranked.ParamName);
        Assert.Contains("Document 3", ranked.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void TopK_must_be_positive(int topK)
    {
        using var encoder = GoldenPairEncoder.CreateCrossEncoder();
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.Rank("q", ["a"], topK));
    }

    [Fact]
    public void Failure_after_the_session_is_loaded_propagates_and_leaves_no_instance()
    {
        var e = Assert.Throws<InvalidDataException>(() =>
            CrossEncoder.CreateWithEncoder(TestPaths.TinyModel, null, _ => throw new System.Text.Json.JsonException("bad tokenizer")));
        Assert.IsType<System.Text.Json.JsonException>(e.InnerException);
        Assert.Throws<InvalidOperationException>(() =>
            CrossEncoder.CreateWithEncoder(TestPaths.TinyModel, null, _ => throw new InvalidOperationException("boom")));
    }

    private static OnnxGraphWriter StandardInputs(OnnxGraphWriter writer) => writer
        .Input("input_ids", OnnxGraphWriter.Int64, "batch", "sequence")
        .Input("attention_mask", OnnxGraphWriter.Int64, "batch", "sequence");

    private static TException AssertCreateFails<TException>(byte[] model)
        where TException : Exception
    {
        using var directory = new TempModelDirectory(copyModel: false);
        directory.Write("model.onnx", model);
        return Assert.Throws<TException>(() => CrossEncoder.Create(directory.Path));
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(1234).NextBytes(bytes);
        return bytes;
    }
}

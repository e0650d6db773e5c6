using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Reranker.Inference;
using Reranker.Tests.Export;
using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests;

/// <summary>
/// A tokenizer, config.json or MaxLength that does not fit the model graph is refused by Create, naming both numbers;
/// the tables are read from the graph of every export flavour (torch.onnx, quantize_dynamic, this library's exporter,
/// with embedded and external data).
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class ModelFitTests(TinyExportFixture exports) : IClassFixture<TinyExportFixture>
{
    // The tiny model's config.json: vocab_size 8002, max_position_embeddings 8194.
    private const int VocabularyRows = 8002;
    private const int PositionRows = 8194;

    [Theory]
    [InlineData("torch")]
    [InlineData("torch-int8")]
    [InlineData("export-fp32")]
    [InlineData("export-int8")]
    [InlineData("export-fp32-external")]
    [InlineData("export-int8-external")]
    public void Embedding_tables_are_read_from_every_export(string flavour)
    {
        var path = flavour switch
        {
            "torch" => Path.Combine(TestPaths.TinyModel, "model.onnx"),
            "torch-int8" => Path.Combine(TestPaths.TinyModel, "model_int8.onnx"),
            "export-fp32" => exports.Fp32.ModelPath,
            "export-int8" => exports.Int8.ModelPath,
            "export-fp32-external" => exports.External.ModelPath,
            _ => exports.Int8External.ModelPath,
        };

        var (words, positions) = ModelFit.FindEmbeddingTables(OnnxGraphSummary.Read(path));

        Assert.NotNull(words);
        Assert.NotNull(positions);
        Assert.Equal(VocabularyRows, words.Rows);
        Assert.Equal(PositionRows, positions.Rows);
        Assert.Equal(words.Width, positions.Width);
    }

    [Fact]
    public void Added_token_beyond_the_embedding_table_is_refused()
    {
        var e = CreateWithTokenizer(json => ((JsonArray)json["added_tokens"]!).Add(JsonNode.Parse(
            """{"id": 9000, "content": "<extra>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}""")));
        Assert.Contains("9000", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{VocabularyRows} rows", e.Message, StringComparison.Ordinal);
        Assert.Contains("<extra>", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(50000)]
    [InlineData(-5)]
    [InlineData(VocabularyRows)]
    public void Template_id_outside_the_embedding_table_is_refused(int id)
    {
        var e = CreateWithTokenizer(json => json["post_processor"]!["special_tokens"]!["<s>"]!["ids"] = new JsonArray(id));
        Assert.Contains($"id {id}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{VocabularyRows} rows", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_that_declares_more_positions_than_the_graph_has_is_refused()
    {
        using var directory = new TempModelDirectory();
        var config = JsonNode.Parse(File.ReadAllText(directory.File("config.json")))!;
        config["max_position_embeddings"] = 9000;
        directory.Write("config.json", config.ToJsonString());

        var e = Assert.Throws<InvalidDataException>(() => CrossEncoder.Create(directory.Path));
        Assert.Contains("9000", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{PositionRows} rows", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_max_position_embeddings_MaxLength_is_checked_against_the_graph()
    {
        using var directory = new TempModelDirectory();
        directory.Write("config.json", "{}");
        directory.Delete("tokenizer_config.json"); // its model_max_length would be the first limit met
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEncoder.Create(directory.Path, new CrossEncoderOptions { MaxLength = PositionRows - 1 }));
        Assert.Contains($"{PositionRows - 2} tokens", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{PositionRows} rows", e.Message, StringComparison.Ordinal);

        using var fits = CrossEncoder.Create(directory.Path, new CrossEncoderOptions { MaxLength = PositionRows - 2 });
        Assert.Equal(PositionRows - 2, fits.Options.MaxLength);
    }

    [Fact]
    public void A_model_run_failure_is_wrapped_in_InvalidOperationException()
    {
        // An encoder that hides an out-of-range id from the fit check: the model's Gather fails at run time, and the
        // caller sees the documented wrapper, not ONNX Runtime's exception type.
        using var encoder = CrossEncoder.CreateWithEncoder(TestPaths.TinyModel, null, _ => new OutOfRangeEncoder());
        var e = Assert.Throws<InvalidOperationException>(() => encoder.Predict([("q", "d")]));
        Assert.IsType<OnnxRuntimeException>(e.InnerException);
        Assert.Contains("ONNX Runtime failed to run the model", e.Message, StringComparison.Ordinal);
    }

    private static InvalidDataException CreateWithTokenizer(Action<JsonNode> edit)
    {
        using var directory = new TempModelDirectory();
        var json = JsonNode.Parse(File.ReadAllText(directory.File("tokenizer.json")))!;
        edit(json);
        directory.Write("tokenizer.json", json.ToJsonString());
        return Assert.Throws<InvalidDataException>(() => CrossEncoder.Create(directory.Path));
    }

    private sealed class OutOfRangeEncoder : IPairEncoder
    {
        public int PadId => 1;

        public int PairSpecialTokenCount => 4;

        public IEnumerable<(int Id, string What)> ProducibleIds => [];

        public int CountTokens(string text) => 1;

        public PairEncoding EncodePair(string query, string document, int maxLength, TruncationStrategy truncation, CancellationToken cancellationToken = default) =>
            new([0, 9000, 2, 2, 5, 2], 1, 1, false);
    }
}

namespace Reranker.Tests;

/// <summary>
/// <see cref="CrossEncoder.Model"/> says what was loaded (file, precision, tokenizer), and a directory without the
/// ONNX file gets a message that says what to do about it.
/// </summary>
public sealed class ModelInfoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("model-info-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CopyOf(params string[] files)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, Guid.NewGuid().ToString("N"))).FullName;
        foreach (var name in files)
        {
            File.Copy(Path.Combine(TestPaths.TinyModel, name), Path.Combine(dir, name));
        }

        return dir;
    }

    [Fact]
    public void The_fp32_model_with_tokenizer_json_is_described_as_such()
    {
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel);
        var root = Path.GetFullPath(TestPaths.TinyModel);
        Assert.Equal(root, encoder.Model.Directory);
        Assert.Equal(Path.Combine(root, "model.onnx"), encoder.Model.ModelPath);
        Assert.Equal(ModelPrecision.Float, encoder.Model.Precision);
        Assert.Equal(Path.Combine(root, "tokenizer.json"), encoder.Model.TokenizerPath);
        Assert.True(encoder.Model.TokenizerMatchesHuggingFace);
    }

    [Fact]
    public void An_int8_file_is_named_and_its_precision_read_from_the_graph()
    {
        // A quantized model saved under the default name: the precision comes from the graph, not the file name.
        var dir = CopyOf("config.json", "tokenizer.json");
        File.Copy(Path.Combine(TestPaths.TinyModel, "model_int8.onnx"), Path.Combine(dir, "model.onnx"));
        using var renamed = CrossEncoder.Create(dir);
        Assert.Equal(ModelPrecision.Int8, renamed.Model.Precision);

        using var named = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { ModelFileName = "model_int8.onnx" });
        Assert.Equal(Path.Combine(Path.GetFullPath(TestPaths.TinyModel), "model_int8.onnx"), named.Model.ModelPath);
        Assert.Equal(ModelPrecision.Int8, named.Model.Precision);
    }

    [Fact]
    public void The_sentencepiece_fallback_says_it_does_not_match_hugging_face()
    {
        var dir = CopyOf("config.json", "model.onnx", "sentencepiece.bpe.model");
        using var encoder = CrossEncoder.Create(dir);
        Assert.Equal(Path.Combine(dir, "sentencepiece.bpe.model"), encoder.Model.TokenizerPath);
        Assert.False(encoder.Model.TokenizerMatchesHuggingFace);
    }

    [Fact]
    public void A_safetensors_snapshot_without_onnx_points_to_the_export_and_FromPretrainedAsync()
    {
        var dir = CopyOf("config.json", "model.safetensors", "tokenizer.json");
        var e = Assert.Throws<FileNotFoundException>(() => CrossEncoder.Create(dir));
        Assert.Contains("model.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains($"reranker export --model {dir} --output DIR", e.Message, StringComparison.Ordinal);
        Assert.Contains("FromPretrainedAsync", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ModelFileName", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_file_name_lists_the_onnx_files_there()
    {
        var e = Assert.Throws<FileNotFoundException>(() =>
            CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { ModelFileName = "model_q4.onnx" }));
        Assert.Contains("model.onnx, model_int8.onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("ModelFileName", e.Message, StringComparison.Ordinal);
    }
}

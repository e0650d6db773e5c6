using Reranker.Hub;

namespace Reranker.Tests.Hub;

public sealed class HubEnvironmentTests
{
    private static HubEnvironment With(params (string Name, string Value)[] variables) =>
        new(name => variables.FirstOrDefault(v => v.Name == name).Value);

    [Fact]
    public void Cache_directory_follows_huggingface_hub_precedence()
    {
        Assert.Equal("/c/hub-cache", With(("HF_HUB_CACHE", "/c/hub-cache"), ("HF_HOME", "/h")).CacheDirectory());
        Assert.Equal("/c/legacy", With(("HUGGINGFACE_HUB_CACHE", "/c/legacy"), ("HF_HOME", "/h")).CacheDirectory());
        Assert.Equal(Path.Combine("/h", "hub"), With(("HF_HOME", "/h"), ("XDG_CACHE_HOME", "/x")).CacheDirectory());
        Assert.Equal(Path.Combine("/x", "huggingface", "hub"), With(("XDG_CACHE_HOME", "/x"), ("HOME", "/u")).CacheDirectory());
        Assert.Equal(Path.Combine("/u", ".cache", "huggingface", "hub"), With(("HOME", "/u")).CacheDirectory());
        Assert.Equal(Path.Combine("/u", "models"), With(("HF_HUB_CACHE", "~/models"), ("HOME", "/u")).CacheDirectory());
    }

    [Fact]
    public void Endpoint_defaults_to_the_public_hub_and_loses_its_trailing_slash()
    {
        Assert.Equal("https://huggingface.co", With().Endpoint());
        Assert.Equal("http://mirror.local:8080/hf", With(("HF_ENDPOINT", "http://mirror.local:8080/hf/")).Endpoint());
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("YES", true)]
    [InlineData("On", true)]
    [InlineData("0", false)]
    [InlineData("false", false)]
    [InlineData("", false)]
    public void Offline_accepts_the_same_true_values_as_huggingface_hub(string value, bool expected)
    {
        Assert.Equal(expected, With(("HF_HUB_OFFLINE", value)).Offline());
        Assert.Equal(expected, With(("TRANSFORMERS_OFFLINE", value)).Offline());
    }

    [Fact]
    public void Token_comes_from_HF_TOKEN_else_the_login_token_file()
    {
        var home = Directory.CreateTempSubdirectory("reranker-hf-home-").FullName;
        try
        {
            Assert.Null(With(("HF_HOME", home)).Token());
            File.WriteAllText(Path.Combine(home, "token"), "hf_file\n");
            Assert.Equal("hf_file", With(("HF_HOME", home)).Token());
            Assert.Equal("hf_env", With(("HF_HOME", home), ("HF_TOKEN", "hf_env")).Token());
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}

public sealed class HubFileSelectorTests
{
    [Theory]
    [InlineData("*.json", "config.json", true)]
    [InlineData("*.json", "sub/config.json", true)]
    [InlineData("*.json", "config.jsonl", false)]
    [InlineData("onnx/", "onnx/model.onnx", true)]
    [InlineData("model?.onnx", "model1.onnx", true)]
    [InlineData("model[!_].onnx", "model_.onnx", false)]
    [InlineData("model.onnx", "model_onnx", false)]
    public void Patterns_match_like_python_fnmatch(string pattern, string path, bool expected) =>
        Assert.Equal(expected, HubFileSelector.Matches(pattern, path));

    [Fact]
    public void Default_selection_prefers_onnx_and_falls_back_to_safetensors()
    {
        string[] listing = ["config.json", "tokenizer.json", "README.md", "model.safetensors", "onnx/model.onnx", "onnx/model.onnx.data", "pytorch_model.bin"];

        var onnx = HubFileSelector.Select(listing, new HubDownloadOptions(), "a/b", "main");
        var safetensors = HubFileSelector.Select(listing.Where(f => !f.StartsWith("onnx/", StringComparison.Ordinal)).ToList(), new HubDownloadOptions(), "a/b", "main");

        Assert.Equal(["config.json", "tokenizer.json", "onnx/model.onnx", "onnx/model.onnx.data"], onnx.Files);
        Assert.Equal(HubWeightsFormat.Onnx, onnx.WeightsFormat);
        Assert.Equal(["config.json", "tokenizer.json", "model.safetensors"], safetensors.Files);
        Assert.Equal(HubWeightsFormat.Safetensors, safetensors.WeightsFormat);
    }

    /// <summary>File lists in the layouts of the repositories that ship ONNX, as the issue and docs/research describe them (not fetched from the hub here).</summary>
    private static readonly string[] JinaListing =
    [
        ".gitattributes", "README.md", "config.json", "configuration_xlm_roberta.py", "model.safetensors", "modeling_xlm_roberta.py",
        "onnx/model.onnx", "onnx/model_bnb4.onnx", "onnx/model_fp16.onnx", "onnx/model_int8.onnx", "onnx/model_q4.onnx",
        "onnx/model_quantized.onnx", "onnx/model_uint8.onnx", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
    ];

    private static readonly string[] GteOnnxCommunityListing =
    [
        "config.json", "onnx/model.onnx", "onnx/model.onnx_data", "onnx/model_fp16.onnx", "onnx/model_int8.onnx", "onnx/model_q4.onnx",
        "onnx/model_q4f16.onnx", "onnx/model_quantized.onnx", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
    ];

    private static readonly string[] MsMarcoListing =
    [
        "config.json", "model.safetensors", "pytorch_model.bin", "onnx/model.onnx", "onnx/model_O1.onnx", "onnx/model_O4.onnx",
        "onnx/model_qint8_avx512.onnx", "onnx/model_quint8_avx2.onnx", "openvino/openvino_model.xml", "special_tokens_map.json",
        "tokenizer.json", "tokenizer_config.json", "vocab.txt",
    ];

    [Fact]
    public void ShippedOnnx_Default_TakesOnlyTheFp32ModelItsDataAndTheTokenizer()
    {
        var jina = HubFileSelector.Select(JinaListing, new HubDownloadOptions(), "jinaai/jina-reranker-v2-base-multilingual", "main");
        Assert.Equal(["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "onnx/model.onnx"], jina.Files);
        Assert.Equal("onnx/model.onnx", jina.WeightsFile);

        var gte = HubFileSelector.Select(GteOnnxCommunityListing, new HubDownloadOptions(), "onnx-community/gte-multilingual-reranker-base", "main");
        Assert.Equal(["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "onnx/model.onnx", "onnx/model.onnx_data"], gte.Files);

        var msMarco = HubFileSelector.Select(MsMarcoListing, new HubDownloadOptions(), "cross-encoder/ms-marco-MiniLM-L6-v2", "main");
        Assert.Equal(["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "onnx/model.onnx"], msMarco.Files);
    }

    [Theory]
    [InlineData("quantized", "onnx/model_quantized.onnx")]
    [InlineData("fp16", "onnx/model_fp16.onnx")]
    [InlineData("int8", "onnx/model_int8.onnx")]
    public void ShippedOnnx_Variant_TakesThatFileOnly(string variant, string expected)
    {
        var selection = HubFileSelector.Select(GteOnnxCommunityListing, new HubDownloadOptions { OnnxVariant = variant }, "onnx-community/gte-multilingual-reranker-base", "main");
        Assert.Equal(expected, selection.WeightsFile);
        Assert.Single(selection.Files, f => f.EndsWith(".onnx", StringComparison.Ordinal) || f.Contains("onnx_data", StringComparison.Ordinal));
    }

    [Fact]
    public void ShippedOnnx_MissingVariant_ListsTheRepositorysVariants()
    {
        var e = Assert.Throws<HubException>(() => HubFileSelector.Select(MsMarcoListing, new HubDownloadOptions { OnnxVariant = "fp16" }, "cross-encoder/ms-marco-MiniLM-L6-v2", "main"));
        Assert.Equal(HubErrorKind.NotFound, e.Kind);
        Assert.Contains("fp32 (model.onnx, the default), O1, O4, qint8_avx512, quint8_avx2", e.Message, StringComparison.Ordinal);

        // Without any ONNX file, the variant does not matter here: the weights are exported (int8 or refused later).
        var safetensorsOnly = HubFileSelector.Select(["config.json", "tokenizer.json", "model.safetensors"], new HubDownloadOptions { OnnxVariant = "int8" }, "a/b", "main");
        Assert.Equal(HubWeightsFormat.Safetensors, safetensorsOnly.WeightsFormat);
    }
}

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
}

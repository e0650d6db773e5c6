using System.Text.Json.Nodes;
using Reranker.Cli;
using Reranker.Export;
using static Reranker.Tests.Export.ExportTestSupport;

namespace Reranker.Tests.Export;

/// <summary><c>reranker export</c> end to end, and random-weight models.</summary>
public sealed class ExportCliAndRandomTests : IDisposable
{
    private readonly string root = NewTempDir();

    public void Dispose() => DeleteQuietly(root);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A small architecture (2 layers, hidden 32) written as a config file.</summary>
    private string SmallConfig()
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "models", "bge-reranker-v2-m3.config.json")))!.AsObject();
        json["num_hidden_layers"] = 2;
        json["hidden_size"] = 32;
        json["num_attention_heads"] = 4;
        json["intermediate_size"] = 64;
        json["vocab_size"] = 8002;
        json["max_position_embeddings"] = 514;
        var path = Path.Combine(root, "small.config.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Fact]
    public void Cli_exports_the_tiny_snapshot_end_to_end()
    {
        var snapshot = CopyTinySnapshot();
        try
        {
            var outDir = Path.Combine(root, "cli-int8");
            var (code, stdout, stderr) = Cli("export", "--model", snapshot, "--output", outDir, "--int8");
            Assert.True(code == 0, stderr);
            Assert.Contains("wrote", stdout, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(outDir, "model.onnx")));
            Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));

            // Its logits are the golden int8 logits (first rows), and --check runs it.
            var rows = Pairs.Take(24).ToArray();
            AssertClose(Logits(Path.Combine(outDir, "model.onnx"), rows.Select(p => p.InputIds)), OrtGolden("model_int8.onnx")[..24], 1e-4, "CLI int8");
            var check = Cli("export", "--check", "--model", outDir, "--tokens", "16");
            Assert.True(check.Code == 0, check.Err);
            Assert.Contains("forward pass 1 x 16 tokens", check.Out, StringComparison.Ordinal);
            var legacyCheck = Cli("export", "--check", outDir, "--tokens", "16");
            Assert.True(legacyCheck.Code == 0, legacyCheck.Err);

            // A second export into the same non-empty directory needs --force (the old names --from/--out still work).
            var again = Cli("export", "--from", snapshot, "--out", outDir);
            Assert.Equal(1, again.Code);
            Assert.Contains("--force", again.Err, StringComparison.Ordinal);
            Assert.Equal(0, Cli("export", "--from", snapshot, "--out", outDir, "--force").Code);
        }
        finally
        {
            DeleteQuietly(snapshot);
        }
    }

    [Fact]
    public void Cli_multi_head_attention_writes_mask_free_attention_for_every_layer_of_a_random_model()
    {
        var outDir = Path.Combine(root, "cli-mha");
        var (code, _, stderr) = Cli("export", "--random-weights", "--config", SmallConfig(), "--out", outDir, "--multi-head-attention");
        Assert.True(code == 0, stderr);
        using var stream = File.OpenRead(Path.Combine(outDir, "model.onnx"));
        var ops = Reranker.Inference.OnnxModelScan.OpTypes(stream);
        Assert.Contains("MultiHeadAttention", ops);
        Assert.DoesNotContain("Softmax", ops);
        var plain = Cli("export", "--random-weights", "--config", SmallConfig(), "--out", Path.Combine(root, "cli-plain"));
        Assert.True(plain.Code == 0, plain.Err);
        using var plainStream = File.OpenRead(Path.Combine(root, "cli-plain", "model.onnx"));
        Assert.Contains("Softmax", Reranker.Inference.OnnxModelScan.OpTypes(plainStream));

        // Both give the same logits (the mask-free file is scored unpadded, as it must be).
        var ids = new long[] { 0, 5, 99, 1234, 7, 2 };
        var mha = Logits(Path.Combine(outDir, "model.onnx"), [ids])[0];
        var torchLayout = Logits(Path.Combine(root, "cli-plain", "model.onnx"), [ids])[0];
        Assert.Equal(torchLayout, mha, 1e-5f);
    }

    [Theory]
    [InlineData(new[] { "export" }, "--output DIR is required")]
    [InlineData(new[] { "export", "--out", "x" }, "either --model")]
    [InlineData(new[] { "export", "--output", "x" }, "either --model")]
    [InlineData(new[] { "export", "--from", "a", "--random-weights", "--config", "c", "--out", "x" }, "either --model")]
    [InlineData(new[] { "export", "--model", "a", "--random-weights", "--config", "c", "--output", "x" }, "either --model")]
    [InlineData(new[] { "export", "--random-weights", "--out", "x" }, "needs --config")]
    [InlineData(new[] { "export", "--from", "a", "--out", "x", "--frobnicate" }, "'--frobnicate'")]
    [InlineData(new[] { "export", "--from" }, "--from needs a value")]
    [InlineData(new[] { "export", "--model", "--output", "x" }, "--model needs a value, but the next word is the option --output")]
    [InlineData(new[] { "export", "--random-weights", "--config", "c", "--seed", "abc", "--out", "x" }, "'--seed'")]
    [InlineData(new[] { "export", "--from", "a", "--config", "c", "--out", "x" }, "go with --random-weights")]
    [InlineData(new[] { "export", "--check", "a", "--model", "b" }, "--check needs the model directory")]
    [InlineData(new[] { "export", "--check" }, "--check needs the model directory")]
    [InlineData(new[] { "export", "--check", "--model", "a", "--output", "x" }, "--check does not export")]
    [InlineData(new[] { "export", "--model", "a", "--output", "x", "--tokens", "1" }, "--tokens needs an integer of at least 2")]
    public void Cli_rejects_bad_arguments_with_usage_exit_code(string[] args, string message)
    {
        var (code, _, stderr) = Cli(args);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Cli_reports_a_refused_snapshot_with_exit_code_1()
    {
        var snapshot = CopyTinySnapshot();
        try
        {
            var config = Path.Combine(snapshot, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("XLMRobertaForSequenceClassification", "XLMRobertaForMaskedLM", StringComparison.Ordinal));
            var outDir = Path.Combine(root, "refused");
            var (code, _, stderr) = Cli("export", "--from", snapshot, "--out", outDir);
            Assert.Equal(1, code);
            Assert.Contains("XLMRobertaForMaskedLM", stderr, StringComparison.Ordinal);
            Assert.False(Directory.Exists(outDir));

            var missing = Cli("export", "--from", Path.Combine(root, "no-such-dir"), "--out", outDir);
            Assert.Equal(1, missing.Code);
            Assert.Contains("not found", missing.Err, StringComparison.Ordinal);
        }
        finally
        {
            DeleteQuietly(snapshot);
        }
    }

    [Fact]
    public void Random_weights_give_a_runnable_model_and_the_same_seed_gives_identical_bytes()
    {
        var config = SmallConfig();
        string Export(string name, long seed, bool int8, bool external)
        {
            var dir = Path.Combine(root, name);
            var args = new List<string> { "export", "--random-weights", "--config", config, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--tokenizer-from", TestPaths.TinyModel, "--out", dir };
            if (int8)
            {
                args.Add("--int8");
            }

            if (external)
            {
                args.Add("--external-data");
            }

            var (code, _, stderr) = Cli(args.ToArray());
            Assert.True(code == 0, stderr);
            return dir;
        }

        var a = Export("a", 7, int8: false, external: true);
        var b = Export("b", 7, int8: false, external: true);
        var c = Export("c", 8, int8: false, external: true);
        foreach (var name in new[] { "model.onnx", "model.onnx.data", "config.json", "tokenizer.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, name)), File.ReadAllBytes(Path.Combine(b, name)));
        }

        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, "model.onnx.data")), File.ReadAllBytes(Path.Combine(c, "model.onnx.data")));
        var qa = Export("qa", 7, int8: true, external: false);
        var qb = Export("qb", 7, int8: true, external: false);
        Assert.Equal(File.ReadAllBytes(Path.Combine(qa, "model.onnx")), File.ReadAllBytes(Path.Combine(qb, "model.onnx")));

        // Runnable: finite logits for real token ids, fp32 and int8 close to each other.
        var rows = Pairs.Where(p => p.InputIds.Length <= 512).Take(8).Select(p => p.InputIds).ToArray();
        var fp32 = Logits(Path.Combine(a, "model.onnx"), rows);
        var int8 = Logits(Path.Combine(qa, "model.onnx"), rows);
        Assert.All(fp32, v => Assert.True(float.IsFinite(v)));
        Assert.All(int8, v => Assert.True(float.IsFinite(v)));
        Assert.True(fp32.Zip(int8).Max(p => Math.Abs(p.First - p.Second)) < 0.05, "int8 tracks fp32 on the same random weights");
        Assert.True(fp32.Distinct().Count() > 1, "different inputs give different logits");
    }

    [Fact]
    public void Random_weights_follow_the_hugging_face_initialization()
    {
        var cfg = XlmRobertaConfig.Load(SmallConfig());
        using var w = new RandomWeightSource(cfg, 3);
        var word = w.ReadAll("roberta.embeddings.word_embeddings.weight");
        Assert.All(word.AsSpan(cfg.PadTokenId * cfg.HiddenSize, cfg.HiddenSize).ToArray(), v => Assert.Equal(0f, v));
        var mean = word.Average(v => (double)v);
        var std = Math.Sqrt(word.Average(v => (double)v * v) - (mean * mean));
        Assert.InRange(mean, -0.001, 0.001);
        Assert.InRange(std, 0.0195, 0.0205);
        Assert.All(w.ReadAll("roberta.encoder.layer.0.output.LayerNorm.weight"), v => Assert.Equal(1f, v));
        Assert.All(w.ReadAll("roberta.encoder.layer.0.output.dense.bias"), v => Assert.Equal(0f, v));

        // A range read equals the same slice of a whole read (blocks are seeded by position, not by read).
        var part = new float[1000];
        w.Read("roberta.embeddings.word_embeddings.weight", 65_000, part);
        Assert.Equal(word.AsSpan(65_000, 1000).ToArray(), part);
    }
}

using Reranker.Hub;
using Reranker.Tests.Support;

namespace Reranker.Tests.Hub;

/// <summary><see cref="CrossEncoder.FromPretrainedAsync"/> against the fake hub on 127.0.0.1, serving the bundled tiny model.</summary>
public sealed class FromPretrainedTests : IDisposable
{
    private static readonly (string Query, string Document)[] Pairs =
    [
        ("머신러닝이란?", "머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다."),
        ("머신러닝이란?", "오늘은 비가 옵니다."),
        ("what is a reranker", "A cross-encoder reads the query and the passage together."),
        ("q", ""),
    ];

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private string Storage(FakeHubServer server) => Path.Combine(temp.Cache, "models--" + server.RepoId.Replace("/", "--", StringComparison.Ordinal));

    private HubDownloadOptions Offline() => new() { CacheDirectory = temp.Cache, Environment = temp.Environment(), Offline = true };

    private static float[] Reference(string modelFileName = "model.onnx")
    {
        using var reference = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { ModelFileName = modelFileName });
        return reference.Predict(Pairs);
    }

    private static string LoadedPath(CapturingLoggerFactory logs) =>
        (string)logs.WithEventId(CrossEncoderLogEvents.ModelLoaded).Last().State["ModelPath"]!;

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"pair {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public async Task A_repository_with_an_onnx_model_loads_from_the_snapshot_and_scores_like_Create()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        var logs = new CapturingLoggerFactory();

        using var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, new CrossEncoderOptions { LoggerFactory = logs }, temp.Options(server)));

        Assert.Equal(Reference(), encoder.Predict(Pairs));
        Assert.Equal("model.onnx", encoder.Options.ModelFileName);
        Assert.Equal(Path.Combine(Storage(server), "snapshots", server.Commit, "model.onnx"), LoadedPath(logs));
        Assert.False(Directory.Exists(Path.Combine(Storage(server), "onnx")));
        Assert.DoesNotContain(server.FileRequests, r => r.Path.Contains("safetensors", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelFileName_picks_the_onnx_file_to_download()
    {
        await using var server = new FakeHubServer().WithTinyModel();

        using var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(
            server.RepoId, new CrossEncoderOptions { ModelFileName = "model_int8.onnx" }, temp.Options(server)));

        Assert.Equal(Reference("model_int8.onnx"), encoder.Predict(Pairs));
        Assert.Equal("model_int8.onnx", encoder.Options.ModelFileName);
        Assert.False(File.Exists(Path.Combine(Storage(server), "snapshots", server.Commit, "model.onnx")));
    }

    [Fact]
    public async Task A_safetensors_only_repository_is_exported_once_into_the_cache_and_the_export_is_reused_online_and_offline()
    {
        await using var server = new FakeHubServer().WithTinyModel(onnx: false);
        var logs = new CapturingLoggerFactory();
        var options = new CrossEncoderOptions { LoggerFactory = logs };
        var exportDirectory = Path.Combine(Storage(server), "onnx", server.Commit, "fp32");
        var exportedModel = Path.Combine(exportDirectory, "model.onnx");

        float[] first;
        using (var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, options, temp.Options(server))))
        {
            first = encoder.Predict(Pairs);
            Assert.Equal("model.onnx", encoder.Options.ModelFileName);
        }

        // fp32 export of the same weights: the scores of the torch export bundled with the fixture.
        AssertClose(Reference(), first, 1e-5);
        Assert.Single(logs.WithEventId(CrossEncoderLogEvents.ModelExported));
        Assert.Equal(exportedModel, LoadedPath(logs));
        Assert.True(File.Exists(Path.Combine(exportDirectory, "config.json")));
        Assert.True(File.Exists(Path.Combine(exportDirectory, "tokenizer.json")));
        Assert.Equal(["fp32"], Directory.GetFileSystemEntries(Path.GetDirectoryName(exportDirectory)!).Select(Path.GetFileName));
        var written = File.GetLastWriteTimeUtc(exportedModel);
        var bytes = await File.ReadAllBytesAsync(exportedModel);

        // Again, online: the snapshot is complete, so only the listing is asked for, and the export is reused.
        using (var again = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, options, temp.Options(server))))
        {
            Assert.Equal(first, again.Predict(Pairs));
        }

        // And offline, with no request at all.
        var requests = server.Requests.Count;
        using (var offline = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, options, Offline())))
        {
            Assert.Equal(first, offline.Predict(Pairs));
        }

        Assert.Equal(requests, server.Requests.Count);
        Assert.Single(logs.WithEventId(CrossEncoderLogEvents.ModelExported));
        Assert.Equal(2, logs.WithEventId(CrossEncoderLogEvents.ExportReused).Count());
        Assert.Equal(written, File.GetLastWriteTimeUtc(exportedModel));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(exportedModel));
    }

    [Fact]
    public async Task Quantize_exports_int8_beside_fp32()
    {
        await using var server = new FakeHubServer().WithTinyModel(onnx: false);

        using var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, new CrossEncoderOptions { Quantize = true }, temp.Options(server)));

        // The int8 export quantizes like onnxruntime's quantize_dynamic, which made the fixture's model_int8.onnx.
        AssertClose(Reference("model_int8.onnx"), encoder.Predict(Pairs), 1e-5);
        var onnx = Path.Combine(Storage(server), "onnx", server.Commit);
        Assert.True(File.Exists(Path.Combine(onnx, "int8", "model.onnx")));
        Assert.False(Directory.Exists(Path.Combine(onnx, "fp32")));

        // The encoder names the int8 file it loaded, and its precision.
        Assert.Equal(Path.GetFullPath(Path.Combine(onnx, "int8", "model.onnx")), encoder.Model.ModelPath);
        Assert.Equal(ModelPrecision.Int8, encoder.Model.Precision);
        Assert.True(encoder.Model.TokenizerMatchesHuggingFace);
        Assert.True(new FileInfo(Path.Combine(onnx, "int8", "model.onnx")).Length < new FileInfo(Path.Combine(TestPaths.TinyModel, "model.onnx")).Length / 2);
    }

    [Fact]
    public async Task Offline_a_cached_snapshot_loads_and_an_uncached_one_is_NotCached()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        (await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, hubOptions: temp.Options(server)))).Dispose();
        var requests = server.Requests.Count;

        using var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, hubOptions: Offline()));

        Assert.Equal(Reference(), encoder.Predict(Pairs));
        Assert.Equal(requests, server.Requests.Count);
        var e = await Assert.ThrowsAsync<HubException>(() => CrossEncoder.FromPretrainedAsync("org/not-downloaded", hubOptions: Offline()));
        Assert.Equal(HubErrorKind.NotCached, e.Kind);
    }

    [Fact]
    public async Task HF_HUB_OFFLINE_in_the_environment_turns_offline_mode_on()
    {
        await using var server = new FakeHubServer().WithTinyModel();
        (await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, hubOptions: temp.Options(server)))).Dispose();
        var requests = server.Requests.Count;

        using var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(
            server.RepoId,
            hubOptions: new HubDownloadOptions { Endpoint = server.Endpoint, Environment = temp.Environment(("HF_HUB_CACHE", temp.Cache), ("HF_HUB_OFFLINE", "1")) }));

        Assert.Equal(Reference(), encoder.Predict(Pairs));
        Assert.Equal(requests, server.Requests.Count);
    }

    [Fact]
    public async Task Bad_arguments_and_a_cancelled_token_throw()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(() => CrossEncoder.FromPretrainedAsync(null!));
        await Assert.ThrowsAsync<ArgumentException>(() => CrossEncoder.FromPretrainedAsync(" "));
        await Assert.ThrowsAsync<ArgumentException>(() => CrossEncoder.FromPretrainedAsync("org/../name", hubOptions: Offline()));
        await using var server = new FakeHubServer().WithTinyModel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            CrossEncoder.FromPretrainedAsync(server.RepoId, hubOptions: temp.Options(server), cancellationToken: new CancellationToken(canceled: true)));
        Assert.False(Directory.Exists(Path.Combine(Storage(server), "snapshots")));
    }

    /// <summary>A BERT cross-encoder repository in the ms-marco layout: onnx/model.onnx and variants, safetensors beside them.</summary>
    private static FakeHubServer BertRepository()
    {
        var server = new FakeHubServer("cross-encoder/tiny-bert");
        foreach (var name in new[] { "config.json", "tokenizer.json", "tokenizer_config.json" })
        {
            server.Add(name, File.ReadAllBytes(Path.Combine(TestPaths.TinyBert, name)), lfs: false);
        }

        var model = File.ReadAllBytes(Path.Combine(TestPaths.TinyBert, "onnx", "model.onnx"));
        server.Add("onnx/model.onnx", model, lfs: true);
        server.Add("onnx/model_qint8_avx512.onnx", model, lfs: true);
        server.Add("model.safetensors", [1, 2, 3], lfs: true);
        server.Add("vocab.txt", [1], lfs: false);
        return server;
    }

    [Fact]
    public async Task A_bert_repository_with_onnx_in_a_folder_loads_and_downloads_only_what_it_needs()
    {
        await using var server = BertRepository();
        using var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, null, temp.Options(server)));
        using var local = CrossEncoder.Create(TestPaths.TinyBert);

        Assert.Equal(local.Predict(Pairs), encoder.Predict(Pairs));
        Assert.Equal("onnx/model.onnx", encoder.Options.ModelFileName);
        var fetched = server.FileRequests.Select(r => r.Path).Distinct().ToList();
        Assert.Contains(fetched, p => p.EndsWith("onnx/model.onnx", StringComparison.Ordinal));
        Assert.DoesNotContain(fetched, p => p.Contains("safetensors", StringComparison.Ordinal) || p.Contains("qint8", StringComparison.Ordinal) || p.Contains("vocab", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelVariant_downloads_that_variant_and_a_missing_one_names_those_there()
    {
        await using var server = BertRepository();
        using var encoder = await Bounded.Run(CrossEncoder.FromPretrainedAsync(server.RepoId, new CrossEncoderOptions { ModelVariant = "qint8_avx512" }, temp.Options(server)));
        Assert.EndsWith("model_qint8_avx512.onnx", encoder.Model.ModelPath, StringComparison.Ordinal);
        Assert.DoesNotContain(server.FileRequests, r => r.Path.EndsWith("onnx/model.onnx", StringComparison.Ordinal));

        var e = await Assert.ThrowsAsync<HubException>(() => CrossEncoder.FromPretrainedAsync(server.RepoId, new CrossEncoderOptions { ModelVariant = "fp16" }, temp.Options(server)));
        Assert.Equal(HubErrorKind.NotFound, e.Kind);
        Assert.Contains("qint8_avx512", e.Message, StringComparison.Ordinal);
    }
}

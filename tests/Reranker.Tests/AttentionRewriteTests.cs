using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Reranker.Export;
using Reranker.Export.Onnx;
using Reranker.Graph;
using Reranker.Inference;
using Reranker.Tests.Export;
using Reranker.Tests.Support;
using Xunit.Abstractions;

namespace Reranker.Tests;

/// <summary>
/// The load-time attention rewrite (<see cref="AttentionRewrite"/>): the torch-layout attention of the fixture's torch
/// export and of this project's own export becomes <c>com.microsoft.MultiHeadAttention</c>, and the logits still match
/// the Python reference on every golden row, the 8192-token rows included. Expected values come from torch and Python
/// onnxruntime (golden/*.json), never from this code.
/// </summary>
[Collection(nameof(LongSequenceCollection))]
public sealed class AttentionRewriteTests(ITestOutputHelper output) : IDisposable
{
    private const double LogitTolerance = 1e-4;
    private const int PadId = 1;
    private readonly List<string> _temp = [];

    private static string TorchExport => Path.Combine(TestPaths.TinyModel, "model.onnx");

    private static string PythonInt8 => Path.Combine(TestPaths.TinyModel, "model_int8.onnx");

    [Fact]
    public void Torch_export_rewritten_matches_torch_on_every_golden_row_including_8192_tokens()
    {
        using var session = LogitSession.Load(TorchExport, 0);
        AssertRewritten(session, blocks: 2);
        AssertFp32MatchesTorch(session);
    }

    [Fact]
    public void Own_fp32_export_rewritten_matches_torch_on_every_golden_row_including_8192_tokens()
    {
        var exported = Export(new ExportOptions());
        using var session = LogitSession.Load(exported.ModelPath, 0);
        AssertRewritten(session, blocks: 2);
        AssertFp32MatchesTorch(session);
    }

    [Fact]
    public void External_data_export_is_rewritten_in_memory_and_finds_its_weights()
    {
        // Loaded from bytes, the model has no folder: the weights in model.onnx.data are found only through the
        // session config entry the loader sets. Wrong or missing, ORT fails to load or reads garbage weights.
        var exported = Export(new ExportOptions { ExternalDataThreshold = 0 });
        Assert.NotNull(exported.ExternalDataPath);
        using var session = LogitSession.Load(exported.ModelPath, 0);
        AssertRewritten(session, blocks: 2);
        AssertFp32MatchesTorch(session);
    }

    [Fact]
    public void Int8_rewritten_stays_within_int8_tolerance_and_our_export_equals_pythons_after_the_same_rewrite()
    {
        // Dynamic int8 quantizes each layer's input with a scale taken from the tensor at run time, so the tiny
        // rounding difference of the tiled attention kernel (about 1e-6) can move a quantization step and grow to a few
        // 1e-3 on a logit. Bounds: against Python onnxruntime on quantize_dynamic's file as written (unfused), 0.02,
        // far inside what int8 costs against fp32; against torch fp32, the 0.1 int8 itself costs on this fixture
        // (FIXTURE-README). Our int8 export against Python's after the same rewrite: the two files optimize into the
        // same graph (ExportOrtParityTests), so the same rewrite must leave them bit-identical on every row.
        var rows = GoldenData.RawPairs;
        var ids = rows.Select(r => r.InputIds).ToArray();
        var golden = GoldenData.OnnxRuntimeLogits("model_int8.onnx");
        float[] Rewritten(string path)
        {
            using var session = LogitSession.Load(path, 0);
            AssertRewritten(session, blocks: 2);
            Assert.True(session.IsDynamicallyQuantized);
            return session.Run(ids, PadId, batchSize: 1, maxBatchTokens: 8192); // one pair per call, as CrossEncoder runs int8
        }

        var python = Rewritten(PythonInt8);
        var ours = Rewritten(Export(new ExportOptions { Int8 = true }).ModelPath);
        AssertClose(golden, python, 0.02, "python int8 rewritten vs python onnxruntime int8 as written");
        AssertClose(rows.Select(r => r.Logit).ToArray(), python, 0.1, "python int8 rewritten vs torch fp32");
        var apart = Enumerable.Range(0, rows.Count).Where(i => python[i] != ours[i]).ToList();
        Assert.True(apart.Count == 0, $"our int8 export and python's int8, both rewritten, differ on {apart.Count} of {rows.Count} rows, e.g. row {apart.FirstOrDefault()}: {(apart.Count > 0 ? python[apart[0]] - ours[apart[0]] : 0)}");
        Assert.Contains(Enumerable.Range(0, rows.Count), i => Math.Abs(python[i] - rows[i].Logit) > 1e-3); // really int8
    }

    [Fact]
    public void Export_with_MultiHeadAttention_writes_the_rewritten_form_which_matches_torch_and_is_never_padded()
    {
        var exported = Export(new ExportOptions { MultiHeadAttention = true });
        var ops = OpTypes(exported.ModelPath);
        Assert.Contains(AttentionRewrite.MultiHeadAttentionOp, ops);
        Assert.DoesNotContain("Softmax", ops);

        // As written (no load-time rewrite): the file itself runs the tiled attention and must not see padding.
        using var session = LogitSession.Load(exported.ModelPath, 0, rewriteAttention: false);
        Assert.True(session.RejectsPadding);
        AssertFp32MatchesTorch(session);

        using var loaded = LogitSession.Load(exported.ModelPath, 0);
        Assert.False(loaded.Attention!.Rewritten);
        Assert.Contains("already", loaded.Attention.Reason, StringComparison.Ordinal);
        Assert.True(loaded.RejectsPadding);
        Assert.Throws<InvalidOperationException>(() => loaded.RunPadded(new long[] { 0, 5, 2, 0, 2, PadId }, new long[] { 1, 1, 1, 1, 1, 0 }, 2, 3, new float[2]));
    }

    [Fact]
    public void Onnx_runtime_optimized_graph_runs_MultiHeadAttention_and_no_softmax()
    {
        var optimized = Temp("optimized.onnx");
        using (var session = LogitSession.Load(TorchExport, 1, configure: o => o.OptimizedModelFilePath = optimized))
        {
            AssertRewritten(session, blocks: 2);
        }

        var ops = OpTypes(optimized);
        Assert.Contains(AttentionRewrite.MultiHeadAttentionOp, ops);
        Assert.DoesNotContain("Softmax", ops);

        // The same file as exported keeps its unfused attention: what the rewrite changes.
        var asExported = Temp("as-exported.onnx");
        using (var session = LogitSession.Load(TorchExport, 1, rewriteAttention: false, configure: o => o.OptimizedModelFilePath = asExported))
        {
            Assert.Null(session.Attention);
            Assert.False(session.RejectsPadding);
        }

        var plain = OpTypes(asExported);
        Assert.Contains("Softmax", plain);
        Assert.DoesNotContain(AttentionRewrite.MultiHeadAttentionOp, plain);
    }

    [Fact]
    public void A_graph_without_the_attention_pattern_is_left_alone_and_runs_as_it_is()
    {
        // logits = Σ softmax(input_ids) over the sequence = 1 per row: a Softmax, but no attention around it.
        var model = new OnnxGraphWriter()
            .Input("input_ids", OnnxGraphWriter.Int64, "batch", "sequence")
            .Input("attention_mask", OnnxGraphWriter.Int64, "batch", "sequence")
            .Output("logits", OnnxGraphWriter.Float, "batch", 1)
            .Node("Cast", ["input_ids"], ["ids_f"], ("to", 1))
            .Node("Softmax", ["ids_f"], ["p"], ("axis", -1))
            .Node("ReduceSum", ["p"], ["logits"], ("axes", new long[] { 1 }), ("keepdims", 1))
            .ToModel();
        using var directory = new TempModelDirectory(copyModel: false);
        directory.Write("model.onnx", model);

        using var session = LogitSession.Load(directory.File("model.onnx"), 1);
        Assert.NotNull(session.Attention);
        Assert.False(session.Attention!.Rewritten);
        Assert.Equal(1, session.Attention.SoftmaxCount);
        Assert.Contains("MatMul", session.Attention.Reason, StringComparison.Ordinal);
        Assert.False(session.RejectsPadding);

        // Not rewritten, so padded batches still run: rows of different lengths in one batch.
        var logits = session.Run([[0, 5, 2], [0, 7, 8, 9, 2], [0, 2]], PadId, batchSize: 8, maxBatchTokens: 1000);
        Assert.All(logits, l => Assert.Equal(1f, l, 1e-5f));
    }

    [Fact]
    public void A_term_added_to_the_scores_that_is_not_the_padding_mask_keeps_its_block_unfused()
    {
        // Layer 0's additive mask replaced by a term computed from input_ids (as a learned or positional bias would
        // be): dropping it would change the result, so only layer 1 may be rewritten, and the logits must equal those
        // of the same modified file run as it is.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TorchExport));
        var softmax = model.Graph.Node.First(n => n.OpType == "Softmax");
        var add = model.Graph.Node.Single(n => n.Output.Contains(softmax.Input[0]));
        Assert.Equal("Add", add.OpType);
        var axes = new TensorProto { Name = "test_bias_axes", DataType = (int)TensorProto.Types.DataType.Int64 };
        axes.Dims.Add(2);
        axes.Int64Data.AddRange([1, 2]);
        model.Graph.Initializer.Add(axes);
        var cast = new NodeProto { OpType = "Cast", Name = "test_bias_cast" };
        cast.Input.Add("input_ids");
        cast.Output.Add("test_bias_f");
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        var scale = new TensorProto { Name = "test_bias_scale", DataType = (int)TensorProto.Types.DataType.Float };
        scale.FloatData.Add(1e-4f);
        model.Graph.Initializer.Add(scale);
        var mul = new NodeProto { OpType = "Mul", Name = "test_bias_mul" };
        mul.Input.AddRange(["test_bias_f", "test_bias_scale"]);
        mul.Output.Add("test_bias_scaled");
        var unsqueeze = new NodeProto { OpType = "Unsqueeze", Name = "test_bias_unsqueeze" };
        unsqueeze.Input.AddRange(["test_bias_scaled", "test_bias_axes"]);
        unsqueeze.Output.Add("test_bias");
        model.Graph.Node.Insert(0, unsqueeze);
        model.Graph.Node.Insert(0, mul);
        model.Graph.Node.Insert(0, cast);
        var maskSide = add.Input.IndexOf(add.Input.First(i => model.Graph.Node.Single(n => n.Output.Contains(i)).OpType == "Where"));
        add.Input[maskSide] = "test_bias";
        using var directory = new TempModelDirectory(copyModel: false);
        directory.Write("model.onnx", model.ToByteArray());

        using var rewritten = LogitSession.Load(directory.File("model.onnx"), 1);
        Assert.Equal(1, rewritten.Attention!.BlocksRewritten);
        Assert.Equal(2, rewritten.Attention.SoftmaxCount);
        using var asIs = LogitSession.Load(directory.File("model.onnx"), 1, rewriteAttention: false);
        var rows = GoldenData.Pairs.Where(r => r.InputIds.Length is > 8 and <= 512).Take(20).Select(r => r.InputIds).ToArray();
        var expected = asIs.Run(rows, PadId, 1, 8192);
        var actual = rewritten.Run(rows, PadId, 1, 8192);
        AssertClose(expected.Select(x => (double)x).ToArray(), actual, 1e-5, "partly rewritten vs the same file as is");

        // And the bias matters: the unmodified model gives other logits (else this test could not fail).
        using var original = LogitSession.Load(TorchExport, 1, rewriteAttention: false);
        var unmodified = original.Run(rows, PadId, 1, 8192);
        Assert.Contains(Enumerable.Range(0, rows.Length), i => Math.Abs(unmodified[i] - expected[i]) > 1e-4);
    }

    [Fact]
    public void The_eager_attention_layout_with_a_divided_score_and_a_transposed_key_is_rewritten_too()
    {
        // Older torch exports (transformers' eager attention, optimum before SDPA): k as Transpose[0,2,1,3] then
        // Transpose[0,1,3,2], no scales on q and k, and the scores divided by √head_dim after the MatMul. Layer 0 of
        // the torch export is turned into that form (the same function), layer 1 keeps the SDPA form.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TorchExport));
        var nodes = model.Graph.Node;
        NodeProto Producer(string name) => nodes.Single(n => n.Output.Contains(name));
        var softmax = nodes.First(n => n.OpType == "Softmax");
        var add = Producer(softmax.Input[0]);
        var scoresSide = add.Input.IndexOf(add.Input.First(i => Producer(i).OpType == "MatMul"));
        var qk = Producer(add.Input[scoresSide]);
        var qMul = Producer(qk.Input[0]);
        var kMul = Producer(qk.Input[1]);
        Assert.Equal(("Mul", "Mul"), (qMul.OpType, kMul.OpType));
        var kTranspose = Producer(kMul.Input[0]);
        Assert.Equal(new long[] { 0, 2, 3, 1 }, kTranspose.Attribute.Single(a => a.Name == "perm").Ints);
        kTranspose.Attribute.Single(a => a.Name == "perm").Ints.Clear();
        kTranspose.Attribute.Single(a => a.Name == "perm").Ints.AddRange([0, 2, 1, 3]);
        var swap = new NodeProto { OpType = "Transpose", Name = "test_eager_k_swap" };
        swap.Input.Add(kTranspose.Output[0]);
        swap.Output.Add("test_eager_k_t");
        swap.Attribute.Add(new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 1, 3, 2 } });
        nodes.Insert(nodes.IndexOf(qk), swap);
        qk.Input[0] = qMul.Input[0];
        qk.Input[1] = "test_eager_k_t";
        var sqrtD = new TensorProto { Name = "test_eager_sqrt_d", DataType = (int)TensorProto.Types.DataType.Float };
        sqrtD.FloatData.Add(4f); // head size 16
        model.Graph.Initializer.Add(sqrtD);
        var div = new NodeProto { OpType = "Div", Name = "test_eager_div" };
        div.Input.AddRange([qk.Output[0], "test_eager_sqrt_d"]);
        div.Output.Add("test_eager_scores");
        nodes.Insert(nodes.IndexOf(qk) + 1, div);
        add.Input[scoresSide] = "test_eager_scores";
        using var directory = new TempModelDirectory(copyModel: false);
        directory.Write("model.onnx", model.ToByteArray());

        using var session = LogitSession.Load(directory.File("model.onnx"), 0);
        AssertRewritten(session, blocks: 2);
        AssertFp32MatchesTorch(session);
    }

    [Theory]
    [InlineData(4, 8192)]
    [InlineData(32, 1 << 20)]
    public void Batches_of_mixed_lengths_give_the_logits_of_each_pair_alone(int batchSize, int maxBatchTokens)
    {
        // Many rows share a length (the 32-token rows, the 512-token rows), so equal-length batches really form.
        var rows = GoldenData.Pairs.Where(r => r.InputIds.Length <= 512).Select(r => r.InputIds).ToArray();
        using var session = LogitSession.Load(TorchExport, 0);
        Assert.True(session.RejectsPadding);
        var lengths = rows.Select(r => r.Length).ToArray();
        var plan = LogitSession.PlanBatches(lengths, batchSize, maxBatchTokens, equalLengthsOnly: true);
        Assert.Contains(plan, b => b.Length > 1);
        Assert.All(plan, b => Assert.Single(b.Select(i => lengths[i]).Distinct()));

        var alone = session.Run(rows, PadId, batchSize: 1, maxBatchTokens: 8192);
        var batched = session.Run(rows, PadId, batchSize, maxBatchTokens);
        AssertClose(alone.Select(x => (double)x).ToArray(), batched, 1e-5, $"rewritten, batch {batchSize} vs one by one");
        AssertClose(GoldenData.Pairs.Where(r => r.InputIds.Length <= 512).Select(r => r.Logit).ToArray(), batched, LogitTolerance, "rewritten batches vs torch");
    }

    [Fact]
    public void A_rewritten_session_refuses_a_padded_batch_instead_of_scoring_it_wrong()
    {
        using var session = LogitSession.Load(TorchExport, 1);
        long[] ids = [0, 10, 11, 2, 0, 12, 2, PadId];
        long[] mask = [1, 1, 1, 1, 1, 1, 1, 0];
        var e = Assert.Throws<InvalidOperationException>(() => session.RunPadded(ids, mask, 2, 4, new float[2]));
        Assert.Contains("RewriteAttention", e.Message, StringComparison.Ordinal);

        // Without padding the same call runs.
        var logits = new float[2];
        session.RunPadded(new long[] { 0, 10, 11, 2, 0, 12, 13, 2 }, Enumerable.Repeat(1L, 8).ToArray(), 2, 4, logits);
        Assert.All(logits, l => Assert.True(float.IsFinite(l)));
    }

    [Fact]
    public void CrossEncoder_rewrites_by_default_logs_it_and_runs_as_exported_on_request()
    {
        using var logs = new CapturingLoggerFactory();
        using (var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { LoggerFactory = logs }))
        {
            Assert.Equal(2, encoder.Session.Attention!.BlocksRewritten);
        }

        Assert.Contains(logs.Entries, e => e.EventId.Id == CrossEncoderLogEvents.AttentionRewritten && e.Level == LogLevel.Debug);

        using var asExported = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { RewriteAttention = false, BatchSize = 8 });
        Assert.Null(asExported.Session.Attention);
        Assert.False(asExported.Session.RejectsPadding);
        Assert.False(new CrossEncoderOptions().RewriteAttention == false, "the default is to rewrite");
    }

    public void Dispose()
    {
        foreach (var path in _temp)
        {
            if (Directory.Exists(path))
            {
                ExportTestSupport.DeleteQuietly(path);
            }
            else if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }

    private ExportResult Export(ExportOptions options)
    {
        var snapshot = ExportTestSupport.CopyTinySnapshot();
        _temp.Add(snapshot);
        var root = ExportTestSupport.NewTempDir();
        _temp.Add(root);
        return ModelExporter.Export(ExportSource.FromSnapshot(snapshot), Path.Combine(root, "model"), options);
    }

    private string Temp(string name)
    {
        var dir = ExportTestSupport.NewTempDir();
        _temp.Add(dir);
        return Path.Combine(dir, name);
    }

    private static HashSet<string> OpTypes(string path)
    {
        using var stream = File.OpenRead(path);
        return OnnxModelScan.OpTypes(stream);
    }

    private static void AssertRewritten(LogitSession session, int blocks)
    {
        Assert.NotNull(session.Attention);
        Assert.True(session.Attention!.Rewritten, "not rewritten: " + session.Attention.Reason);
        Assert.Equal(blocks, session.Attention.BlocksRewritten);
        Assert.Equal(blocks, session.Attention.SoftmaxCount);
        Assert.True(session.RejectsPadding);
    }

    private void AssertFp32MatchesTorch(LogitSession session)
    {
        var rows = GoldenData.Pairs;
        Assert.Equal(2, rows.Count(r => r.InputIds.Length == 8192));
        var logits = session.Run(rows.Select(r => r.InputIds).ToArray(), PadId, batchSize: 1, maxBatchTokens: 8192);
        AssertClose(rows.Select(r => r.Logit).ToArray(), logits, LogitTolerance, "fp32 rewritten vs torch");
    }

    private void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double tolerance, string what) =>
        LogitAssert.Close(output, expected, actual, tolerance, what);
}

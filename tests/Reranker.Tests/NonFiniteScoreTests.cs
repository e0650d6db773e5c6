using Reranker.Tests.Export;
using Reranker.Tests.Support;

namespace Reranker.Tests;

/// <summary>A NaN or infinite logit is an error that names the pair, never a score, and Rank never sorts one.</summary>
public sealed class NonFiniteScoreTests(TinyExportFixture exports) : IClassFixture<TinyExportFixture>
{
    private const string Query = "the";
    private const string GoodDocument = "검색 결과 문서 reranker model";
    private const string BadDocument = "a to is of";

    [Theory]
    [InlineData("Sqrt", "NaN")]
    [InlineData("Log", "-Infinity")]
    public async Task A_non_finite_logit_names_its_pair_on_every_path(string op, string shown)
    {
        // logits = op(max id of the pair - K), with K one above the bad pair's largest id: op(-1) is NaN for Sqrt,
        // and op(0) = -Infinity for Log (K = largest id then); the good pair's largest id is higher, so it stays finite.
        using var probe = CrossEncoder.Create(TestPaths.TinyModel);
        var badMax = probe.EncodePair(Query, BadDocument).InputIds.Max();
        var goodMax = probe.EncodePair(Query, GoodDocument).InputIds.Max();
        Assert.True(goodMax > badMax + 1, "the test needs the good pair to reach higher ids");
        var k = op == "Sqrt" ? badMax + 1 : badMax;

        var model = new OnnxGraphWriter()
            .Input("input_ids", OnnxGraphWriter.Int64, "batch", "sequence")
            .Input("attention_mask", OnnxGraphWriter.Int64, "batch", "sequence")
            .Output("logits", OnnxGraphWriter.Float, "batch", 1)
            .Scalar("k", k)
            .Node("Cast", ["input_ids"], ["ids"], ("to", OnnxGraphWriter.Float))
            .Node("ReduceMax", ["ids"], ["max"], ("axes", new long[] { 1 }), ("keepdims", 1))
            .Node("Sub", ["max", "k"], ["shifted"])
            .Node(op, ["shifted"], ["logits"])
            .ToModel();
        using var directory = new TempModelDirectory(copyModel: false);
        directory.Write("model.onnx", model);
        using var encoder = CrossEncoder.Create(directory.Path);

        Assert.True(float.IsFinite(encoder.PredictLogits([(Query, GoodDocument)])[0]));

        (string, string)[] pairs = [(Query, GoodDocument), (Query, BadDocument)];
        AssertNamesPairOne(Assert.Throws<InvalidOperationException>(() => encoder.Predict(pairs)), shown);
        AssertNamesPairOne(Assert.Throws<InvalidOperationException>(() => encoder.PredictLogits(pairs)), shown);
        AssertNamesPairOne(Assert.Throws<InvalidOperationException>(() => encoder.Rank(Query, [GoodDocument, BadDocument])), shown);
        AssertNamesPairOne(await Assert.ThrowsAsync<InvalidOperationException>(() => encoder.PredictAsync(pairs)), shown);
        AssertNamesPairOne(await Assert.ThrowsAsync<InvalidOperationException>(() => encoder.RankAsync(Query, [GoodDocument, BadDocument], topK: 1)), shown);
    }

    [Fact]
    public void A_model_whose_weights_are_NaN_fails_instead_of_returning_scores()
    {
        // The case: the weights file replaced by bytes of the same size (here all NaN), which ONNX Runtime loads.
        using var directory = new TempModelDirectory(copyModel: false);
        File.Copy(exports.External.ModelPath, directory.File("model.onnx"));
        var nan = BitConverter.GetBytes(float.NaN);
        var weights = new byte[new FileInfo(exports.External.ExternalDataPath!).Length];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = nan[i % 4];
        }

        directory.Write("model.onnx.data", weights);
        using var encoder = CrossEncoder.Create(directory.Path);

        var e = Assert.Throws<InvalidOperationException>(() => encoder.Rank("질문", ["첫 문서", "둘째 문서"]));
        Assert.Contains("pair 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("첫 문서", e.Message, StringComparison.Ordinal);
        Assert.Contains("NaN", e.Message, StringComparison.Ordinal);
    }

    private static void AssertNamesPairOne(InvalidOperationException e, string shown)
    {
        Assert.Contains("pair 1", e.Message, StringComparison.Ordinal);
        Assert.Contains($"document \"{BadDocument}\"", e.Message, StringComparison.Ordinal);
        Assert.Contains(shown, e.Message, StringComparison.Ordinal);
        Assert.Contains("expected a finite number", e.Message, StringComparison.Ordinal);
    }
}

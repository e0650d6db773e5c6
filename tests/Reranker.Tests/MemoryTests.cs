using System.Diagnostics;
using Reranker.Inference;

namespace Reranker.Tests;

/// <summary>Memory a long run leaves behind. Alone in its collection: it reads the whole process's resident set.</summary>
[Collection(nameof(MemoryCollection))]
public class MemoryTests
{
    [Fact]
    public void LongRun_GivesItsActivationMemoryBack()
    {
        // 8192 tokens on the tiny model: a few GB of attention activations, which ONNX Runtime's arena would keep.
        using var encoder = CrossEncoder.Create(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 8192 });
        var document = string.Concat(Enumerable.Repeat("머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다. Cross-encoders read both texts at once. ", 1200));
        Assert.True(encoder.EncodePair("질문", document).InputIds.Length >= LogitSession.ShrinkArenaFromLength * 4);
        encoder.Predict([("질문", "짧은 문서")]);
        var before = ResidentBytes();

        encoder.Predict([("질문", document)]);
        encoder.Predict([("질문", document)]);

        var grown = ResidentBytes() - before;
        Assert.True(grown < 1L << 30, $"the process kept {grown / (1 << 20)} MB after two 8192-token runs");
    }

    private static long ResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}

[CollectionDefinition(nameof(MemoryCollection), DisableParallelization = true)]
public class MemoryCollection;

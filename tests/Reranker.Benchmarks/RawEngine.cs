using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace Reranker.Benchmarks;

/// <summary>
/// ONNX Runtime alone: an <see cref="InferenceSession"/> with the library's session settings, fed ready-made padded
/// batches. Only <c>Run</c> is timed. The gap between a library call and this on the same batches is the time the
/// library spends outside <c>Run</c> (tokenizing, padding, building OrtValues, sigmoid, sorting).
/// </summary>
internal sealed class RawEngine : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;

    /// <param name="modelPath">The model file.</param>
    /// <param name="allowSpinning">ONNX Runtime's intra-op spinning.</param>
    /// <param name="rewriteAttention">Load the graph with the library's load-time attention rewrite (as <see cref="CrossEncoder"/> does by default).</param>
    public RawEngine(string modelPath, bool allowSpinning = true, bool rewriteAttention = false)
    {
        _options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            InterOpNumThreads = 1,
        };
        _options.AddSessionConfigEntry("session.intra_op.allow_spinning", allowSpinning ? "1" : "0");
        var rewritten = rewriteAttention ? Reranker.Inference.LogitSession.RewriteAttention(modelPath).Bytes : null;
        if (rewritten is null)
        {
            _session = new InferenceSession(modelPath, _options);
        }
        else
        {
            _options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
            _session = new InferenceSession(rewritten, _options);
        }
    }

    /// <returns>Seconds inside <c>Run</c>, summed over the batches, and the logits in input order.</returns>
    public (double Seconds, float[] Logits) Run(IReadOnlyList<int[]> ids, IReadOnlyList<int[]> batches, int padId)
    {
        var logits = new float[ids.Count];
        double seconds = 0;
        foreach (var batch in batches)
        {
            var (flat, mask, _, cols) = PaddedBatch.Create(ids, batch, padId);

            long[] shape = [batch.Length, cols];
            using var idsValue = OrtValue.CreateTensorValueFromMemory(flat, shape);
            using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
            using var runOptions = new RunOptions();
            var start = Stopwatch.GetTimestamp();
            using var outputs = _session.Run(runOptions, ["input_ids", "attention_mask"], [idsValue, maskValue], ["logits"]);
            seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
            var span = outputs[0].GetTensorDataAsSpan<float>();
            for (var r = 0; r < batch.Length; r++)
            {
                logits[batch[r]] = span[r];
            }
        }

        return (seconds, logits);
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}

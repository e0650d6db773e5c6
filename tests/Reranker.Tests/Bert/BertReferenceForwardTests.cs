using System.Text.Json;
using Google.Protobuf;
using Reranker.Export.Onnx;

namespace Reranker.Tests.Bert;

/// <summary>
/// The BERT graph our exporter writes (BertForSequenceClassification, the tiny test model) computed independently: a
/// plain double-precision BERT forward pass over the weights stored in the ONNX file (embeddings of word + position
/// 0..S-1 + segment, LayerNorm, post-LN self-attention and exact-GELU feed-forward layers, pooler tanh on [CLS], one-logit
/// classifier), checked against the Transformers.js goldens. It ties the exported graph to BERT's definition, not only
/// to ONNX Runtime running the same file.
/// </summary>
public class BertReferenceForwardTests
{
    [Fact]
    public void PlainForwardPass_OverTheFilesWeights_GivesTheGoldenLogits()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(TestPaths.TinyBert, "onnx", "model.onnx")));
        var weights = model.Graph.Initializer.ToDictionary(t => t.Name, t => (Dims: t.Dims.ToArray(), Values: Floats(t)));
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.TinyBert, "config.json")));
        var hidden = config.RootElement.GetProperty("hidden_size").GetInt32();
        var heads = config.RootElement.GetProperty("num_attention_heads").GetInt32();
        var layers = config.RootElement.GetProperty("num_hidden_layers").GetInt32();
        var eps = config.RootElement.GetProperty("layer_norm_eps").GetDouble();

        var rows = File.ReadLines(Path.Combine(TestPaths.TinyBert, "golden", "scores.jsonl")).Skip(1).Take(60)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var maxDiff = 0.0;
        foreach (var row in rows)
        {
            var ids = row.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var types = row.GetProperty("type_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var logit = Forward(weights, ids, types, hidden, heads, layers, eps);
            maxDiff = Math.Max(maxDiff, Math.Abs(logit - row.GetProperty("logit").GetDouble()));
        }

        Assert.True(maxDiff < 1e-4, $"max |diff| {maxDiff}");
    }

    private static float[] Floats(TensorProto t) =>
        t.FloatData.Count > 0 ? t.FloatData.ToArray()
        : t.DataType == (int)TensorProto.Types.DataType.Float ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray()
        : [];

    private static double Forward(Dictionary<string, (long[] Dims, float[] Values)> w, int[] ids, int[] types, int h, int heads, int layers, double eps)
    {
        var s = ids.Length;
        var d = h / heads;
        var x = new double[s, h];
        const string e = "bert.embeddings.";
        for (var t = 0; t < s; t++)
        {
            for (var j = 0; j < h; j++)
            {
                x[t, j] = w[e + "word_embeddings.weight"].Values[(ids[t] * h) + j]
                          + w[e + "position_embeddings.weight"].Values[(t * h) + j]
                          + w[e + "token_type_embeddings.weight"].Values[(types[t] * h) + j];
            }
        }

        x = LayerNorm(x, w[e + "LayerNorm.weight"].Values, w[e + "LayerNorm.bias"].Values, eps);
        for (var l = 0; l < layers; l++)
        {
            var p = $"bert.encoder.layer.{l}.";
            var q = Linear(x, w, p + "attention.self.query");
            var k = Linear(x, w, p + "attention.self.key");
            var v = Linear(x, w, p + "attention.self.value");
            var context = new double[s, h];
            for (var head = 0; head < heads; head++)
            {
                for (var i = 0; i < s; i++)
                {
                    var scores = new double[s];
                    var max = double.NegativeInfinity;
                    for (var j = 0; j < s; j++)
                    {
                        var dot = 0.0;
                        for (var c = 0; c < d; c++)
                        {
                            dot += q[i, (head * d) + c] * k[j, (head * d) + c];
                        }

                        scores[j] = dot / Math.Sqrt(d);
                        max = Math.Max(max, scores[j]);
                    }

                    var sum = 0.0;
                    for (var j = 0; j < s; j++)
                    {
                        scores[j] = Math.Exp(scores[j] - max);
                        sum += scores[j];
                    }

                    for (var j = 0; j < s; j++)
                    {
                        for (var c = 0; c < d; c++)
                        {
                            context[i, (head * d) + c] += scores[j] / sum * v[j, (head * d) + c];
                        }
                    }
                }
            }

            x = LayerNorm(Add(Linear(context, w, p + "attention.output.dense"), x), w[p + "attention.output.LayerNorm.weight"].Values, w[p + "attention.output.LayerNorm.bias"].Values, eps);
            var inter = Linear(x, w, p + "intermediate.dense");
            for (var i = 0; i < inter.GetLength(0); i++)
            {
                for (var j = 0; j < inter.GetLength(1); j++)
                {
                    inter[i, j] = 0.5 * inter[i, j] * (1 + Erf(inter[i, j] / Math.Sqrt(2)));
                }
            }

            x = LayerNorm(Add(Linear(inter, w, p + "output.dense"), x), w[p + "output.LayerNorm.weight"].Values, w[p + "output.LayerNorm.bias"].Values, eps);
        }

        // Pooler on [CLS] and classifier: Gemm weights in torch layout [out, in].
        var pooled = new double[h];
        var pw = w["bert.pooler.dense.weight"].Values;
        for (var o = 0; o < h; o++)
        {
            var acc = (double)w["bert.pooler.dense.bias"].Values[o];
            for (var i = 0; i < h; i++)
            {
                acc += pw[(o * h) + i] * x[0, i];
            }

            pooled[o] = Math.Tanh(acc);
        }

        var logit = (double)w["classifier.bias"].Values[0];
        for (var i = 0; i < h; i++)
        {
            logit += w["classifier.weight"].Values[i] * pooled[i];
        }

        return logit;
    }

    /// <summary>x @ W + b, with W stored for MatMul as [in, out].</summary>
    private static double[,] Linear(double[,] x, Dictionary<string, (long[] Dims, float[] Values)> w, string prefix)
    {
        var (dims, weight) = w[prefix + ".weight"];
        var bias = w[prefix + ".bias"].Values;
        int inDim = (int)dims[0], outDim = (int)dims[1];
        var y = new double[x.GetLength(0), outDim];
        for (var t = 0; t < x.GetLength(0); t++)
        {
            for (var o = 0; o < outDim; o++)
            {
                var acc = (double)bias[o];
                for (var i = 0; i < inDim; i++)
                {
                    acc += x[t, i] * weight[(i * outDim) + o];
                }

                y[t, o] = acc;
            }
        }

        return y;
    }

    private static double[,] Add(double[,] a, double[,] b)
    {
        var y = new double[a.GetLength(0), a.GetLength(1)];
        for (var i = 0; i < a.GetLength(0); i++)
        {
            for (var j = 0; j < a.GetLength(1); j++)
            {
                y[i, j] = a[i, j] + b[i, j];
            }
        }

        return y;
    }

    private static double[,] LayerNorm(double[,] x, float[] gamma, float[] beta, double eps)
    {
        var y = new double[x.GetLength(0), x.GetLength(1)];
        var n = x.GetLength(1);
        for (var t = 0; t < x.GetLength(0); t++)
        {
            var mean = 0.0;
            for (var j = 0; j < n; j++)
            {
                mean += x[t, j];
            }

            mean /= n;
            var variance = 0.0;
            for (var j = 0; j < n; j++)
            {
                variance += (x[t, j] - mean) * (x[t, j] - mean);
            }

            variance /= n;
            for (var j = 0; j < n; j++)
            {
                y[t, j] = ((x[t, j] - mean) / Math.Sqrt(variance + eps) * gamma[j]) + beta[j];
            }
        }

        return y;
    }

    /// <summary>erf: its Taylor series below 3 (terms stay below 1e4, so double keeps ~1e-12), the asymptotic series of
    /// erfc above (error below 1e-9 there).</summary>
    private static double Erf(double x)
    {
        var a = Math.Abs(x);
        if (a >= 3)
        {
            var x2 = a * a;
            var erfc = Math.Exp(-x2) / (a * Math.Sqrt(Math.PI)) * (1 - (1 / (2 * x2)) + (3 / (4 * x2 * x2)) - (15 / (8 * x2 * x2 * x2)) + (105 / (16 * x2 * x2 * x2 * x2)));
            return Math.Sign(x) * (1 - erfc);
        }

        double sum = x, term = x;
        for (var n = 1; n < 200; n++)
        {
            term *= -x * x / n;
            var add = term / ((2 * n) + 1);
            sum += add;
            if (Math.Abs(add) < 1e-17)
            {
                break;
            }
        }

        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}

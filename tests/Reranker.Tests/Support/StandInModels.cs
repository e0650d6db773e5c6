using Google.Protobuf;
using Reranker.Export.Onnx;
using DataType = Reranker.Export.Onnx.TensorProto.Types.DataType;

namespace Reranker.Tests.Support;

/// <summary>
/// Miniature stand-ins for models this machine cannot download (jina-reranker-v2's and gte-multilingual-reranker's
/// ONNX files): graphs with the real files' input and output names, shapes and types, and optionally their weights in
/// an external data file, whose logit is simple enough to compute in the test: the mean over unmasked tokens of
/// (word embedding + segment embedding), times a vector, plus a bias.
/// </summary>
internal static class StandInModels
{
    /// <summary>The weights of a stand-in, to compute its logits independently.</summary>
    internal sealed record PooledWeights(int Width, float[] Words, float[] Types, float[] Output, float Bias)
    {
        /// <summary>The logit of one unpadded sequence.</summary>
        public double Logit(IReadOnlyList<int> ids, IReadOnlyList<int>? types = null)
        {
            var sum = new double[Width];
            for (var t = 0; t < ids.Count; t++)
            {
                for (var j = 0; j < Width; j++)
                {
                    sum[j] += Words[(ids[t] * Width) + j] + (Types.Length == 0 ? 0 : Types[((types?[t] ?? 0) * Width) + j]);
                }
            }

            var logit = (double)Bias;
            for (var j = 0; j < Width; j++)
            {
                logit += sum[j] / ids.Count * Output[j];
            }

            return logit;
        }
    }

    /// <summary>Writes a pooled one-logit classifier.</summary>
    /// <param name="path">The .onnx file to write.</param>
    /// <param name="inputs">The graph inputs, from input_ids, attention_mask, token_type_ids (in this order).</param>
    /// <param name="vocabulary">Rows of the word table.</param>
    /// <param name="typeRows">Rows of the segment table (0: no token_type_ids input used).</param>
    /// <param name="externalData">The file name (beside the model) to keep the weights in, or null for inside the model.</param>
    /// <param name="logitsType">Float or Float16 (the output is cast at the end, as an fp16 export without float32 IO ends).</param>
    /// <param name="logitWidth">Logits per pair (1 for a reranker).</param>
    public static PooledWeights WritePooledClassifier(
        string path, string[] inputs, int vocabulary, int typeRows = 0, string? externalData = null,
        DataType logitsType = DataType.Float, int logitWidth = 1, int seed = 7)
    {
        const int width = 8;
        var random = new Random(seed);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        var weights = new PooledWeights(width, Values(vocabulary * width), Values(typeRows * width), Values(width * logitWidth), (float)random.NextDouble());

        var model = new ModelProto { IrVersion = 8, ProducerName = "reranker-tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        var g = new GraphProto { Name = "stand_in" };
        model.Graph = g;
        foreach (var input in inputs)
        {
            g.Input.Add(ValueInfo(input, DataType.Int64, "batch_size", "sequence_length"));
        }

        g.Output.Add(ValueInfo("logits", logitsType, "batch_size", logitWidth));
        using var data = externalData is null ? null : File.Create(Path.Combine(Path.GetDirectoryName(path)!, externalData));
        void Init(string name, long[] dims, float[] values)
        {
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            var tensor = new TensorProto { Name = name, DataType = (int)DataType.Float };
            tensor.Dims.AddRange(dims);
            if (data is null)
            {
                tensor.RawData = ByteString.CopyFrom(bytes);
            }
            else
            {
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = externalData! });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = data.Position.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                data.Write(bytes);
            }

            g.Initializer.Add(tensor);
        }

        void Node(string op, string[] ins, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = op + "_" + g.Node.Count };
            node.Input.AddRange(ins);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            g.Node.Add(node);
        }

        Init("embeddings.word_embeddings.weight", [vocabulary, width], weights.Words);
        Init("classifier.weight", [width, logitWidth], weights.Output);
        Init("classifier.bias", [logitWidth], Enumerable.Repeat(weights.Bias, logitWidth).ToArray());
        g.Initializer.Add(Int64s("axes_1", [1]));
        g.Initializer.Add(Int64s("axes_2", [2]));
        Node("Gather", ["embeddings.word_embeddings.weight", "input_ids"], "words");
        var x = "words";
        if (typeRows > 0 && inputs.Contains("token_type_ids"))
        {
            Init("embeddings.token_type_embeddings.weight", [typeRows, width], weights.Types);
            Node("Gather", ["embeddings.token_type_embeddings.weight", "token_type_ids"], "types");
            Node("Add", ["words", "types"], "embedded");
            x = "embedded";
        }

        if (inputs.Contains("attention_mask"))
        {
            Node("Unsqueeze", ["attention_mask", "axes_2"], "mask3");
            Node("Cast", ["mask3"], "maskf", new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (int)DataType.Float });
            Node("Mul", [x, "maskf"], "masked");
            Node("ReduceSum", ["masked", "axes_1"], "sum", KeepDims0());
            Node("ReduceSum", ["maskf", "axes_1"], "count", KeepDims0());
            Node("Div", ["sum", "count"], "pooled");
        }
        else
        {
            Node("ReduceMean", [x], "pooled", KeepDims0(), new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1 } });
        }

        Node("MatMul", ["pooled", "classifier.weight"], "projected");
        Node("Add", ["projected", "classifier.bias"], logitsType == DataType.Float ? "logits" : "logits_float");
        if (logitsType != DataType.Float)
        {
            Node("Cast", ["logits_float"], "logits", new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (int)logitsType });
        }

        File.WriteAllBytes(path, model.ToByteArray());
        return weights;
    }

    private static AttributeProto KeepDims0() => new() { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 };

    private static TensorProto Int64s(string name, long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    private static ValueInfoProto ValueInfo(string name, DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}

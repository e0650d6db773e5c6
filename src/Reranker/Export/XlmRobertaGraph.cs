using System.Buffers;
using System.Runtime.InteropServices;
using Reranker.Export.Onnx;
using static Reranker.Export.OnnxGraphBuilder;
using DataType = Reranker.Export.Onnx.TensorProto.Types.DataType;

namespace Reranker.Export;

/// <summary>
/// Emits the ONNX graph of transformers' <c>XLMRobertaForSequenceClassification</c> (one label, eval mode) in the
/// node layout torch.onnx's opset-17 export gives it, so ONNX Runtime fuses it the same way; with int8, in the
/// layout <c>quantize_dynamic(weight_type=QInt8, per_channel=True)</c> gives that export.
/// </summary>
internal sealed class XlmRobertaGraph
{
    private const string Batch = "batch_size";
    private const string Seq = "sequence_length";
    private const int F32 = (int)DataType.Float;

    /// <summary>Elements of an embedding table handled per chunk when streaming it.</summary>
    private const int ChunkElements = 1 << 20;

    private readonly XlmRobertaConfig cfg;
    private readonly WeightSource w;
    private readonly OnnxGraphBuilder b;
    private readonly bool int8;
    private readonly Dictionary<string, string[]> quantizedInputs = new(StringComparer.Ordinal);
    private int freshDims;

    public XlmRobertaGraph(XlmRobertaConfig config, WeightSource weights, OnnxGraphBuilder builder, bool int8)
    {
        cfg = config;
        w = weights;
        b = builder;
        this.int8 = int8;
    }

    /// <summary>Bytes of all initializers the graph will hold (to decide on external data before writing).</summary>
    public static long EstimateWeightBytes(XlmRobertaConfig config, bool int8) =>
        config.ParameterCount * (int8 ? 1 : 4);

    /// <summary>Builds the graph into the builder's <see cref="OnnxGraphBuilder.Graph"/>.</summary>
    public void Build()
    {
        var g = b.Graph;
        g.Name = cfg.IsBert ? "bert_reranker" : "xlm_roberta_reranker";
        g.Input.Add(ValueInfo("input_ids", (int)DataType.Int64, [Batch, Seq]));
        g.Input.Add(ValueInfo("attention_mask", (int)DataType.Int64, [Batch, Seq]));
        if (cfg.IsBert)
        {
            // optimum's order for BERT: input_ids, attention_mask, token_type_ids.
            g.Input.Add(ValueInfo("token_type_ids", (int)DataType.Int64, [Batch, Seq]));
        }

        g.Output.Add(ValueInfo("logits", F32, [Batch, 1]));

        long h = cfg.HiddenSize;
        var heads = cfg.NumAttentionHeads;
        long headDim = cfg.HeadDim;
        var pad = cfg.PadTokenId;
        var inputRows = new Rows(Batch, Seq);

        var e = cfg.Prefix + "embeddings.";
        Rows rows;
        string x;
        if (cfg.IsBert)
        {
            // BERT: position ids 0..S-1 (a constant row sliced to the sequence, as torch exports the position_ids
            // buffer), segment embeddings from the token_type_ids input.
            var positionRow = new long[cfg.MaxPositionEmbeddings];
            for (var i = 0; i < positionRow.Length; i++)
            {
                positionRow[i] = i;
            }

            var positionIds = b.Initializer("position_ids", DataType.Int64, [1, cfg.MaxPositionEmbeddings], MemoryMarshal.AsBytes(positionRow.AsSpan()));
            var seqLength = b.Op("Unsqueeze", [b.Op("Gather", [b.Op("Shape", ["input_ids"]), b.ConstInt64(1)], attributes: Int("axis", 0)), b.ConstInt64([0])]);
            var positions = b.Op("Slice", [positionIds, b.ConstInt64([0]), seqLength, b.ConstInt64([1])]);
            rows = Fresh();
            x = b.Op("Add", [Gather(e + "word_embeddings.weight", "input_ids", inputRows), Gather(e + "token_type_embeddings.weight", "token_type_ids", inputRows)],
                rows.Of(h));
            rows = Fresh();
            x = b.Op("Add", [x, Gather(e + "position_embeddings.weight", positions, new Rows(1, Seq))], rows.Of(h));
        }
        else
        {
            // Embeddings. position ids = cumsum(ids != pad) * (ids != pad) + pad; token type ids are all 0.
            var notPad = b.Op("Cast", [b.Op("Not", [b.Op("Equal", ["input_ids", b.ConstInt64(pad)])])], [Batch, Seq], (int)DataType.Int32,
                attributes: Int("to", (int)DataType.Int32));
            var positions = b.Op("Mul", [b.Op("CumSum", [notPad, b.ConstInt32(1)]), notPad]);
            positions = b.Op("Add", [b.Op("Cast", [positions], attributes: Int("to", (int)DataType.Int64)), b.ConstInt64(pad)]);
            var zero = new TensorProto { DataType = (int)DataType.Int64 };
            zero.Dims.Add(1);
            zero.Int64Data.Add(0);
            var tokenTypes = b.Op("ConstantOfShape", [b.Op("Shape", ["input_ids"])], attributes: Tensor("value", zero));
            // Shape hints follow what onnx shape inference writes into quantize_dynamic's model of the torch export
            // (see Rows): the token type ids come from a shape it cannot follow, so each embedding sum gets new symbols.
            rows = Fresh();
            x = b.Op("Add", [Gather(e + "word_embeddings.weight", "input_ids", inputRows), Gather(e + "token_type_embeddings.weight", tokenTypes, Fresh())],
                rows.Of(h));
            rows = Fresh();
            x = b.Op("Add", [x, Gather(e + "position_embeddings.weight", positions, inputRows)], rows.Of(h));
        }

        x = LayerNorm(x, e + "LayerNorm", rows);

        // Shapes for the head split and merge, from the runtime shape.
        var shape = b.Op("Shape", [x]);
        var batch = b.Op("Unsqueeze", [b.Op("Gather", [shape, b.ConstInt64(0)], attributes: Int("axis", 0)), b.ConstInt64([0])]);
        var seq = b.Op("Unsqueeze", [b.Op("Gather", [shape, b.ConstInt64(1)], attributes: Int("axis", 0)), b.ConstInt64([0])]);
        var splitHeads = b.Op("Concat", [batch, seq, b.ConstInt64([-1]), b.ConstInt64([headDim])], attributes: Int("axis", 0));
        var mergeHeads = b.Op("Concat", [batch, seq, b.ConstInt64([-1])], attributes: Int("axis", 0));

        // Additive padding mask [batch, 1, 1, seq]: 0 where the key is a real token, -inf where it is padding
        // (broadcast over heads and queries; the same values as transformers' expanded 4-D mask).
        var keep = b.Op("Unsqueeze", [b.Op("Cast", ["attention_mask"], attributes: Int("to", (int)DataType.Bool)), b.ConstInt64([1, 2])],
            [Batch, 1, 1, Seq], (int)DataType.Bool);
        var maskBias = b.Op("Where", [keep, b.Const([0f]), b.Const([float.NegativeInfinity])], [Batch, 1, 1, Seq]);

        var qkScale = (float)Math.Sqrt(1.0 / Math.Sqrt(headDim)); // applied to q and to k, as torch's SDPA export does
        for (var i = 0; i < cfg.NumHiddenLayers; i++)
        {
            var p = $"{cfg.Prefix}encoder.layer.{i}.";
            var split = Fresh(); // after the Reshape to heads
            var q = SplitHeads(x, rows, split, p + "attention.self.query", splitHeads, [0, 2, 1, 3], [split.Batch, heads, split.Seq, headDim]);
            var k = SplitHeads(x, rows, split, p + "attention.self.key", splitHeads, [0, 2, 3, 1], [split.Batch, heads, headDim, split.Seq]);
            var v = SplitHeads(x, rows, split, p + "attention.self.value", splitHeads, [0, 2, 1, 3], [split.Batch, heads, split.Seq, headDim]);
            Dim[] scoresShape = [split.Batch, heads, split.Seq, split.Seq];
            var scores = b.Op("MatMul", [b.Op("Mul", [q, b.Const(qkScale)], [split.Batch, heads, split.Seq, headDim]),
                b.Op("Mul", [k, b.Const(qkScale)], [split.Batch, heads, headDim, split.Seq])], scoresShape);
            scores = b.Op("Add", [scores, maskBias], scoresShape);
            var probs = b.Op("Softmax", [scores], scoresShape, attributes: Int("axis", -1));
            // A query row whose keys are all padding gives NaN in softmax; transformers' SDPA path gives 0.
            probs = b.Op("Where", [b.Op("IsNaN", [probs], scoresShape, (int)DataType.Bool), b.Const([0f]), probs], scoresShape);
            var context = b.Op("Transpose", [b.Op("MatMul", [probs, v], [split.Batch, heads, split.Seq, headDim])], [split.Batch, split.Seq, heads, headDim],
                attributes: Ints("perm", 0, 2, 1, 3));
            var merged = Fresh(); // after the Reshape back to [batch, seq, hidden]
            context = b.Op("Reshape", [context, mergeHeads], merged.Of(h));

            // The attention residual adds tensors of unrelated symbols: the sum gets new ones, and ORT leaves this
            // Add + LayerNorm unfused, as in quantize_dynamic's model. The FFN below keeps the symbols, so its
            // residual Add + LayerNorm fuses into SkipLayerNormalization, as there.
            var attended = Fresh();
            x = b.Op("Add", [Linear(context, merged, p + "attention.output.dense", h), x], attended.Of(h));
            rows = attended;
            x = LayerNorm(x, p + "attention.output.LayerNorm", rows);

            // Exact GELU: h * (erf(h / sqrt 2) + 1) * 0.5
            var bsf = rows.Of(cfg.IntermediateSize);
            var inter = Linear(x, rows, p + "intermediate.dense", cfg.IntermediateSize);
            var gelu = b.Op("Add", [b.Op("Erf", [b.Op("Div", [inter, b.Const((float)Math.Sqrt(2))], bsf)], bsf), b.Const(1f)], bsf);
            inter = b.Op("Mul", [b.Op("Mul", [inter, gelu], bsf), b.Const(0.5f)], bsf);
            x = LayerNorm(b.Op("Add", [Linear(inter, rows, p + "output.dense", h), x], rows.Of(h)), p + "output.LayerNorm", rows);
        }

        // Head on the first token: dense -> tanh -> output (RoBERTa's classifier.dense/out_proj; BERT's pooler, then classifier).
        var (denseName, outputName) = cfg.HeadNames;
        var first = b.Op("Gather", [x, b.ConstInt64(0)], [rows.Batch, h], attributes: Int("axis", 1));
        var dense = b.Op("Tanh", [HeadLinear(first, rows.Batch, denseName, h, null)], [rows.Batch, h]);
        HeadLinear(dense, rows.Batch, outputName, 1, "logits");
    }

    // ------------------------------------------------------------------ shape hints

    /// <summary>
    /// The symbolic [batch, sequence] dims of a value_info hint. The hints are the ones onnx shape inference writes
    /// into quantize_dynamic's model of the torch export (the int8 reference): where inference cannot tie a
    /// tensor's dims to its inputs' (a Reshape to a shape computed at run time, an Add of two tensors with unrelated
    /// symbols), the tensor gets new symbols (<see cref="Fresh"/>). They matter to ONNX Runtime: it fuses a
    /// residual Add + LayerNormalization into SkipLayerNormalization only when both Add inputs carry equal dims,
    /// and a fused pair rounds differently, which dynamic quantization amplifies. With the same symbols the same
    /// pairs fuse as in the reference: each layer's FFN residual, not the attention residual or the embeddings.
    /// The fp32 reference (the torch export) has no value_info, so <see cref="ModelExporter"/> drops them for fp32.
    /// </summary>
    private readonly record struct Rows(Dim Batch, Dim Seq)
    {
        public Dim[] Of(params Dim[] rest) => [Batch, Seq, .. rest];
    }

    private Rows Fresh()
    {
        freshDims++;
        return new Rows($"{Batch}_{freshDims}", $"{Seq}_{freshDims}");
    }

    // ------------------------------------------------------------------ building blocks

    private string SplitHeads(string x, Rows rows, Rows split, string prefix, string splitShape, long[] perm, Dim[] outShape)
    {
        var y = b.Op("Reshape", [Linear(x, rows, prefix, cfg.HiddenSize), splitShape], split.Of(cfg.NumAttentionHeads, cfg.HeadDim));
        return b.Op("Transpose", [y], outShape, attributes: Ints("perm", perm));
    }

    private string LayerNorm(string x, string prefix, Rows rows) =>
        b.Op("LayerNormalization", [x, Param(prefix + ".weight"), Param(prefix + ".bias")], rows.Of(cfg.HiddenSize),
            attributes: [Int("axis", -1), Float("epsilon", (float)cfg.LayerNormEps)]);

    /// <summary>A 1-D parameter (bias, LayerNorm) as a float initializer under its HF name.</summary>
    private string Param(string name) => b.Initializer(name, w.Shapes[name], w.ReadAll(name));

    /// <summary>nn.Linear on [batch, seq, in]: MatMul with the transposed weight, then Add(bias, product).</summary>
    private string Linear(string x, Rows rows, string prefix, long outDim)
    {
        var product = MatMul(x, prefix + ".weight", rows.Of(outDim));
        return b.Op("Add", [Param(prefix + ".bias"), product], rows.Of(outDim));
    }

    /// <summary>nn.Linear on [batch, in]: Gemm(transB=1); in int8, MatMul + Add(product, bias) as quantize_dynamic writes it.</summary>
    private string HeadLinear(string x, Dim batch, string prefix, long outDim, string? output)
    {
        if (!int8)
        {
            var weight = prefix + ".weight";
            return b.Op("Gemm", [x, b.Initializer(weight, w.Shapes[weight], w.ReadAll(weight)), Param(prefix + ".bias")],
                output is null ? [batch, outDim] : null, output: output, attributes: Int("transB", 1));
        }

        var product = MatMul(x, prefix + ".weight", [batch, outDim]);
        return b.Op("Add", [product, Param(prefix + ".bias")], output is null ? [batch, outDim] : null, output: output);
    }

    /// <summary>x @ W^T for a torch [out, in] weight; in int8, DynamicQuantizeLinear + MatMulInteger + scale Muls.</summary>
    private string MatMul(string x, string weightName, Dim[] outShape)
    {
        var shape = w.Shapes[weightName];
        int outDim = checked((int)shape[0]), inDim = checked((int)shape[1]);
        var torchLayout = w.ReadAll(weightName);
        var transposed = new float[torchLayout.Length];
        for (var o = 0; o < outDim; o++)
        {
            for (var i = 0; i < inDim; i++)
            {
                transposed[((long)i * outDim) + o] = torchLayout[((long)o * inDim) + i];
            }
        }

        if (!int8)
        {
            return b.Op("MatMul", [x, b.Initializer(weightName, [inDim, outDim], transposed)], outShape);
        }

        if (!quantizedInputs.TryGetValue(x, out var xq))
        {
            // One DynamicQuantizeLinear per input tensor, shared by the MatMuls that read it (q, k, v).
            xq = b.OpMulti("DynamicQuantizeLinear", [x], 3);
            quantizedInputs[x] = xq;
        }

        var (q, scale) = Int8Quantizer.PerColumnSymmetric(transposed, inDim, outDim);
        var qName = b.Initializer(weightName + "_quantized", DataType.Int8, [inDim, outDim], MemoryMarshal.AsBytes(q.AsSpan()));
        var zpName = b.Initializer(weightName + "_zero_point", DataType.Int8, [outDim], new byte[outDim]);
        var scaleName = b.Initializer(weightName + "_scale", [outDim], scale);
        var y = b.Op("MatMulInteger", [xq[0], qName, xq[2], zpName], outShape, (int)DataType.Int32);
        var scales = b.Op("Mul", [xq[1], scaleName], [outDim]);
        return b.Op("Mul", [b.Op("Cast", [y], outShape, attributes: Int("to", F32)), scales], outShape);
    }

    /// <summary>An embedding lookup; in int8 the table is per-tensor uint8 (Gather + DequantizeLinear).</summary>
    private string Gather(string name, string indices, Rows rows)
    {
        var shape = w.Shapes[name];
        var total = w.ElementCount(name);
        var outShape = rows.Of(shape[1]);
        if (!int8)
        {
            var table = b.StreamedInitializer(name, DataType.Float, shape, total * 4, s => StreamFloats(name, total, s));
            return b.Op("Gather", [table, indices], outShape);
        }

        // Pass 1: min and max over the table; pass 2: quantize chunk by chunk.
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        ForEachChunk(name, total, chunk =>
        {
            foreach (var v in chunk)
            {
                min = MathF.Min(min, v);
                max = MathF.Max(max, v);
            }
        });
        var (scale, zeroPoint) = Int8Quantizer.PerTensorUint8Params(min, max);
        var q = b.StreamedInitializer(name + "_quantized", DataType.Uint8, shape, total, s =>
        {
            var bytes = new byte[ChunkElements];
            ForEachChunk(name, total, chunk =>
            {
                Int8Quantizer.QuantizeUint8(chunk, scale, zeroPoint, bytes);
                s.Write(bytes, 0, chunk.Length);
            });
        });
        var gathered = b.Op("Gather", [q, indices], outShape, (int)DataType.Uint8);
        var scaleName = b.Initializer(name + "_scale", [], [scale]);
        var zpName = b.Initializer(name + "_zero_point", DataType.Uint8, [], [zeroPoint]);
        return b.Op("DequantizeLinear", [gathered, scaleName, zpName], outShape);
    }

    private void StreamFloats(string name, long total, Stream s) =>
        ForEachChunk(name, total, chunk => s.Write(MemoryMarshal.AsBytes(chunk)));

    private delegate void ChunkAction(ReadOnlySpan<float> chunk);

    private void ForEachChunk(string name, long total, ChunkAction action)
    {
        var buffer = ArrayPool<float>.Shared.Rent(ChunkElements);
        try
        {
            for (long start = 0; start < total; start += ChunkElements)
            {
                var n = (int)Math.Min(ChunkElements, total - start);
                w.Read(name, start, buffer.AsSpan(0, n));
                action(buffer.AsSpan(0, n));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }
}

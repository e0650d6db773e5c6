using System.Text.Json;
using Reranker.Inference;
using Reranker.Tokenization;

namespace Reranker;

/// <summary>
/// Scores (query, document) pairs with an XLM-RoBERTa cross-encoder reranker, such as
/// <c>dragonkue/bge-reranker-v2-m3-ko</c>, run in-process by ONNX Runtime on the CPU.
/// </summary>
/// <remarks>
/// <para>
/// A score is the sigmoid of the model's single logit for the pair: a number in [0, 1], higher is more relevant.
/// </para>
/// <para>
/// Creating an instance loads the model (seconds and hundreds of megabytes for a large model): create one and reuse
/// it for the life of the application. All members are safe to call from several threads at once, because each
/// call gets its own buffers and ONNX Runtime sessions accept concurrent runs; the instance must not be disposed
/// while calls are in flight.
/// </para>
/// <para>
/// The instance owns its ONNX Runtime session and releases it in <see cref="Dispose"/>. Model files are executed
/// as given: load only models from a trusted source.
/// </para>
/// </remarks>
public sealed class CrossEncoder : IDisposable
{
    private readonly LogitSession _session;
    private readonly IPairEncoder _encoder;
    private volatile bool _disposed;

    private CrossEncoder(LogitSession session, IPairEncoder encoder, CrossEncoderOptions options)
    {
        _session = session;
        _encoder = encoder;
        Options = options;
    }

    /// <summary>The options this instance was created with.</summary>
    public CrossEncoderOptions Options { get; }

    /// <summary>Loads a reranker from a directory in the layout of an optimum ONNX export.</summary>
    /// <param name="modelDirectory">
    /// A directory with the ONNX model (<see cref="CrossEncoderOptions.ModelFileName"/>, default <c>model.onnx</c>,
    /// with <c>model.onnx.data</c> beside it when the weights are external), the tokenizer (<c>tokenizer.json</c>
    /// and/or <c>sentencepiece.bpe.model</c>) and <c>config.json</c>.
    /// </param>
    /// <param name="options">Settings; <see langword="null"/> for the defaults.</param>
    /// <returns>A reranker that owns its model session; dispose it when done.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="modelDirectory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is empty or white space.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <see cref="CrossEncoderOptions.MaxLength"/> exceeds what the model's position table allows
    /// (<c>max_position_embeddings - 2</c>).
    /// </exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="modelDirectory"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">The ONNX model, <c>config.json</c> or the tokenizer file is missing.</exception>
    /// <exception cref="InvalidDataException">The ONNX model, <c>config.json</c> or the tokenizer file is malformed.</exception>
    /// <exception cref="NotSupportedException">
    /// The model is not a one-label sequence classifier: no <c>logits</c> output, more than one label, or inputs other
    /// than <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c>.
    /// </exception>
    public static CrossEncoder Create(string modelDirectory, CrossEncoderOptions? options = null) =>
        CreateWithEncoder(modelDirectory, options, static directory => new XlmRobertaPairEncoder(XlmRobertaTokenizer.Create(directory)));

    /// <summary>Test seam: <see cref="Create(string, CrossEncoderOptions?)"/> with another source of token ids.</summary>
    internal static CrossEncoder CreateWithEncoder(string modelDirectory, CrossEncoderOptions? options, Func<string, IPairEncoder> createEncoder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        options ??= new CrossEncoderOptions();

        var directory = Path.GetFullPath(modelDirectory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Model directory not found: '{directory}'.");
        }

        var modelPath = Path.Combine(directory, options.ModelFileName);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"ONNX model not found: '{modelPath}'. Set CrossEncoderOptions.ModelFileName to pick another file.", modelPath);
        }

        var tokenizerJson = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(tokenizerJson) && !File.Exists(Path.Combine(directory, "sentencepiece.bpe.model")))
        {
            throw new FileNotFoundException($"Tokenizer not found: neither '{tokenizerJson}' nor 'sentencepiece.bpe.model' exists.", tokenizerJson);
        }

        var configPath = Path.Combine(directory, "config.json");
        var config = ModelConfig.Load(configPath);
        if (config.MaxSequenceLength is { } limit && options.MaxLength > limit)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options),
                options.MaxLength,
                $"MaxLength {options.MaxLength} exceeds the {limit} tokens the model takes (max_position_embeddings {config.MaxPositionEmbeddings} - {ModelConfig.PositionOffset} in '{configPath}').");
        }

        var session = LogitSession.Load(modelPath, options.IntraOpNumThreads);
        try
        {
            IPairEncoder encoder;
            try
            {
                encoder = createEncoder(directory);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"The tokenizer in '{directory}' is malformed: {e.Message}", e);
            }

            return new CrossEncoder(session, encoder, options);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Scores (query, document) pairs.</summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <returns>One score per pair, in the order of <paramref name="pairs"/>: the sigmoid of the logit, in [0, 1], higher is more relevant. Empty when <paramref name="pairs"/> is empty.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A query or document in <paramref name="pairs"/> is <see langword="null"/>; the message names its index.</exception>
    /// <exception cref="ObjectDisposedException">The instance has been disposed.</exception>
    public float[] Predict(IReadOnlyList<(string Query, string Document)> pairs)
    {
        var scores = PredictLogits(pairs);
        Sigmoid(scores);
        return scores;
    }

    /// <summary>Computes the model's raw relevance logits of (query, document) pairs, before the sigmoid.</summary>
    /// <param name="pairs">The pairs; strings may be empty.</param>
    /// <returns>One logit per pair, in the order of <paramref name="pairs"/>; <see cref="Predict"/> returns their sigmoid. Empty when <paramref name="pairs"/> is empty.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A query or document in <paramref name="pairs"/> is <see langword="null"/>; the message names its index.</exception>
    /// <exception cref="ObjectDisposedException">The instance has been disposed.</exception>
    public float[] PredictLogits(IReadOnlyList<(string Query, string Document)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var i = 0; i < pairs.Count; i++)
        {
            if (pairs[i].Query is null)
            {
                throw new ArgumentException($"The query of pair {i} is null.", nameof(pairs));
            }

            if (pairs[i].Document is null)
            {
                throw new ArgumentException($"The document of pair {i} is null.", nameof(pairs));
            }
        }

        var ids = new int[pairs.Count][];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = Encode(pairs[i].Query, pairs[i].Document).InputIds;
        }

        return RunLogits(ids);
    }

    /// <summary>Scores documents against one query and sorts them, most relevant first.</summary>
    /// <param name="query">The query; may be empty.</param>
    /// <param name="documents">The candidate documents; strings may be empty.</param>
    /// <param name="topK">How many of the best documents to return; <see langword="null"/> for all.</param>
    /// <returns>
    /// The documents by descending score, each with its index in <paramref name="documents"/>; equal scores keep
    /// the input order. Empty when <paramref name="documents"/> is empty.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> or <paramref name="documents"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A document is <see langword="null"/>; the message names its index.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> is zero or negative.</exception>
    /// <exception cref="ObjectDisposedException">The instance has been disposed.</exception>
    public IReadOnlyList<RankedDocument> Rank(string query, IReadOnlyList<string> documents, int? topK = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(documents);
        if (topK is { } k)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k, nameof(topK));
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var i = 0; i < documents.Count; i++)
        {
            if (documents[i] is null)
            {
                throw new ArgumentException($"Document {i} is null.", nameof(documents));
            }
        }

        var encodings = new PairEncoding[documents.Count];
        var ids = new int[documents.Count][];
        for (var i = 0; i < encodings.Length; i++)
        {
            encodings[i] = Encode(query, documents[i]);
            ids[i] = encodings[i].InputIds;
        }

        var scores = RunLogits(ids);
        Sigmoid(scores);

        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // Array.Sort is not stable: break ties by index so equal scores keep the input order.
        Array.Sort(order, (a, b) => scores[a] != scores[b] ? scores[b].CompareTo(scores[a]) : a.CompareTo(b));

        var count = Math.Min(topK ?? order.Length, order.Length);
        var ranked = new RankedDocument[count];
        for (var r = 0; r < count; r++)
        {
            var i = order[r];
            ranked[r] = new RankedDocument(i, scores[i], encodings[i].IsTruncated);
        }

        return ranked;
    }

    /// <summary>Tokenizes a pair exactly as <see cref="Predict"/> and <see cref="Rank"/> do, to see what the model reads.</summary>
    /// <param name="query">The query.</param>
    /// <param name="document">The document.</param>
    /// <returns>
    /// The token ids with special tokens, how many query and document tokens were kept, and whether the pair was
    /// truncated to <see cref="CrossEncoderOptions.MaxLength"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> or <paramref name="document"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The instance has been disposed.</exception>
    public PairEncoding EncodePair(string query, string document)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Encode(query, document);
    }

    /// <summary>Releases the ONNX Runtime session. Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _session.Dispose();
    }

    private PairEncoding Encode(string query, string document) =>
        _encoder.EncodePair(query, document, Options.MaxLength, Options.Truncation);

    private float[] RunLogits(int[][] ids)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _session.Run(ids, _encoder.PadId, Options.BatchSize, Options.MaxBatchTokens);
    }

    private static void Sigmoid(Span<float> values)
    {
        foreach (ref var value in values)
        {
            value = (float)(1.0 / (1.0 + Math.Exp(-value)));
        }
    }
}

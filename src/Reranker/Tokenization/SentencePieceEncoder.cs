using System.Text;
using Microsoft.ML.Tokenizers;
using Reranker.Inference;

namespace Reranker.Tokenization;

/// <summary>
/// The fallback for a model directory that has only <c>sentencepiece.bpe.model</c>: Microsoft.ML.Tokenizers'
/// SentencePiece tokenizer, with its ids moved to the fairseq layout XLM-RoBERTa uses (<c>&lt;s&gt;</c>=0,
/// <c>&lt;pad&gt;</c>=1, <c>&lt;/s&gt;</c>=2, <c>&lt;unk&gt;</c>=3, every other piece +1, <c>&lt;mask&gt;</c> last).
/// </summary>
/// <remarks>
/// Two known gaps of Microsoft.ML.Tokenizers 2.0.1 against SentencePiece itself are closed here: characters that the
/// model's normalization map deletes (C0 controls...) are removed before encoding rather than kept as unknown pieces,
/// and runs of unknown pieces are fused into one as SentencePiece does. What remains is what SentencePiece does
/// differently from the Hugging Face fast tokenizer (see docs/TOKENIZER.md, "The SentencePiece fallback").
/// </remarks>
internal sealed class SentencePieceEncoder : ITextEncoder
{
    private const int FairseqUnknown = 3;
    private readonly SentencePieceTokenizer _tokenizer;
    private readonly HashSet<int> _deletedCodePoints;
    private readonly int _spmUnknownId;
    private readonly string[] _spmPieces;

    private SentencePieceEncoder(SentencePieceTokenizer tokenizer, HashSet<int> deletedCodePoints)
    {
        _tokenizer = tokenizer;
        _deletedCodePoints = deletedCodePoints;
        _spmUnknownId = tokenizer.UnknownId;
        SpmVocabularySize = tokenizer.Vocabulary.Count;
        _spmPieces = new string[SpmVocabularySize];
        foreach (var (piece, id) in tokenizer.Vocabulary)
        {
            if ((uint)id < (uint)_spmPieces.Length)
            {
                _spmPieces[id] = piece;
            }
        }
    }

    /// <summary>Pieces in the SentencePiece model; the fairseq vocabulary has one more (<c>&lt;pad&gt;</c>) plus <c>&lt;mask&gt;</c>.</summary>
    public int SpmVocabularySize { get; }

    public int VocabularySize => SpmVocabularySize + 2;

    public int MaskId => SpmVocabularySize + 1;

    public static SentencePieceEncoder Load(Stream stream, string sourceName)
    {
        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            stream.CopyTo(buffer);
            bytes = buffer.ToArray();
        }

        if (bytes.Length == 0)
        {
            throw new InvalidDataException($"'{sourceName}' is empty (0 bytes); expected a SentencePiece model (protobuf ModelProto with pieces).");
        }

        SentencePieceTokenizer tokenizer;
        try
        {
            tokenizer = SentencePieceTokenizer.Create(new MemoryStream(bytes), addBeginningOfSentence: false, addEndOfSentence: false);
            if (tokenizer.Vocabulary.Count == 0)
            {
                throw new InvalidDataException($"'{sourceName}' has no pieces; expected a SentencePiece model with a vocabulary.");
            }
        }
        catch (InvalidDataException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{sourceName}' is not a valid SentencePiece model: {e.Message}", e);
        }

        if (tokenizer.UnknownId != 0 || tokenizer.BeginningOfSentenceId != 1 || tokenizer.EndOfSentenceId != 2)
        {
            throw new NotSupportedException(
                $"'{sourceName}' has <unk>={tokenizer.UnknownId}, <s>={tokenizer.BeginningOfSentenceId}, </s>={tokenizer.EndOfSentenceId}; " +
                "the XLM-RoBERTa id mapping needs SentencePiece's default 0, 1, 2.");
        }

        var deleted = new HashSet<int>();
        if (SentencePieceModelFile.ReadPrecompiledCharsMap(bytes) is { Length: > 0 } charsMap)
        {
            var map = PrecompiledCharsMap.Parse(charsMap);
            for (var cp = 0; cp < 0x80; cp++)
            {
                // The deletions that matter are single control characters; probe the ASCII and C1 ranges.
                if (map.Normalize(((char)cp).ToString()).Length == 0)
                {
                    deleted.Add(cp);
                }
            }

            for (var cp = 0x80; cp < 0xA0; cp++)
            {
                if (map.Normalize(((char)cp).ToString()).Length == 0)
                {
                    deleted.Add(cp);
                }
            }
        }

        return new SentencePieceEncoder(tokenizer, deleted);
    }

    public string? IdToPiece(int id)
    {
        return id switch
        {
            0 => "<s>",
            1 => "<pad>",
            2 => "</s>",
            3 => "<unk>",
            _ when id == MaskId => "<mask>",
            _ when id > 3 && id - 1 < SpmVocabularySize => _spmPieces[id - 1],
            _ => null,
        };
    }

    public void Encode(string text, List<int> ids, List<string>? pieces, CancellationToken cancellationToken = default)
    {
        // Microsoft.ML.Tokenizers cannot be interrupted: this fallback checks the token only before each text.
        cancellationToken.ThrowIfCancellationRequested();
        text = RemoveDeleted(TextSanitizer.ReplaceLoneSurrogates(text));
        var tokens = _tokenizer.EncodeToTokens(text, out var normalized, addBeginningOfSentence: false, addEndOfSentence: false);
        var previousUnknown = false;
        foreach (var token in tokens)
        {
            var id = ToFairseq(token.Id);
            if (id == FairseqUnknown && previousUnknown)
            {
                if (pieces is not null)
                {
                    pieces[^1] += token.Value;
                }

                continue;
            }

            previousUnknown = id == FairseqUnknown;
            ids.Add(id);
            pieces?.Add(token.Value);
        }

        _ = normalized;
    }

    private int ToFairseq(int spmId) => spmId switch
    {
        0 => FairseqUnknown,
        1 => 0,
        2 => 2,
        _ when spmId == _spmUnknownId => FairseqUnknown,
        _ => spmId + 1,
    };

    private string RemoveDeleted(string text)
    {
        if (_deletedCodePoints.Count == 0)
        {
            return text;
        }

        StringBuilder? sb = null;
        for (var i = 0; i < text.Length; i++)
        {
            if (_deletedCodePoints.Contains(text[i]))
            {
                sb ??= new StringBuilder(text, 0, i, text.Length);
            }
            else
            {
                sb?.Append(text[i]);
            }
        }

        return sb?.ToString() ?? text;
    }
}

/// <summary>Reads the one field this library needs from a SentencePiece <c>.model</c> protobuf.</summary>
internal static class SentencePieceModelFile
{
    /// <summary>ModelProto.normalizer_spec (field 3) → NormalizerSpec.precompiled_charsmap (field 2), or null.</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed protobuf message.</exception>
    public static byte[]? ReadPrecompiledCharsMap(byte[] model)
    {
        var (specStart, specLength) = ProtobufWire.FindLengthDelimited(model, 3);
        if (specStart < 0)
        {
            return null;
        }

        var spec = model.AsSpan(specStart, specLength);
        var (mapStart, mapLength) = ProtobufWire.FindLengthDelimited(spec, 2);
        return mapStart < 0 ? null : spec.Slice(mapStart, mapLength).ToArray();
    }
}

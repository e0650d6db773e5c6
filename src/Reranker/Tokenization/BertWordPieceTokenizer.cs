namespace Reranker.Tokenization;

/// <summary>
/// The BERT tokenizer of a cross-encoder (a <c>tokenizer.json</c> with a <c>WordPiece</c> model, as
/// <c>cross-encoder/ms-marco-MiniLM-L6-v2</c> ships): builds <c>[CLS] query [SEP] document [SEP]</c> with the segment
/// (token type) ids its post-processor gives, 0 for the query part and 1 for the document part.
/// </summary>
/// <remarks>
/// Get one from <see cref="CrossEncoderTokenizer.Create"/> or <see cref="CrossEncoderTokenizer.FromTokenizerJson(string)"/>,
/// which pick the class from the file's model. Lower-casing, accent stripping, CJK spacing and text cleaning follow the
/// file's <c>BertNormalizer</c> settings; a word the vocabulary cannot cover, or longer than
/// <c>max_input_chars_per_word</c>, becomes <c>[UNK]</c>.
/// </remarks>
public sealed class BertWordPieceTokenizer : CrossEncoderTokenizer
{
    private readonly string _prefix;

    private BertWordPieceTokenizer(HfTokenizerPipeline pipeline, int padId, string prefix)
        : base(pipeline, pipeline.Template, padId, pipeline.Model.UnknownId, isExact: true)
    {
        _prefix = prefix;
    }

    internal static BertWordPieceTokenizer FromPipeline(HfTokenizerPipeline pipeline, string sourceName)
    {
        var padId = pipeline.PaddingId ?? FindId(pipeline, "[PAD]") ?? FindId(pipeline, "<pad>")
            ?? throw new InvalidDataException($"'{sourceName}' has no padding token ([PAD]) and no padding.pad_id.");
        return new BertWordPieceTokenizer(pipeline, padId, ((WordPieceModel)pipeline.Model).ContinuingSubwordPrefix);
    }

    /// <summary>The WordPiece decoder: pieces joined by spaces, a continuing piece (<c>##</c>) glued to the one before.</summary>
    private protected override string JoinPieces(IReadOnlyList<string> pieces)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var piece in pieces)
        {
            if (sb.Length > 0 && piece.StartsWith(_prefix, StringComparison.Ordinal))
            {
                sb.Append(piece, _prefix.Length, piece.Length - _prefix.Length);
            }
            else
            {
                if (sb.Length > 0)
                {
                    sb.Append(' ');
                }

                sb.Append(piece);
            }
        }

        return sb.ToString();
    }
}

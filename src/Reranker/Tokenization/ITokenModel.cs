namespace Reranker.Tokenization;

/// <summary>
/// The <c>model</c> of a <c>tokenizer.json</c>: turns one pre-tokenized word into vocabulary ids. Implemented by
/// <see cref="UnigramModel"/> (SentencePiece, XLM-RoBERTa) and <see cref="WordPieceModel"/> (BERT).
/// </summary>
internal interface ITokenModel
{
    /// <summary>Number of ids of the vocabulary (its largest id + 1).</summary>
    int VocabularySize { get; }

    /// <summary>The id of the unknown token.</summary>
    int UnknownId { get; }

    /// <summary>Looks up a piece of the vocabulary.</summary>
    bool TryGetId(string piece, out int id);

    /// <summary>The piece an id stands for, or <see langword="null"/>.</summary>
    string? IdToPiece(int id);

    /// <summary>Appends the ids of one word (and, when given, the text each covers) to the lists.</summary>
    void Encode(string word, List<int> ids, List<string>? pieces, CancellationToken cancellationToken);
}

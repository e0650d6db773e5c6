using System.Runtime.InteropServices;

namespace Reranker.Tokenization;

/// <summary>
/// The <c>Unigram</c> model of the tokenizers library: Viterbi over the vocabulary's log-probabilities in double
/// precision, unknown characters scored at the minimum score minus 10, runs of unknown pieces fused into one.
/// </summary>
internal sealed class UnigramModel : ITokenModel
{
    private const double UnknownPenalty = 10.0;

    // A character trie over the pieces: node 0 is the root; children are found through one hash lookup per character.
    private readonly Dictionary<long, int> _children = new();
    private readonly List<int> _nodePiece = [-1];
    private readonly int[] _rootChild = new int[char.MaxValue + 1];
    private readonly double[] _scores;
    private readonly Dictionary<string, int> _pieceToId;
    private readonly double _unknownScore;

    public UnigramModel(IReadOnlyList<(string Piece, double Score)> vocab, int unknownId)
    {
        if (vocab.Count == 0)
        {
            throw new InvalidDataException("The Unigram model has an empty vocabulary.");
        }

        if ((uint)unknownId >= (uint)vocab.Count)
        {
            throw new InvalidDataException($"The Unigram model's unk_id {unknownId} is outside its vocabulary of {vocab.Count} pieces.");
        }

        UnknownId = unknownId;
        _scores = new double[vocab.Count];
        _pieceToId = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        var minScore = double.MaxValue;
        for (var id = 0; id < vocab.Count; id++)
        {
            var (piece, score) = vocab[id];
            _scores[id] = score;
            minScore = Math.Min(minScore, score);

            // The tokenizers library keeps the last id of a duplicated piece in its lookup table.
            _pieceToId[piece] = id;
            Insert(piece, id);
        }

        _unknownScore = minScore - UnknownPenalty;
        Vocabulary = vocab;
    }

    public int UnknownId { get; }

    public IReadOnlyList<(string Piece, double Score)> Vocabulary { get; }

    public int VocabularySize => _scores.Length;

    public bool TryGetId(string piece, out int id) => _pieceToId.TryGetValue(piece, out id);

    public string? IdToPiece(int id) => (uint)id < (uint)_scores.Length ? Vocabulary[id].Piece : null;

    /// <summary>Appends the ids of one pre-tokenized piece to <paramref name="ids"/> and, when given, the text each id
    /// covers to <paramref name="tokens"/>.</summary>
    public void Encode(string text, List<int> ids, List<string>? tokens = null, CancellationToken cancellationToken = default)
    {
        var n = text.Length;
        if (n == 0)
        {
            return;
        }

        // best[i]: the best path covering text[..i]; start < 0 means no path reaches i yet.
        var best = n < 256 ? stackalloc Node[n + 1] : new Node[n + 1];
        best[0] = new Node(0, 0, 0);
        for (var i = 1; i <= n; i++)
        {
            best[i] = new Node(-1, 0, 0);
        }

        var pos = 0;
        while (pos < n)
        {
            if ((pos & 0x3FFF) == 0)
            {
                // One word can be a whole document (text without spaces): stay cancellable inside it.
                cancellationToken.ThrowIfCancellationRequested();
            }

            var scoreHere = best[pos].Score;
            var charLength = char.IsHighSurrogate(text[pos]) && pos + 1 < n && char.IsLowSurrogate(text[pos + 1]) ? 2 : 1;
            var hasSingleCharPiece = false;

            // Every piece that starts at pos, shortest first.
            var node = _rootChild[text[pos]];
            var end = pos + 1;
            while (node > 0)
            {
                var pieceId = _nodePiece[node];
                if (pieceId >= 0)
                {
                    var candidate = _scores[pieceId] + scoreHere;
                    ref var target = ref best[end];
                    if (target.Start < 0 || candidate > target.Score)
                    {
                        target = new Node(pos, pieceId, candidate);
                    }

                    if (end - pos == charLength)
                    {
                        hasSingleCharPiece = true;
                    }
                }

                if (end >= n || !_children.TryGetValue(Key(node, text[end]), out node))
                {
                    break;
                }

                end++;
            }

            if (!hasSingleCharPiece)
            {
                var candidate = _unknownScore + scoreHere;
                ref var target = ref best[pos + charLength];
                if (target.Start < 0 || candidate > target.Score)
                {
                    target = new Node(pos, UnknownId, candidate);
                }
            }

            pos += charLength;
        }

        // Backtrack, fusing consecutive unknown pieces; the fused text is looked up again, as the tokenizers library does.
        var first = ids.Count;
        var unknownEnd = -1;
        var at = n;
        while (at > 0)
        {
            var nodeAt = best[at];
            if (nodeAt.Id == UnknownId)
            {
                if (unknownEnd < 0)
                {
                    unknownEnd = at;
                }
            }
            else
            {
                if (unknownEnd >= 0)
                {
                    AddFused(text, at, unknownEnd, ids, tokens);
                    unknownEnd = -1;
                }

                ids.Add(nodeAt.Id);
                tokens?.Add(text[nodeAt.Start..at]);
            }

            at = nodeAt.Start;
        }

        if (unknownEnd >= 0)
        {
            AddFused(text, 0, unknownEnd, ids, tokens);
        }

        CollectionsMarshal.AsSpan(ids)[first..].Reverse();
        if (tokens is not null)
        {
            CollectionsMarshal.AsSpan(tokens)[(tokens.Count - (ids.Count - first))..].Reverse();
        }
    }

    private void AddFused(string text, int start, int end, List<int> ids, List<string>? tokens)
    {
        var fused = text[start..end];
        ids.Add(_pieceToId.TryGetValue(fused, out var id) ? id : UnknownId);
        tokens?.Add(fused);
    }

    private void Insert(string piece, int id)
    {
        if (piece.Length == 0)
        {
            return;
        }

        var node = _rootChild[piece[0]];
        if (node == 0)
        {
            node = NewNode();
            _rootChild[piece[0]] = node;
        }

        for (var i = 1; i < piece.Length; i++)
        {
            var key = Key(node, piece[i]);
            if (!_children.TryGetValue(key, out var child))
            {
                child = NewNode();
                _children[key] = child;
            }

            node = child;
        }

        _nodePiece[node] = id;
    }

    private int NewNode()
    {
        _nodePiece.Add(-1);
        return _nodePiece.Count - 1;
    }

    private static long Key(int node, char c) => ((long)node << 16) | c;

    private readonly record struct Node(int Start, int Id, double Score);
}

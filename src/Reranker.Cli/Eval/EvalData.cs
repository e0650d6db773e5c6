namespace Reranker.Cli.Eval;

/// <summary>One evaluation query in AutoRAG's QA format.</summary>
/// <param name="Qid">Unique query id.</param>
/// <param name="Query">The question text, used exactly as stored.</param>
/// <param name="RetrievalGt">
/// Ground truth as AutoRAG's groups: every group should be retrieved (AND), any id inside a group satisfies it (OR).
/// </param>
internal sealed record QaItem(string Qid, string Query, IReadOnlyList<IReadOnlyList<string>> RetrievalGt);

/// <summary>One corpus passage in AutoRAG's corpus format.</summary>
/// <param name="DocId">Passage id, compared byte-exactly (ordinal); never trimmed or normalised.</param>
/// <param name="Contents">Passage text, used exactly as stored.</param>
internal sealed record CorpusItem(string DocId, string Contents);

/// <summary>
/// Bad input to <c>reranker eval</c>: a missing file or column, an unknown format, an id that does not resolve.
/// The message is meant for the user as is; the command prints it and exits with code 1.
/// </summary>
internal sealed class EvalInputException : Exception
{
    public EvalInputException(string message)
        : base(message)
    {
    }

    public EvalInputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public EvalInputException()
    {
    }
}

/// <summary>
/// A command line of <c>reranker eval</c> that cannot run as written, found once the model's configuration is read
/// (e.g. <c>--max-length</c> above the model's positions). The command prints it and exits with code 2.
/// </summary>
internal sealed class EvalUsageException : Exception
{
    public EvalUsageException(string message)
        : base(message)
    {
    }

    public EvalUsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public EvalUsageException()
    {
    }
}

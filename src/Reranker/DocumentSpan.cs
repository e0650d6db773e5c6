namespace Reranker;

/// <summary>A run of characters (UTF-16 code units) of a document: <c>document.Substring(Start, Length)</c>.</summary>
/// <param name="Start">Index of the first character.</param>
/// <param name="Length">Number of characters.</param>
public readonly record struct DocumentSpan(int Start, int Length)
{
    /// <summary>Index just past the last character: <see cref="Start"/> + <see cref="Length"/>.</summary>
    public int End => Start + Length;
}

using System.Text.RegularExpressions;

namespace Reranker.Tokenization;

/// <summary>One step of a Hugging Face <c>normalizer</c> pipeline, applied to each piece of text between added tokens.</summary>
internal interface INormalizer
{
    string Normalize(string text);
}

/// <summary><c>Sequence</c>: the normalizers in order.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<INormalizer> steps) : INormalizer
{
    public string Normalize(string text)
    {
        foreach (var step in steps)
        {
            text = step.Normalize(text);
        }

        return text;
    }
}

/// <summary><c>Strip</c>: removes Unicode white space (Rust's <c>char::is_whitespace</c>) from either end.</summary>
internal sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public string Normalize(string text)
    {
        var span = text.AsSpan();
        if (left)
        {
            span = span.TrimStart();
        }

        if (right)
        {
            span = span.TrimEnd();
        }

        return span.Length == text.Length ? text : span.ToString();
    }
}

/// <summary><c>Replace</c>: every match of a literal string or a regular expression becomes <c>content</c>.</summary>
internal sealed class ReplaceNormalizer : INormalizer
{
    private readonly string? _literal;
    private readonly Regex? _regex;
    private readonly string _content;

    private ReplaceNormalizer(string? literal, Regex? regex, string content)
    {
        _literal = literal;
        _regex = regex;
        _content = content;
    }

    public static ReplaceNormalizer ForString(string pattern, string content)
    {
        if (pattern.Length == 0)
        {
            throw new InvalidDataException("A Replace normalizer has an empty string pattern.");
        }

        return new ReplaceNormalizer(pattern, null, content);
    }

    public static ReplaceNormalizer ForRegex(string pattern, string content)
    {
        Regex regex;
        try
        {
            // The tokenizers library uses Oniguruma; the patterns real converters write (" {2,}") mean the same here.
            regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"A Replace normalizer has an invalid regular expression '{pattern}': {e.Message}", e);
        }

        // A replacement string in .NET gives '$' a meaning; the tokenizers library inserts content literally.
        return new ReplaceNormalizer(null, regex, content.Replace("$", "$$", StringComparison.Ordinal));
    }

    public string Normalize(string text) =>
        _literal is not null
            ? text.Replace(_literal, _content, StringComparison.Ordinal)
            : _regex!.Replace(text, _content);
}

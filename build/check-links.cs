// Markdown link check (run by build/package-check.sh; by hand, from the repository root:
//     dotnet run build/check-links.cs -- [--allow-missing PATH]... [FILE.md ...]).
//
// Every relative link and image in README.md and docs/*.md (or the files given) must point to a file or folder that
// exists, and every #anchor to a heading of the target document (or of the same one), with the anchors GitHub makes:
// the heading's text lower-cased, punctuation dropped, spaces turned into hyphens, a repeated heading suffixed -1, -2.
// Links in fenced code blocks and inline code are not links and are skipped, as are absolute URLs (http:, https:,
// mailto:). --allow-missing PATH (relative to the repository root) accepts links to a page that another branch adds;
// remove it once that page is merged. Prints one line per broken link and exits 1 if there is any.
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

var root = Directory.GetCurrentDirectory();
var allowMissing = new HashSet<string>(StringComparer.Ordinal);
var files = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--allow-missing" && i + 1 < args.Length)
    {
        allowMissing.Add(Path.GetFullPath(args[++i], root));
    }
    else
    {
        files.Add(args[i]);
    }
}

if (files.Count == 0)
{
    files = new[] { "README.md" }.Concat(Directory.GetFiles("docs", "*.md").Order(StringComparer.Ordinal)).ToList();
}

var anchorsByFile = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
var broken = new List<string>();
var checkedLinks = 0;

foreach (var file in files)
{
    var path = Path.GetFullPath(file, root);
    if (!File.Exists(path))
    {
        broken.Add($"{file}: no such file");
        continue;
    }

    foreach (var (line, target) in Links(File.ReadAllLines(path)))
    {
        checkedLinks++;
        if (Regex.IsMatch(target, "^[a-zA-Z][a-zA-Z0-9+.-]*:"))
        {
            continue; // https:, mailto:, ...
        }

        var hash = target.IndexOf('#', StringComparison.Ordinal);
        var relative = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
        var anchor = hash < 0 ? null : target[(hash + 1)..];
        var resolved = relative.Length == 0 ? path : Path.GetFullPath(relative, Path.GetDirectoryName(path)!);
        if (!File.Exists(resolved) && !Directory.Exists(resolved))
        {
            if (allowMissing.Contains(resolved) && anchor is null)
            {
                continue;
            }

            broken.Add($"{file}:{line}: ({target}): {Path.GetRelativePath(root, resolved)} does not exist");
            continue;
        }

        if (anchor is null)
        {
            continue;
        }

        if (!resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase) || !File.Exists(resolved))
        {
            broken.Add($"{file}:{line}: ({target}): an #anchor into a file that is not Markdown");
            continue;
        }

        if (!AnchorsOf(resolved).Contains(Uri.UnescapeDataString(anchor)))
        {
            broken.Add($"{file}:{line}: ({target}): no heading of {Path.GetRelativePath(root, resolved)} has the anchor #{anchor}");
        }
    }
}

foreach (var b in broken)
{
    Console.Error.WriteLine($"check-links: {b}");
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"check-links: {files.Count} files, {checkedLinks} links, {broken.Count} broken"));
return broken.Count == 0 ? 0 : 1;

// The anchors GitHub gives the headings of a Markdown file (fenced code blocks skipped).
HashSet<string> AnchorsOf(string path)
{
    if (anchorsByFile.TryGetValue(path, out var known))
    {
        return known;
    }

    var anchors = new HashSet<string>(StringComparer.Ordinal);
    var seen = new Dictionary<string, int>(StringComparer.Ordinal);
    foreach (var (_, text) in Prose(File.ReadAllLines(path)))
    {
        var heading = Regex.Match(text, @"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$");
        if (!heading.Success)
        {
            continue;
        }

        var slug = Slug(heading.Groups[1].Value);
        var n = seen.GetValueOrDefault(slug);
        seen[slug] = n + 1;
        anchors.Add(n == 0 ? slug : string.Create(CultureInfo.InvariantCulture, $"{slug}-{n}"));
    }

    // Explicit anchors: <a name="x"></a> or id="x".
    foreach (Match m in Regex.Matches(File.ReadAllText(path), "<a\\s+(?:name|id)=\"([^\"]+)\""))
    {
        anchors.Add(m.Groups[1].Value);
    }

    anchorsByFile[path] = anchors;
    return anchors;
}

// GitHub's heading anchor (github-slugger): the rendered text, lower-cased; letters, digits, marks, '_', '-' and
// spaces kept, everything else dropped; each space becomes '-'.
static string Slug(string heading)
{
    var text = Regex.Replace(heading, @"!?\[([^\]]*)\]\([^)]*\)", "$1"); // links and images: their text
    text = Regex.Replace(text, "<[^>]+>", string.Empty);                  // inline HTML
    text = text.Replace("`", string.Empty, StringComparison.Ordinal)
        .Replace("*", string.Empty, StringComparison.Ordinal);
    var slug = new StringBuilder();
    foreach (var rune in text.Trim().ToLowerInvariant().EnumerateRunes())
    {
        var category = Rune.GetUnicodeCategory(rune);
        if (rune.Value == ' ')
        {
            slug.Append('-');
        }
        else if (rune.Value is '-' or '_' || Rune.IsLetterOrDigit(rune)
            || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
                or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber)
        {
            slug.Append(rune.ToString());
        }
    }

    return slug.ToString();
}

// The lines outside fenced code blocks, with their line numbers.
static IEnumerable<(int Line, string Text)> Prose(string[] lines)
{
    string? fence = null;
    for (var i = 0; i < lines.Length; i++)
    {
        var open = Regex.Match(lines[i], @"^ *(`{3,}|~{3,})");
        if (fence is null && open.Success)
        {
            fence = open.Groups[1].Value;
            continue;
        }

        if (fence is not null)
        {
            if (Regex.IsMatch(lines[i], "^ *" + Regex.Escape(fence[0].ToString()) + "{" + fence.Length.ToString(CultureInfo.InvariantCulture) + ",} *$"))
            {
                fence = null;
            }

            continue;
        }

        yield return (i + 1, lines[i]);
    }
}

// Inline links and images [text](target "title"), also when the text wraps onto the next line, and reference
// definitions [label]: target; inline code spans and HTML comments are not searched.
static IEnumerable<(int Line, string Target)> Links(string[] lines)
{
    var prose = Prose(lines).ToList();
    var text = new StringBuilder();
    var lineOf = new List<int>(); // line number of each character of text
    foreach (var (line, content) in prose)
    {
        text.Append(content).Append('\n');
        lineOf.AddRange(Enumerable.Repeat(line, content.Length + 1));
    }

    // Blank out code spans and comments, keeping offsets, so that line numbers stay right.
    var s = text.ToString();
    s = Regex.Replace(s, @"(`+)(?:(?!\1).)+?\1", m => new string('x', m.Length), RegexOptions.Singleline);
    s = Regex.Replace(s, "<!--.*?-->", m => Regex.Replace(m.Value, "[^\n]", " "), RegexOptions.Singleline);
    foreach (Match m in Regex.Matches(s, @"\[[^\[\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+""[^""]*"")?\s*\)"))
    {
        yield return (lineOf[m.Index], text.ToString(m.Groups[1].Index, m.Groups[1].Length));
    }

    foreach (Match m in Regex.Matches(s, @"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", RegexOptions.Multiline))
    {
        yield return (lineOf[m.Index], text.ToString(m.Groups[1].Index, m.Groups[1].Length));
    }
}

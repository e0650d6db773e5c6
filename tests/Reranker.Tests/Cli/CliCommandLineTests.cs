using System.CommandLine;
using System.CommandLine.Help;
using Reranker.Cli;

namespace Reranker.Tests.Cli;

/// <summary>
/// The <c>reranker</c> command line as a whole: one vocabulary for every verb, help that states every option's
/// default, the old option names still accepted, and the exit codes (0 ok, 1 failure, 2 usage).
/// </summary>
public sealed class CliCommandLineTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static IEnumerable<Command> Verbs() => Program.CreateRootCommand().Subcommands;

    public static TheoryData<string> VerbNames() => [.. Verbs().Select(v => v.Name)];

    [Theory]
    [MemberData(nameof(VerbNames))]
    public void Help_lists_every_option_with_its_default_or_as_required(string verb)
    {
        var (code, stdout, _) = Cli(verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains($"reranker {verb} [options]", stdout, StringComparison.Ordinal);
        var lines = stdout.Split('\n');
        var options = Verbs().Single(v => v.Name == verb).Options.Where(o => o is not HelpOption).ToList();
        Assert.NotEmpty(options);
        foreach (var option in options)
        {
            // The help line of an option starts with its names (aliases first, sorted), then the value placeholder.
            var line = lines.SingleOrDefault(l => l.TrimStart().StartsWith("--", StringComparison.Ordinal)
                                                   && l.TrimStart().Split(' ')[..Math.Min(3, l.TrimStart().Split(' ').Length)]
                                                       .Any(w => w.TrimEnd(',') == option.Name));
            Assert.True(line is not null, $"{option.Name} is not in 'reranker {verb} --help':\n{stdout}");
            Assert.True(
                line.Contains("[default: ", StringComparison.Ordinal) || line.Contains("(REQUIRED", StringComparison.Ordinal),
                $"'reranker {verb} --help' gives no default for {option.Name}: {line}");
        }
    }

    [Fact]
    public void Every_verb_names_its_model_and_its_output_the_same_way()
    {
        foreach (var verb in Verbs())
        {
            var names = verb.Options.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("--model", names);
            if (verb.Name != "serve")
            {
                // serve writes no files: it has no output to name.
                Assert.Contains("--output", names);
            }
        }
    }

    [Fact]
    public void Export_keeps_the_old_names_as_aliases()
    {
        var export = Verbs().Single(v => v.Name == "export");
        Assert.Contains("--from", export.Options.Single(o => o.Name == "--model").Aliases);
        Assert.Contains("--out", export.Options.Single(o => o.Name == "--output").Aliases);

        // Old and new spellings reach the same check: the same (missing) snapshot is reported either way.
        var missing = Path.Combine(Path.GetTempPath(), "reranker-no-such-snapshot-" + Guid.NewGuid().ToString("N"));
        var output = Path.Combine(Path.GetTempPath(), "reranker-no-output-" + Guid.NewGuid().ToString("N"));
        var oldNames = Cli("export", "--from", missing, "--out", output);
        var newNames = Cli("export", "--model", missing, "--output", output);
        Assert.Equal(1, oldNames.Code);
        Assert.Equal(oldNames, newNames);
        Assert.Contains(missing, newNames.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Exit_codes_follow_the_convention()
    {
        Assert.Equal(0, Cli("--help").Code);
        var none = Cli();
        Assert.Equal(2, none.Code);
        Assert.Contains("export", none.Out, StringComparison.Ordinal);
        Assert.Contains("eval", none.Out, StringComparison.Ordinal);

        var unknown = Cli("frobnicate");
        Assert.Equal(2, unknown.Code);
        Assert.Contains("'frobnicate'", unknown.Err, StringComparison.Ordinal);
        Assert.Contains("--help", unknown.Err, StringComparison.Ordinal);
    }
}

/// <summary>Checks of <c>reranker eval</c> that refuse a command line before any data is read or any model hashed.</summary>
public sealed class EvalUpFrontChecksTests
{
    private static (int Code, string Out, string Err) Eval(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = EvalCommand.Run(args, stdout, stderr, _ => throw new InvalidOperationException("the model must not be loaded"), default);
        return (code, stdout.ToString(), stderr.ToString());
    }

    // Files that do not exist: a check that reads or hashes anything first would report them instead.
    private static string[] Base(params string[] extra) =>
    [
        "--model", TestPaths.TinyModel, "--qa", "/nonexistent/qa.parquet", "--corpus", "/nonexistent/corpus.parquet",
        "--output", Path.Combine(Path.GetTempPath(), "reranker-eval-never-" + Guid.NewGuid().ToString("N")), .. extra,
    ];

    [Fact]
    public void Max_length_above_the_model_positions_is_a_usage_error_naming_the_limit()
    {
        var (code, _, stderr) = Eval(Base("--max-length", "100000"));
        Assert.Equal(EvalCommand.ExitUsage, code);
        // The tiny model's config.json says max_position_embeddings 8194: 8192 tokens.
        Assert.Contains("--max-length 100000 is more than this model takes: at most 8192 tokens", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("qa.parquet", stderr, StringComparison.Ordinal);

        // The limit itself is accepted by this check (the run then fails on the missing QA file, exit 1).
        var atLimit = Eval(Base("--max-length", "8192"));
        Assert.Equal(EvalCommand.ExitFailure, atLimit.Code);
        Assert.Contains("qa.parquet", atLimit.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("4")]
    [InlineData("0")]
    [InlineData("-3")]
    public void Max_length_below_the_minimum_is_a_usage_error(string value)
    {
        var (code, _, stderr) = Eval(Base("--max-length", value));
        Assert.Equal(EvalCommand.ExitUsage, code);
        Assert.Contains("--max-length must be at least 8", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Seed_without_a_corpus_sample_is_refused()
    {
        var (code, _, stderr) = Eval(Base("--seed", "3"));
        Assert.Equal(EvalCommand.ExitUsage, code);
        Assert.Contains("--seed only chooses the passages of --corpus-sample", stderr, StringComparison.Ordinal);

        // With --corpus-sample the seed is accepted (and the run fails later, on the missing file).
        Assert.Equal(EvalCommand.ExitFailure, Eval(Base("--seed", "3", "--corpus-sample", "20")).Code);
    }

    [Theory]
    [InlineData("--batch-size", "0")]
    [InlineData("--queries", "-1")]
    [InlineData("--corpus-sample", "0")]
    [InlineData("--truncation", "middle")]
    public void Bad_values_are_usage_errors_naming_the_option(string option, string value)
    {
        var (code, _, stderr) = Eval(Base(option, value));
        Assert.Equal(EvalCommand.ExitUsage, code);
        Assert.Contains(option, stderr, StringComparison.Ordinal);
    }
}

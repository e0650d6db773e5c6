using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace Reranker.Cli;

/// <summary>
/// Entry point of the <c>reranker</c> command. The command line is parsed by System.CommandLine; each verb lives in
/// its own file and exposes <c>internal static Command CreateCommand(...)</c>, which <see cref="CreateRootCommand"/>
/// adds here.
/// </summary>
/// <remarks>
/// Vocabulary shared by the verbs: <c>--model</c> is the model (or snapshot) read, <c>--output</c> where results are
/// written. Exit codes: 0 success, 1 failure (bad input, a failed export...), 2 bad usage (unknown option, missing or
/// malformed value, options that do not go together), 130 interrupted.
/// </remarks>
internal static class Program
{
    /// <summary>The command's name, as installed by the <c>Reranker.Tool</c> package.</summary>
    public const string Name = "reranker";

    /// <summary>Exit code of a finished command.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code of a command that failed on its input (the message says what and where).</summary>
    public const int ExitFailure = 1;

    /// <summary>Exit code of a command line that cannot be run as written.</summary>
    public const int ExitUsage = 2;

    public static int Main(string[] args)
    {
        using var interrupt = new ConsoleInterrupt();
        return Run(args, Console.Out, Console.Error, interrupt.Token);
    }

    /// <summary>Runs one command line; returns the process exit code.</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default) =>
        Invoke(CreateRootCommand(cancellationToken), args, stdout, stderr);

    /// <summary>The <c>reranker</c> command with every verb.</summary>
    /// <param name="cancellationToken">Stops a long verb between units of work (Ctrl+C in <see cref="Main"/>).</param>
    internal static Command CreateRootCommand(CancellationToken cancellationToken = default) =>
        CreateRootCommand(
            ExportCommand.CreateCommand(),
            EvalCommand.CreateCommand(EvalCommand.DefaultScorerFactory, cancellationToken),
            ServeCommand.CreateCommand());

    /// <summary>A <c>reranker</c> root command holding the given verbs (tests build one with stand-ins).</summary>
    internal static Command CreateRootCommand(params Command[] verbs)
    {
        // A plain Command rather than RootCommand: RootCommand takes its name from the executable (Reranker.Cli, or the
        // test host), and help must say "reranker".
        var root = new Command(Name, "Cross-encoder reranking from the command line: export a model to ONNX, evaluate it on AutoRAG-format data, serve it over HTTP.")
        {
            new HelpOption { Recursive = true },
        };
        foreach (var verb in verbs)
        {
            RequireValues(verb);
            root.Subcommands.Add(verb);
        }

        root.SetAction(parse =>
        {
            // "reranker" alone: show what there is, and say it was not a complete command line.
            var error = parse.InvocationConfiguration.Error;
            error.WriteLine($"{Name}: name a command.");
            root.Parse(["--help"]).Invoke(parse.InvocationConfiguration);
            return ExitUsage;
        });
        return root;
    }

    /// <summary>
    /// Every option that takes a value must get one: System.CommandLine accepts a trailing <c>--model</c> with no value,
    /// and reads <c>--model --output DIR</c> as the model "--output". Both are usage errors naming the option.
    /// </summary>
    private static void RequireValues(Command verb)
    {
        var names = verb.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);

        // First among the verb's validators: System.CommandLine skips the option checks once a command validator has
        // reported an error, and the verbs' own validators skip theirs once this one has.
        verb.Validators.Insert(0, result =>
        {
            foreach (var option in result.Children.OfType<OptionResult>())
            {
                if (option.Implicit || option.Option.Arity.MinimumNumberOfValues == 0)
                {
                    continue;
                }

                var given = option.IdentifierToken?.Value ?? option.Option.Name;
                if (option.Tokens.Count == 0)
                {
                    result.AddError($"{given} needs a value.");
                }
                else if (option.Tokens.FirstOrDefault(t => names.Contains(t.Value)) is { } next)
                {
                    result.AddError($"{given} needs a value, but the next word is the option {next.Value}.");
                }
            }
        });
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/> against <paramref name="root"/>. A parse or validation error prints
    /// <c>reranker VERB: message</c> per error to <paramref name="stderr"/> and returns <see cref="ExitUsage"/>.
    /// </summary>
    internal static int Invoke(Command root, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var configuration = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Verbs handle Ctrl+C themselves (eval finishes its current batch); no exception handler hides a stack
            // trace that should never happen: every expected failure is caught by the verb and given exit code 1.
            ProcessTerminationTimeout = null,
        };
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            var verb = parse.CommandResult.Command == root ? Name : $"{Name} {parse.CommandResult.Command.Name}";
            foreach (var error in parse.Errors)
            {
                stderr.WriteLine($"{verb}: {error.Message}");
            }

            stderr.WriteLine($"run '{verb} --help' for the options.");
            return ExitUsage;
        }

        return parse.Invoke(configuration);
    }

    /// <summary>Ctrl+C: the first press cancels the token (the verb stops cleanly), a second one ends the process.</summary>
    private sealed class ConsoleInterrupt : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();

        public ConsoleInterrupt() => Console.CancelKeyPress += OnCancel;

        public CancellationToken Token => _cts.Token;

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancel;
            _cts.Dispose();
        }

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = !_cts.IsCancellationRequested;
            if (e.Cancel)
            {
                Console.Error.WriteLine($"{Name}: stopping after the current batch (Ctrl+C again to quit now)...");
            }

            _cts.Cancel();
        }
    }
}

/// <summary>Helpers for option validators.</summary>
internal static class CommandLineValues
{
    /// <summary>
    /// The option's value, or <see langword="false"/> when its text could not be converted (System.CommandLine has
    /// already recorded that error; a validator must not throw on it).
    /// </summary>
    public static bool TryGet<T>(System.CommandLine.Parsing.OptionResult result, out T value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default!;
            return false;
        }
    }
}

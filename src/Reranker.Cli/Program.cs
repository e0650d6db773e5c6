namespace Reranker.Cli;

/// <summary>Entry point of the <c>reranker</c> command: dispatches to one sub-command per verb.</summary>
internal static class Program
{
    private const string Usage = """
        usage: reranker <command> [options]

        commands:
          export   export a Hugging Face snapshot (config.json + model.safetensors) to an ONNX model directory
          eval     score every query against a corpus and report AutoRAG retrieval metrics
          serve    HTTP reranking service (TEI and Cohere/Jina APIs, probes, Prometheus metrics)

        run 'reranker <command> --help' for the options of a command.
        """;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs one command; returns the process exit code (0 ok, 1 failure, 2 bad usage).</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            stdout.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        var rest = args[1..];
        switch (args[0])
        {
            // Each command lives in its own file: ExportCommand.cs, EvalCommand.cs, ServeCommand.cs.
            case "export": return ExportCommand.Run(rest, stdout, stderr);
            case "eval": return EvalCommand.Run(rest, stdout, stderr);
            case "serve": return ServeCommand.Run(rest, stdout, stderr);
            default:
                stderr.WriteLine($"reranker: unknown command '{args[0]}'.");
                stderr.WriteLine(Usage);
                return 2;
        }
    }
}

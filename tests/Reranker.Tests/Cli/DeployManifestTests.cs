using System.Text.RegularExpressions;
using Reranker.Cli;

namespace Reranker.Tests.Cli;

/// <summary>
/// <c>deploy/eval-job.yaml</c> runs command lines the CLI accepts: each container's <c>args</c> parse without error
/// (with the index Kubernetes substitutes), and the shard count equals the Job's <c>completions</c>.
/// </summary>
public sealed partial class DeployManifestTests
{
    private static readonly string Manifest = Path.Combine(TestPaths.RepoRoot, "deploy", "eval-job.yaml");

    /// <summary>The <c>args</c> lists of the manifest's containers, in order (block sequences of plain or quoted scalars).</summary>
    private static List<List<string>> ArgLists()
    {
        var lists = new List<List<string>>();
        List<string>? current = null;
        var indent = -1;
        foreach (var raw in File.ReadLines(Manifest))
        {
            var line = raw.Split(" #")[0].TrimEnd();
            if (line.TrimStart() == "args:")
            {
                current = [];
                lists.Add(current);
                indent = line.Length - line.TrimStart().Length;
                continue;
            }

            if (current is null)
            {
                continue;
            }

            var item = ItemPattern().Match(line);
            if (item.Success && item.Groups[1].Length > indent)
            {
                current.Add(item.Groups[2].Value.Trim('"'));
            }
            else
            {
                current = null;
            }
        }

        return lists;
    }

    [Fact]
    public void The_eval_jobs_run_command_lines_the_cli_accepts()
    {
        var lists = ArgLists();
        Assert.Equal(2, lists.Count); // the indexed shard Job and the merge Job
        var completions = int.Parse(Regex.Match(File.ReadAllText(Manifest), @"\n  completions: (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        var shardArgs = lists[0];
        Assert.Equal($"$(JOB_COMPLETION_INDEX)/{completions}", shardArgs[shardArgs.IndexOf("--shard") + 1]);
        foreach (var index in new[] { 0, completions - 1 })
        {
            var args = shardArgs.Select(a => a.Replace("$(JOB_COMPLETION_INDEX)", index.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)).ToArray();
            var parse = Program.CreateRootCommand().Parse(args);
            Assert.True(parse.Errors.Count == 0, string.Join("; ", parse.Errors.Select(e => e.Message)));
        }

        // The merge is the same command with --merge OUTPUT instead of --shard.
        var mergeArgs = lists[1];
        Assert.Empty(Program.CreateRootCommand().Parse(mergeArgs).Errors);
        var output = mergeArgs[mergeArgs.IndexOf("--output") + 1];
        Assert.Equal(output, mergeArgs[mergeArgs.IndexOf("--merge") + 1]);
        var withoutShard = shardArgs.Take(shardArgs.IndexOf("--shard")).ToList();
        Assert.Equal(withoutShard, mergeArgs.Take(mergeArgs.IndexOf("--merge")));
    }

    [GeneratedRegex(@"^( *)- (.+)$")]
    private static partial Regex ItemPattern();
}

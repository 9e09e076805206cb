using System.CommandLine;
using System.Text.Json.Nodes;
using RaySharp.Cli;
using Xunit;

namespace RaySharp.Integration;

/// <summary>The `raysharp` command line itself, run in this process (no cluster): help for every command, bad input
/// named in one line with exit code 2, and the two output forms of a listing.</summary>
public sealed class CliUsageTests
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = Commands.RunAsync(args, output, error).GetAwaiter().GetResult();
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Every command's path (<c>["job", "submit"]</c>), from the registered tree.</summary>
    private static IEnumerable<(string[] Path, Command Command)> AllCommands(Command command, string[] path)
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands)
            foreach (var found in AllCommands(sub, [.. path, sub.Name]))
                yield return found;
    }

    [Fact]
    public void Every_command_has_help_that_lists_its_options_and_subcommands()
    {
        var all = AllCommands(Commands.BuildRoot(), []).ToList();
        Assert.True(all.Count > 20, $"only {all.Count} commands found");
        foreach (var (path, command) in all)
        {
            foreach (var help in (string[])["--help", "-h"])
            {
                var run = Run([.. path, help]);
                string name = string.Join(' ', ["raysharp", .. path]);
                Assert.True(run.ExitCode == 0, $"{name} {help}: exit {run.ExitCode}: {run.Error}");
                Assert.Equal("", run.Error);
                Assert.Contains($"Usage:\n  {name}", run.Output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
                foreach (var option in command.Options) Assert.Contains(option.Name, run.Output, StringComparison.Ordinal);
                foreach (var sub in command.Subcommands) Assert.Contains(sub.Name, run.Output, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void The_commands_and_options_of_API_section_8_are_there()
    {
        var root = Commands.BuildRoot();
        Command Find(params string[] path) => path.Aggregate(root, (c, name) => c.Subcommands.Single(s => s.Name == name));
        string[] OptionNames(Command c) => [.. c.Options.SelectMany(o => o.Aliases.Append(o.Name))];

        Assert.Superset(new HashSet<string>(["--head", "--port", "--num-cpus", "--resources", "--object-store-memory", "--gcs-storage", "--node-ip-address",
            "--dashboard-host", "--dashboard-port", "--block", "--address"]), new HashSet<string>(OptionNames(Find("start"))));
        foreach (var kind in (string[])["nodes", "actors", "tasks", "objects", "placement-groups", "jobs"])
            Assert.Superset(new HashSet<string>(["--filter", "--limit", "--format", "--address"]), new HashSet<string>(OptionNames(Find("list", kind))));
        foreach (var kind in (string[])["tasks", "actors", "objects"]) Assert.Contains("--format", OptionNames(Find("summary", kind)));
        Assert.Superset(new HashSet<string>(["--address", "--working-dir", "--submission-id", "--env", "--no-wait"]),
            new HashSet<string>(OptionNames(Find("job", "submit"))));
        foreach (var sub in (string[])["status", "logs", "stop", "delete", "list"]) Assert.Contains("--address", OptionNames(Find("job", sub)));
        Assert.Contains("--follow", OptionNames(Find("job", "logs")));
        Assert.Contains("--format", OptionNames(Find("status")));
        Assert.Contains("--format", OptionNames(Find("job", "status")));
        Assert.Contains("--format", OptionNames(Find("job", "list")));
        Assert.Superset(new HashSet<string>(["--node", "--actor", "--follow", "--address"]), new HashSet<string>(OptionNames(Find("logs"))));
        _ = Find("stop");
        _ = Find("memory");
        _ = Find("microbenchmark");
    }

    [Theory]
    [InlineData("", "raysharp needs one of: start, stop")]
    [InlineData("frobnicate", "Unknown command 'frobnicate' for raysharp")]
    [InlineData("status --bogus", "Unknown option '--bogus' for raysharp status")]
    [InlineData("stop now", "Unexpected argument 'now' for raysharp stop")]
    [InlineData("start", "raysharp start needs --head")]
    [InlineData("start --head --address 127.0.0.1:1", "--head or --address HOST:PORT, not both")]
    [InlineData("start --head --port", "'--port'")]
    [InlineData("start --head --port 70000", "--port takes a port number")]
    [InlineData("start --head --resources {oops", "--resources must be a JSON object")]
    [InlineData("start --head --num-cpus -1", "--num-cpus takes a number, 0 or more, not '-1'")]
    [InlineData("start --head --num-gpus many", "--num-gpus takes a number, 0 or more, not 'many'")]
    [InlineData("start --head --object-store-memory 0", "--object-store-memory takes a positive number of bytes")]
    [InlineData("start --head --gcs-storage http://x", "Malformed Redis address")]
    [InlineData("start --address 127.0.0.1:1 --gcs-storage redis://127.0.0.1:1", "--gcs-storage is an option of the head node")]
    [InlineData("start --head --include-dashboard maybe", "--include-dashboard is true or false, not 'maybe'")]
    [InlineData("start --head --dashboard-host --block", "--dashboard-host needs a value before --block")]
    [InlineData("start --head --node-ip-address 0.0.0.0", "0.0.0.0 is not an address other nodes can reach: give this host's own address")]
    [InlineData("start --head --node-ip-address 10.1.2", "--node-ip-address '10.1.2' is not an IP address")]
    [InlineData("start --head --node-ip-address not-an-ip", "--node-ip-address 'not-an-ip' is not an IP address")]
    [InlineData("start --head --node-ip-address ::1", "is an IPv6 address")]
    [InlineData("start --head --node-ip-address 192.0.2.77", "'192.0.2.77' is not an address of this machine")]
    [InlineData("list", "raysharp list needs one of: nodes, actors, jobs, placement-groups, tasks, objects")]
    [InlineData("list pods", "Unknown command 'pods' for raysharp list")]
    [InlineData("list actors --format yaml", "--format is table or json, not 'yaml'")]
    [InlineData("list tasks --filter state", "--filter takes KEY=VALUE or KEY!=VALUE, not 'state'")]
    [InlineData("list tasks --filter colour=red", "no field 'colour'")]
    [InlineData("list nodes --limit 0", "--limit takes a positive number of rows, not '0'")]
    [InlineData("list objects --limit 100001", "at most 100000")]
    [InlineData("summary jobs", "use one of: tasks, actors, objects")]
    [InlineData("status --format xml", "--format is table or json")]
    [InlineData("memory --address", "'--address'")]
    [InlineData("job submit --address http://127.0.0.1:1", "needs an entrypoint after --")]
    [InlineData("job submit --env NOEQUALS -- true", "--env takes KEY=VALUE, not 'NOEQUALS'")]
    [InlineData("job submit --working-dir /no/such/dir -- true", "--working-dir '/no/such/dir' is not a directory")]
    [InlineData("job status", "raysharp job status needs ID")]
    [InlineData("job status a b", "Unexpected argument 'b'")]
    [InlineData("job frobnicate", "Unknown command 'frobnicate' for raysharp job")]
    [InlineData("microbenchmark --duration -3", "--duration takes a positive number of seconds")]
    public void Bad_input_exits_2_with_one_line_on_stderr_that_names_it(string line, string expected)
    {
        var run = Run(line.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}; stdout: {run.Output}; stderr: {run.Error}");
        Assert.Equal("", run.Output);
        Assert.Single(run.Error.TrimEnd().Split('\n'));
        Assert.Contains(expected, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_prints_one_line()
    {
        var run = Run("--version");
        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+\S*\s*$", run.Output);
    }

    private static Listing Sample() => new("nodes",
        JsonNode.Parse("""[{"node_id": "abc", "state": "ALIVE"}, {"node_id": "def", "state": "DEAD"}]""")!,
        ["node_id", "state"], [["abc", "ALIVE"], ["def", "DEAD"]], Matching: 3, Limit: 2, Filtered: false, Warnings: ["one node did not answer"]);

    [Fact]
    public void Redirected_output_is_plain_lines_and_a_terminal_gets_a_table()
    {
        using var plain = new StringWriter();
        ListCommands.Write(Sample(), json: false, new Terminal(plain, TextWriter.Null, interactive: false));
        Assert.Equal(["node_id=abc  state=ALIVE", "node_id=def  state=DEAD", "(2 of 3 shown: --limit 2)", "warning: one node did not answer"],
            plain.ToString().TrimEnd().Split(Environment.NewLine));

        using var table = new StringWriter();
        ListCommands.Write(Sample(), json: false, new Terminal(table, TextWriter.Null, interactive: true));
        // On a terminal the header may be bold: compare the text without its escape codes.
        var lines = System.Text.RegularExpressions.Regex.Replace(table.ToString(), "\x1b\\[[0-9;]*m", "").Split(Environment.NewLine);
        // A header row and one row per item, each cell in its column, inside a border.
        string header = Assert.Single(lines, l => l.Contains("node_id", StringComparison.Ordinal));
        string dead = Assert.Single(lines, l => l.Contains("def", StringComparison.Ordinal));
        Assert.Equal(header.IndexOf("state", StringComparison.Ordinal), dead.IndexOf("DEAD", StringComparison.Ordinal));
        Assert.DoesNotContain("node_id=", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("(2 of 3 shown: --limit 2)", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Json_form_is_the_rows_alone()
    {
        using var json = new StringWriter();
        ListCommands.Write(Sample(), json: true, new Terminal(json, TextWriter.Null, interactive: true));
        var rows = JsonNode.Parse(json.ToString())!.AsArray();
        Assert.Equal(["abc", "def"], rows.Select(r => r!["node_id"]!.GetValue<string>()));
    }
}

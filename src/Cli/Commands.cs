using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Rpc;

namespace RaySharp.Cli;

/// <summary>The <c>raysharp</c> command (API.md §8): its subcommands, and how a run ends — exit code 0, 1 when the
/// cluster said no or could not be reached, 2 with one line on stderr for bad input.</summary>
internal static class Commands
{
    /// <summary>Every subcommand. Each command file has a <c>Build()</c> that makes its command with its options and
    /// action; adding a command is one line here.</summary>
    private static IEnumerable<Command> All() =>
    [
        NodeCommands.BuildStart(),
        NodeCommands.BuildStop(),
        ClusterCommands.BuildStatus(),
        ClusterCommands.BuildMemory(),
        ListCommands.Build(),
        StateCommands.BuildSummary(),
        JobCommands.Build(),
        LogCommands.Build(),
        MicrobenchmarkCommand.Build(),
    ];

    public static Command BuildRoot()
    {
        var root = new Command("raysharp", "RaySharp clusters: start and stop nodes, look at what runs, submit jobs. " +
            "RAY_ADDRESS (a GCS HOST:PORT or a dashboard http://HOST:PORT) stands in for --address everywhere.")
        {
            new HelpOption(),
            new VersionOption(),
        };
        foreach (var command in All()) root.Subcommands.Add(command);
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        // No @response files: an entrypoint or a filter value may start with '@'.
        var parse = BuildRoot().Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (OptionTakenAsValue(parse) is { } mistake)
        {
            error.WriteLine(mistake);
            return 2;
        }
        if (parse.Action is ParseErrorAction)
        {
            error.WriteLine(ErrorLine(parse));
            return 2;
        }
        try
        {
            // Exceptions come here rather than to System.CommandLine's handler (a stack trace); signals keep the process's
            // default: Ctrl+C ends the command at once.
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null,
            }).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            error.WriteLine(CliOptions.Reason(e).ReplaceLineEndings(" "));
            return 2;
        }
        catch (Exception e) when (e is InvalidOperationException or RpcException or IOException or RayException or HttpRequestException)
        {
            // Not flattened: a node that failed to start says why with the lines of its log.
            error.WriteLine($"{PathOf(parse.CommandResult)}: {(e is RpcException rpc ? RpcErrors.Describe(rpc) : e.Message)}");
            return 1;
        }
    }

    /// <summary>The first parse error, as one line that names the command and where its help is.</summary>
    private static string ErrorLine(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        string path = PathOf(parse.CommandResult);
        string? unmatched = parse.UnmatchedTokens.FirstOrDefault();
        if (command.Subcommands.Count > 0 && command.Action is null)
        {
            string names = string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
            return unmatched is not null && !unmatched.StartsWith('-')
                ? $"Unknown command '{unmatched}' for {path}; use one of: {names}."
                : $"{path} needs one of: {names} (run {path} --help).";
        }
        if (unmatched is not null)
            return unmatched.StartsWith('-')
                ? $"Unknown option '{unmatched}' for {path} (run {path} --help for its options)."
                : $"Unexpected argument '{unmatched}' for {path} (run {path} --help).";
        if (command.Arguments.FirstOrDefault(a => a.Arity.MinimumNumberOfValues > 0 && parse.GetResult(a) is null or { Tokens.Count: 0 }) is { } missing)
            return $"{path} needs {missing.Name} (run {path} --help).";
        string message = parse.Errors[0].Message.ReplaceLineEndings(" ");
        // Our own messages name the option or the command; System.CommandLine's say what is missing.
        return message.StartsWith("--", StringComparison.Ordinal) || message.StartsWith("raysharp", StringComparison.Ordinal)
            ? message
            : $"{path}: {message} (run {path} --help)";
    }

    /// <summary>System.CommandLine lets a value start with '-' (so <c>--num-cpus -1</c> is named as negative), and
    /// so takes the next option as the value of one given without it: <c>--address --help</c>. Said here instead.</summary>
    private static string? OptionTakenAsValue(ParseResult parse)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (SymbolResult? r = parse.CommandResult; r is not null; r = r.Parent)
            if (r is CommandResult c)
                foreach (var option in c.Command.Options)
                    names.UnionWith([option.Name, .. option.Aliases]);
        foreach (var result in parse.CommandResult.Children.OfType<OptionResult>())
            if (result.Tokens.FirstOrDefault(t => names.Contains(t.Value)) is { } token)
                return $"{result.Option.Name} needs a value before {token.Value} (run {PathOf(parse.CommandResult)} --help).";
        return null;
    }

    private static string PathOf(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }
}

using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using RaySharp.State;

namespace RaySharp.Cli;

/// <summary>The options several commands share, each checked while the command line is parsed so a bad value is named
/// (exit code 2) before anything starts or connects; and the glue from a command to its action.</summary>
internal static class CliOptions
{
    public delegate bool TryParse<T>(string text, out T value);

    /// <summary>An option whose value <paramref name="parse"/> must accept; otherwise the error says
    /// "<c>NAME takes TAKES, not 'VALUE'.</c>"</summary>
    public static Option<T?> Checked<T>(string name, string description, string takes, TryParse<T> parse, string? helpName = null) where T : struct =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = result =>
            {
                string token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (parse(token, out var value)) return value;
                result.AddError($"{name} takes {takes}, not '{token}'.");
                return null;
            },
        };

    /// <summary>A finite amount, 0 or more (CPUs, GPUs).</summary>
    public static Option<double?> Amount(string name, string description) => Checked<double>(name, description, "a number, 0 or more",
        (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && double.IsFinite(v) && v >= 0, "N");

    public static Option<long?> ByteCount(string name, string description) => Checked<long>(name, description, "a positive number of bytes",
        (string s, out long v) => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v > 0, "BYTES");

    public static Option<int?> Port(string name, string description) => Checked<int>(name, description, "a port number from 0 to 65535",
        (string s, out int v) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v <= 65535, "PORT");

    /// <summary><c>--limit N</c>, from 1 to <paramref name="max"/>.</summary>
    public static Option<int?> Limit(string description, int max = int.MaxValue) => Checked<int>("--limit", description,
        max == int.MaxValue ? "a positive number of rows" : $"a positive number of rows, at most {max}",
        (string s, out int v) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v is > 0 && v <= max, "N");

    /// <summary><c>--format table|json</c>; table (the default) is plain lines when the output is not a terminal.</summary>
    public static Option<string> Format() => OneOf("--format", "table: a table on a terminal, plain KEY=VALUE lines otherwise; json: machine-readable",
        "table", "json");

    /// <summary>A word from <paramref name="values"/>, the first the default.</summary>
    public static Option<string> OneOf(string name, string description, params string[] values)
    {
        var option = new Option<string>(name) { Description = description, HelpName = string.Join('|', values), DefaultValueFactory = _ => values[0] };
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string>();
            if (!values.Contains(value))
                result.AddError($"{name} is {string.Join(" or ", values)}, not '{value}'.");
        });
        return option;
    }

    /// <summary><c>--filter KEY=VALUE</c> (or <c>KEY!=VALUE</c>), repeatable: a row is kept when every filter holds.</summary>
    public static Option<string[]> Filters()
    {
        var option = new Option<string[]>("--filter")
        {
            Description = "keep the rows whose KEY equals VALUE, ignoring case (KEY!=VALUE: differs); repeat to require several",
            HelpName = "KEY=VALUE",
            Arity = ArgumentArity.OneOrMore,
            DefaultValueFactory = _ => [],
        };
        option.Validators.Add(result =>
        {
            foreach (var text in result.GetValueOrDefault<string[]>() ?? [])
                if (TryFilter(text) is null) result.AddError($"--filter takes KEY=VALUE or KEY!=VALUE, not '{text}'.");
        });
        return option;
    }

    public static List<StateFilter> ParseFilters(string[]? filters) => [.. (filters ?? []).Select(TryFilter).OfType<StateFilter>()];

    private static StateFilter? TryFilter(string text)
    {
        try
        {
            return StateFilter.Parse(text);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Checks the value of <paramref name="option"/> with <paramref name="check"/>, whose
    /// <see cref="ArgumentException"/> becomes the parse error.</summary>
    public static Option<string?> CheckedBy(this Option<string?> option, Action<string> check)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is not { } value) return;
            try
            {
                check(value);
            }
            catch (ArgumentException e)
            {
                result.AddError(Reason(e));
            }
        });
        return option;
    }

    /// <summary>An exception's message without the " (Parameter 'x')" that names a parameter of our code, not the user's input.</summary>
    public static string Reason(ArgumentException e) =>
        e.ParamName is { } p && e.Message.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal) ? e.Message[..^$" (Parameter '{p}')".Length] : e.Message;

    /// <summary>Runs <paramref name="action"/> with the command's <see cref="Terminal"/>.</summary>
    public static void Handle(this Command command, Func<ParseResult, Terminal, CancellationToken, Task<int>> action) =>
        command.SetAction((parse, ct) => action(parse, Terminal.Of(parse), ct));

    public static void Handle(this Command command, Func<ParseResult, Terminal, int> action) =>
        command.SetAction(parse => action(parse, Terminal.Of(parse)));

    /// <summary>Adds each option to <paramref name="command"/>; returns the command.</summary>
    public static Command With(this Command command, params Option[] options)
    {
        foreach (var option in options) command.Options.Add(option);
        return command;
    }
}

/// <summary><c>--address HOST:PORT</c> and <c>--auth-token</c> of a command that asks a cluster's GCS.</summary>
internal sealed class ClusterOptions
{
    public Option<string?> Address { get; } = new("--address")
    {
        Description = "the cluster's GCS as HOST:PORT (default: RAY_ADDRESS, else the head started on this machine)",
        HelpName = "HOST:PORT",
    };

    public Option<string?> AuthToken { get; } = new("--auth-token")
    {
        Description = "the cluster token (default: RAY_AUTH_TOKEN, else the head's session directory on this machine)",
        HelpName = "TOKEN",
    };

    public Command AddTo(Command command) => command.With(Address, AuthToken);

    public ClusterConnection Connect(ParseResult parse) => ClusterConnection.Open(parse.GetValue(Address), parse.GetValue(AuthToken));
}

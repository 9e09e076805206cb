using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace RaySharp.Cli;

/// <summary>
/// Where a command writes. On a terminal it draws tables and spinners (Spectre.Console); when its output is
/// redirected — a pipe, a file, a test — it writes plain, stable lines that grep and scripts can rely on, and never
/// an escape code or a spinner frame.
/// </summary>
internal sealed class Terminal(TextWriter output, TextWriter error, bool interactive)
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };
    private IAnsiConsole? _console;

    public TextWriter Out { get; } = output;

    public TextWriter Error { get; } = error;

    /// <summary>A person is watching: tables and spinners instead of plain lines.</summary>
    public bool Interactive { get; } = interactive;

    /// <summary>The terminal of a command being run: interactive when it writes to this process's standard output
    /// and that is a terminal.</summary>
    public static Terminal Of(ParseResult parse)
    {
        var c = parse.InvocationConfiguration;
        return new(c.Output, c.Error, ReferenceEquals(c.Output, System.Console.Out) && !System.Console.IsOutputRedirected);
    }

    /// <summary>Spectre's console over <see cref="Out"/>.</summary>
    public IAnsiConsole Console => _console ??= AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Out),
        Ansi = Interactive ? AnsiSupport.Detect : AnsiSupport.No,
        ColorSystem = Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        Interactive = Interactive ? InteractionSupport.Detect : InteractionSupport.No,
    });

    /// <summary>Writes <paramref name="value"/> as indented JSON (for <c>--format json</c>).</summary>
    public void WriteJson(object? value, JsonSerializerOptions? options = null) =>
        Out.WriteLine(JsonSerializer.Serialize(value, value?.GetType() ?? typeof(object), options ?? s_indented));

    /// <summary>A table with a header row; cells are text, never markup.</summary>
    public void WriteTable(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows, string? title = null)
    {
        var table = new Table().Border(TableBorder.Rounded);
        if (title is not null) table.Title = new TableTitle(Markup.Escape(title));
        foreach (var column in columns) table.AddColumn(new TableColumn(new Text(column, new Style(decoration: Decoration.Bold))));
        foreach (var row in rows) table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Text(cell)));
        Console.Write(table);
    }

    /// <summary>Runs <paramref name="work"/> under a spinner showing <paramref name="status"/> (which the work may
    /// change) when interactive; otherwise just runs it.</summary>
    public async Task<T> SpinAsync<T>(string status, Func<Action<string>, Task<T>> work)
    {
        if (!Interactive) return await work(_ => { }).ConfigureAwait(false);
        return await Console.Status().Spinner(Spinner.Known.Dots).StartAsync(Markup.Escape(status),
            ctx => work(s => ctx.Status = Markup.Escape(s))).ConfigureAwait(false);
    }

    /// <summary>A line of text (not markup), through the live display when a spinner runs so both stay readable.</summary>
    public void WriteLine(string line)
    {
        if (Interactive) Console.WriteLine(line);
        else Out.WriteLine(line);
    }
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using RaySharp.Core.Worker;
using RaySharp.Dashboard.State;

namespace RaySharp.Dashboard.Live;

/// <summary>
/// Read-only access to the head's session log directory (<c>&lt;session&gt;/logs</c>; the nodes of a single-host cluster
/// all log there): <c>GET /api/v0/logs</c> lists its files, <c>GET /api/v0/logs/file?filename=NAME[&amp;lines=N]</c> answers
/// the last N lines of one as text. A name is a single file name of letters, digits, <c>.</c>, <c>_</c> and <c>-</c>
/// that resolves to a regular file directly in that directory: no path, no <c>..</c>, no symbolic link.
/// </summary>
internal sealed partial class LogsModule(string sessionDir) : IDashboardModule
{
    public const int DefaultLines = 1000;
    public const int MaxLines = 20_000;

    /// <summary>The most bytes read from the end of a file to find its last lines.</summary>
    public const int MaxTailBytes = 4 * 1024 * 1024;

    private readonly string _logDir = Path.GetFullPath(NodeHost.LogDir(sessionDir));

    /// <summary>A log file in the list: its kind (<c>worker</c>, <c>driver</c>, <c>job</c>, <c>raylet</c>, <c>gcs</c>,
    /// <c>dashboard</c>, <c>node</c> or <c>other</c>) and, for a worker's, the worker ID as the state API shows it.</summary>
    private sealed record LogFile(string Name, string Kind, long SizeBytes, long ModifiedMs, string? WorkerId);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")]
    private static partial Regex FileName();

    [GeneratedRegex("^worker-([0-9a-f]+)\\.log$")]
    private static partial Regex WorkerLog();

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/v0/logs", () =>
        {
            var files = new DirectoryInfo(_logDir).Exists
                ? new DirectoryInfo(_logDir).EnumerateFiles().Where(f => f.LinkTarget is null).OrderByDescending(f => f.LastWriteTimeUtc)
                    .Select(f => new LogFile(f.Name, Kind(f.Name), f.Length, new DateTimeOffset(f.LastWriteTimeUtc).ToUnixTimeMilliseconds(),
                        WorkerLog().Match(f.Name) is { Success: true } m ? m.Groups[1].Value : null)).ToList()
                : [];
            return StateReply.Ok(new Dictionary<string, object> { ["log_dir"] = _logDir, ["files"] = files });
        });

        routes.MapGet("/api/v0/logs/file", (HttpRequest request) =>
        {
            string name = request.Query["filename"].ToString();
            if (Resolve(name) is not { } file)
                return StateReply.Error($"'{name}' is not a log file of this session: give the name of a file listed by /api/v0/logs.",
                    name.Length == 0 || !FileName().IsMatch(name) ? StatusCodes.Status400BadRequest : StatusCodes.Status404NotFound);
            int lines = DefaultLines;
            string? asked = request.Query["lines"];
            if (asked is not null && (!int.TryParse(asked, NumberStyles.None, CultureInfo.InvariantCulture, out lines) || lines is < 1 or > MaxLines))
                return StateReply.Error($"lines is a whole number from 1 to {MaxLines}, not '{asked}'.", StatusCodes.Status400BadRequest);
            return Results.Text(Tail(file, lines), "text/plain; charset=utf-8");
        });
    }

    /// <summary>The file <paramref name="name"/> names directly in the log directory, or null when the name is not a plain
    /// file name or no such regular file is there.</summary>
    internal FileInfo? Resolve(string name)
    {
        if (!FileName().IsMatch(name) || name.Contains("..", StringComparison.Ordinal)) return null;
        var file = new FileInfo(Path.Combine(_logDir, name));
        if (!string.Equals(Path.GetDirectoryName(file.FullName), _logDir, StringComparison.Ordinal)) return null;
        return file.Exists && file.LinkTarget is null && (file.Attributes & FileAttributes.Directory) == 0 ? file : null;
    }

    private static string Tail(FileInfo file, int lines)
    {
        using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long start = Math.Max(0, stream.Length - MaxTailBytes);
        stream.Position = start;
        string text = new StreamReader(stream, Encoding.UTF8).ReadToEnd();
        if (start > 0) text = text[(text.IndexOf('\n', StringComparison.Ordinal) + 1)..]; // drop the partial first line
        int at = text.Length;
        if (at > 0 && text[at - 1] == '\n') at--;
        for (int i = 0; i < lines && at > 0; i++) at = text.LastIndexOf('\n', at - 1);
        return at <= 0 ? text : text[(at + 1)..];
    }

    private static string Kind(string name) => name switch
    {
        _ when name.StartsWith("worker-", StringComparison.Ordinal) => "worker",
        _ when name.StartsWith("driver-", StringComparison.Ordinal) => "driver",
        _ when name.StartsWith("job-driver-", StringComparison.Ordinal) => "job",
        _ when name.StartsWith("raylet", StringComparison.Ordinal) => "raylet",
        _ when name.StartsWith("raysharp-gcs", StringComparison.Ordinal) => "gcs",
        _ when name.StartsWith("dashboard", StringComparison.Ordinal) => "dashboard",
        _ when name.StartsWith("node", StringComparison.Ordinal) => "node",
        _ => "other",
    };
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RaySharp.Core.Rpc;
using RaySharp.State;

namespace RaySharp.Cli;

/// <summary><c>raysharp list tasks|objects</c> and <c>raysharp summary tasks|actors|objects</c> (API.md §8): the state API
/// (<see cref="StateApi"/>) against the cluster's GCS, printed as lines, a table on a terminal, or Ray's JSON.</summary>
internal static class StateCommands
{
    /// <summary>The columns of the table form (the JSON form has every field).</summary>
    private static readonly Dictionary<string, string[]> s_columns = new(StringComparer.Ordinal)
    {
        ["tasks"] = ["task_id", "attempt_number", "name", "state", "type", "node_id", "worker_pid", "error_type"],
        ["objects"] = ["object_id", "object_size", "reference_type", "task_status", "type", "pid", "node_id", "in_object_store", "spilled"],
    };

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    public static Listing List(string what, ClusterConnection cluster, int limit, List<StateFilter> filters)
    {
        var source = new GcsStateSource(cluster.Gcs);
        IReadOnlyList<object> rows;
        int total;
        IReadOnlyList<string> warnings;
        if (what == "tasks")
        {
            var tasks = cluster.Ask(_ => StateApi.ListTasks(source, limit, filters));
            (rows, total, warnings) = ([.. tasks], tasks.Total, tasks.Warnings);
        }
        else
        {
            var objects = cluster.Ask(_ => StateApi.ListObjects(source, limit, filters));
            (rows, total, warnings) = ([.. objects], objects.Total, objects.Warnings);
        }
        var json = new JsonArray([.. rows.Select(r => JsonSerializer.SerializeToNode(r, r.GetType(), StateApi.JsonOptions))]);
        var columns = s_columns[what];
        var cells = json.Select(row => (IReadOnlyList<string>)[.. columns.Select(c => Cell(row![c]))]).ToList();
        return new Listing(what, json, columns, cells, total, limit, filters.Count > 0, warnings);
    }

    public static Command BuildSummary()
    {
        var summary = new Command("summary", "Tasks per function and actors per class, counted per state; references per type.");
        foreach (var (what, description) in (ReadOnlySpan<(string, string)>)[
            ("tasks", "Task attempts per function (or actor class and method), counted per state."),
            ("actors", "Actors per class, counted per state."),
            ("objects", "References per type: how many, their size, how many workers and nodes hold them.")])
        {
            var cluster = new ClusterOptions();
            var format = CliOptions.Format();
            var command = cluster.AddTo(new Command(what, description).With(format));
            command.Handle((parse, terminal) => Summary(what, cluster.Connect(parse), parse.GetValue(format) == "json", terminal));
            summary.Subcommands.Add(command);
        }
        return summary;
    }

    private static int Summary(string what, ClusterConnection cluster, bool json, Terminal terminal)
    {
        var source = new GcsStateSource(cluster.Gcs);
        object summary = cluster.Ask<object>(_ => what switch
        {
            "tasks" => StateApi.SummarizeTasks(source),
            "actors" => StateApi.SummarizeActors(source),
            _ => StateApi.SummarizeObjects(source),
        });
        if (json)
        {
            terminal.WriteJson(JsonSerializer.SerializeToNode(summary, summary.GetType(), StateApi.JsonOptions), s_indented);
            return 0;
        }
        // Each summary as a title line and rows; on a terminal the rows are a table, else indented lines.
        var (title, columns, rows, warnings) = summary switch
        {
            TaskSummary t => ($"{t.TotalTasks} task attempts ({t.TotalActorTasks} actor calls, {t.TotalActorScheduled} actor creations)",
                (string[])["function", "type", "states"],
                t.Summary.Values.OrderBy(e => e.FuncOrClassName, StringComparer.Ordinal)
                    .Select(e => (IReadOnlyList<string>)[e.FuncOrClassName, Upper(e.Type), Counts(e.StateCounts)]).ToList(),
                t.Warnings),
            ActorSummary a => ($"{a.TotalActors} actors", ["class", "states"],
                a.Summary.Values.OrderBy(e => e.ClassName, StringComparer.Ordinal).Select(e => (IReadOnlyList<string>)[e.ClassName, Counts(e.StateCounts)]).ToList(),
                []),
            ObjectSummary o => ($"{o.TotalObjects} references, {Mb(o.TotalSizeMb)} MB", ["type", "objects", "size_mb", "workers", "nodes"],
                o.Summary.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (IReadOnlyList<string>)[kv.Key,
                    Invariant(kv.Value.TotalObjects), Mb(kv.Value.TotalSizeMb), Invariant(kv.Value.TotalNumWorkers), Invariant(kv.Value.TotalNumNodes)]).ToList(),
                o.Warnings),
            _ => throw new InvalidOperationException($"Unexpected summary {summary.GetType().Name}."),
        };
        terminal.Out.WriteLine(title);
        if (terminal.Interactive && rows.Count > 0) terminal.WriteTable(columns, rows);
        else if (summary is ObjectSummary)
            foreach (var row in rows)
                terminal.Out.WriteLine("  " + row[0] + string.Concat(columns.Skip(1).Select((c, i) => $"  {c}={row[i + 1]}")));
        else
            foreach (var row in rows) terminal.Out.WriteLine("  " + string.Join("  ", row));
        foreach (var w in warnings) terminal.Out.WriteLine("warning: " + w);
        return 0;
    }

    private static string Invariant(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Mb(double mb) => mb.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Upper(Enum value) => JsonNamingPolicy.SnakeCaseUpper.ConvertName(value.ToString());

    private static string Counts(IReadOnlyDictionary<string, int> counts) =>
        string.Join(", ", counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}: {kv.Value}"));

    private static string Cell(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => value.ToJsonString(),
    };
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.State;

namespace RaySharp.Cli;

/// <summary><c>raysharp list tasks|objects</c> and <c>raysharp summary tasks|actors|objects</c> (API.md §8): the state API
/// (<see cref="StateApi"/>) against the cluster's GCS, printed as a table or as Ray's JSON.</summary>
internal static class StateCommands
{
    /// <summary>The columns of the table form (the JSON form has every field).</summary>
    private static readonly Dictionary<string, string[]> s_columns = new(StringComparer.Ordinal)
    {
        ["tasks"] = ["task_id", "attempt_number", "name", "state", "type", "node_id", "worker_pid", "error_type"],
        ["objects"] = ["object_id", "object_size", "reference_type", "task_status", "type", "pid", "node_id", "in_object_store", "spilled"],
    };

    public static int List(string what, Dictionary<string, string> options, Func<GcsClient> gcs, TextWriter output)
    {
        bool json = Json(options);
        int limit = Limit(options);
        var filters = Filters(options);
        StateApi.CheckFilters(what, filters); // a bad filter is named before the cluster is asked
        var source = new GcsStateSource(gcs());
        IReadOnlyList<object> rows;
        int total;
        IReadOnlyList<string> warnings;
        if (what == "tasks")
        {
            var tasks = FromGcs(() => StateApi.ListTasks(source, limit, filters));
            (rows, total, warnings) = ([.. tasks], tasks.Total, tasks.Warnings);
        }
        else
        {
            var objects = FromGcs(() => StateApi.ListObjects(source, limit, filters));
            (rows, total, warnings) = ([.. objects], objects.Total, objects.Warnings);
        }
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(rows.Select(r => JsonSerializer.SerializeToNode(r, r.GetType(), StateApi.JsonOptions)).ToList(), Indented));
            return 0;
        }
        foreach (var row in rows)
        {
            var fields = JsonSerializer.SerializeToNode(row, row.GetType(), StateApi.JsonOptions)!.AsObject();
            output.WriteLine(string.Join("  ", s_columns[what].Select(c => $"{c}={Cell(fields[c])}")));
        }
        if (rows.Count == 0) output.WriteLine(filters.Count == 0 ? $"No {what}." : $"No {what} match the filter.");
        if (rows.Count < total) output.WriteLine($"({rows.Count} of {total} shown: --limit {limit})");
        foreach (var w in warnings) output.WriteLine("warning: " + w);
        return 0;
    }

    public static int Summary(string? what, Dictionary<string, string> options, Func<GcsClient> gcs, TextWriter output)
    {
        if (what is not ("tasks" or "actors" or "objects"))
            throw new ArgumentException("raysharp summary needs one of: tasks, actors, objects.");
        bool json = Json(options);
        var source = new GcsStateSource(gcs());
        object summary = FromGcs<object>(() => what switch
        {
            "tasks" => StateApi.SummarizeTasks(source),
            "actors" => StateApi.SummarizeActors(source),
            _ => StateApi.SummarizeObjects(source),
        });
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(JsonSerializer.SerializeToNode(summary, summary.GetType(), StateApi.JsonOptions), Indented));
            return 0;
        }
        switch (summary)
        {
            case TaskSummary t:
                output.WriteLine($"{t.TotalTasks} task attempts ({t.TotalActorTasks} actor calls, {t.TotalActorScheduled} actor creations)");
                foreach (var e in t.Summary.Values.OrderBy(e => e.FuncOrClassName, StringComparer.Ordinal))
                    output.WriteLine($"  {e.FuncOrClassName}  {Upper(e.Type)}  {Counts(e.StateCounts)}");
                foreach (var w in t.Warnings) output.WriteLine("warning: " + w);
                break;
            case ActorSummary a:
                output.WriteLine($"{a.TotalActors} actors");
                foreach (var e in a.Summary.Values.OrderBy(e => e.ClassName, StringComparer.Ordinal))
                    output.WriteLine($"  {e.ClassName}  {Counts(e.StateCounts)}");
                break;
            case ObjectSummary o:
                output.WriteLine($"{o.TotalObjects} references, {o.TotalSizeMb.ToString("0.###", CultureInfo.InvariantCulture)} MB");
                foreach (var (kind, e) in o.Summary.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    output.WriteLine($"  {kind}  objects={e.TotalObjects}  size_mb={e.TotalSizeMb.ToString("0.###", CultureInfo.InvariantCulture)}  " +
                        $"workers={e.TotalNumWorkers}  nodes={e.TotalNumNodes}");
                foreach (var w in o.Warnings) output.WriteLine("warning: " + w);
                break;
        }
        return 0;
    }

    /// <summary>A GCS that does not answer (or refuses) is the command's error (exit code 1), in one line.</summary>
    private static T FromGcs<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (RayException e)
        {
            throw new InvalidOperationException(e.Message, e);
        }
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static bool Json(Dictionary<string, string> options) => options.GetValueOrDefault("format", "table") switch
    {
        "json" => true,
        "table" => false,
        var other => throw new ArgumentException($"--format is table or json, not '{other}'."),
    };

    private static int Limit(Dictionary<string, string> options)
    {
        if (!options.TryGetValue("limit", out var l)) return StateApi.DefaultLimit;
        return int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is > 0 and <= StateApi.MaxLimit ? n
            : throw new ArgumentException($"--limit takes a number of rows from 1 to {StateApi.MaxLimit}, not '{l}'.");
    }

    private static List<StateFilter> Filters(Dictionary<string, string> options) =>
        options.TryGetValue("filter", out var f) ? [.. f.Split('\n').Select(Filter)] : [];

    private static StateFilter Filter(string text)
    {
        try
        {
            return StateFilter.Parse(text);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"--filter takes KEY=VALUE or KEY!=VALUE, not '{text}'.");
        }
    }

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

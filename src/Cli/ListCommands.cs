using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.State;
using PlacementGroupState = RaySharp.Core.Rpc.PlacementGroupState;
using static RaySharp.Cli.Formats;

namespace RaySharp.Cli;

/// <summary>What a <c>raysharp list</c> found: the rows as JSON (every field) and as text cells (the table's columns),
/// how many matched before <c>--limit</c>, and the warnings of a partial answer.</summary>
internal sealed record Listing(string What, JsonNode Json, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Cells, int Matching,
    int? Limit, bool Filtered, IReadOnlyList<string> Warnings);

/// <summary><c>raysharp list nodes|actors|jobs|placement-groups|tasks|objects</c> (API.md §8): one row per item, with
/// Ray's state-API field names, filtered and limited; plain KEY=VALUE lines, a table on a terminal, or JSON.</summary>
internal static class ListCommands
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    private static readonly (string What, string Description)[] s_kinds =
    [
        ("nodes", "The cluster's nodes: ID, state, head or not, address, resources."),
        ("actors", "Every actor: class, name, namespace, state, node, restarts, why it died."),
        ("jobs", "The drivers that connected: job ID, status, namespace, driver pid."),
        ("placement-groups", "Placement groups: state, strategy, bundles and their nodes, whether infeasible."),
        ("tasks", "Task attempts, from the GCS's task events: name, state, type, node, worker, error."),
        ("objects", "References held by every driver and worker: object, size, reference type, where it is."),
    ];

    public static Command Build()
    {
        var list = new Command("list", "One row per item of the cluster's state, with Ray's field names.");
        foreach (var (what, description) in s_kinds) list.Subcommands.Add(Kind(what, description));
        return list;
    }

    private static Command Kind(string what, string description)
    {
        bool fromTaskEvents = what is "tasks" or "objects";
        var cluster = new ClusterOptions();
        var format = CliOptions.Format();
        var filters = CliOptions.Filters();
        var limit = fromTaskEvents
            ? CliOptions.Limit($"show at most N rows (default {StateApi.DefaultLimit})", StateApi.MaxLimit)
            : CliOptions.Limit("show at most N rows (default: all)");
        var command = cluster.AddTo(new Command(what, description).With(filters, limit, format));
        if (fromTaskEvents)
            command.Validators.Add(result =>
            {
                // The fields are known without asking the cluster: a filter naming none of them is bad input.
                try
                {
                    StateApi.CheckFilters(what, CliOptions.ParseFilters(result.GetValue(filters)));
                }
                catch (ArgumentException e)
                {
                    result.AddError("--filter: " + CliOptions.Reason(e));
                }
            });
        command.Handle((parse, terminal) =>
        {
            var connection = cluster.Connect(parse);
            var chosen = CliOptions.ParseFilters(parse.GetValue(filters));
            var listing = fromTaskEvents
                ? StateCommands.List(what, connection, parse.GetValue(limit) ?? StateApi.DefaultLimit, chosen)
                : List(what, connection, parse.GetValue(limit), chosen);
            Write(listing, parse.GetValue(format) == "json", terminal);
            return 0;
        });
        return command;
    }

    /// <summary>Writes a listing: JSON; a table on a terminal; else one <c>KEY=VALUE  KEY=VALUE</c> line per row.</summary>
    public static void Write(Listing listing, bool json, Terminal terminal)
    {
        if (json)
        {
            terminal.WriteJson(listing.Json);
            return;
        }
        if (terminal.Interactive && listing.Cells.Count > 0) terminal.WriteTable(listing.Columns, listing.Cells);
        else
            foreach (var row in listing.Cells)
                terminal.Out.WriteLine(string.Join("  ", listing.Columns.Select((c, i) => $"{c}={row[i]}")));
        var output = terminal.Out;
        if (listing.Cells.Count == 0) output.WriteLine(listing.Filtered ? $"No {listing.What} match the filter." : $"No {listing.What}.");
        if (listing.Cells.Count < listing.Matching) output.WriteLine($"({listing.Cells.Count} of {listing.Matching} shown: --limit {listing.Limit})");
        foreach (var w in listing.Warnings) output.WriteLine("warning: " + w);
    }

    private static Listing List(string what, ClusterConnection cluster, int? limit, List<StateFilter> filters)
    {
        IEnumerable<Dictionary<string, object?>> rows = what switch
        {
            "nodes" => cluster.Ask(g => g.GetAllNodes()).Nodes.Select(n => new Dictionary<string, object?>
            {
                ["node_id"] = n.NodeId.ToString(), ["state"] = n.Alive ? "ALIVE" : "DEAD", ["is_head"] = n.IsHead,
                ["address"] = n.RayletEndpoint, ["resources"] = n.Total,
            }),
            "actors" => cluster.Ask(g => g.GetAllActors()).Select(a => new Dictionary<string, object?>
            {
                ["actor_id"] = a.ActorId.ToString(), ["class_name"] = a.Creation.ClassName, ["name"] = a.Creation.Name,
                ["namespace"] = a.Creation.Namespace, ["state"] = a.State.ToString().ToUpperInvariant(), ["node_id"] = a.NodeId.ToString(),
                ["num_restarts"] = a.NumRestarts, ["death_cause"] = a.DeathCause?.Message,
            }),
            "jobs" => cluster.Ask(g => g.GetAllJobs()).Select(j => new Dictionary<string, object?>
            {
                ["job_id"] = j.JobId.ToString(), ["status"] = j.IsDead ? "FINISHED" : "RUNNING", ["namespace"] = j.Namespace,
                ["driver_pid"] = j.DriverProcessId, ["code_search_path"] = j.CodeSearchPath,
            }),
            // Oldest first, as the GCS received them.
            _ => cluster.Ask(g => g.GetAllPlacementGroups()).OrderBy(g => g.CreateTimeMs).Select(PlacementGroupRow),
        };
        List<Dictionary<string, object?>> matching;
        try
        {
            matching = StateFilter.Apply(rows, filters, what).ToList();
        }
        catch (ArgumentException e)
        {
            // The fields are known once the first row is there: a filter naming none of them is still bad input (exit code 2).
            throw new ArgumentException("--filter: " + CliOptions.Reason(e), e);
        }
        var shown = limit is { } max ? matching.Take(max).ToList() : matching;
        // The table leaves out maps of amounts (a node's resources): `--format json` has them.
        var columns = matching.FirstOrDefault()?.Where(kv => kv.Value is not IDictionary<string, double>).Select(kv => kv.Key).ToList() ?? [];
        return new Listing(what, JsonSerializer.SerializeToNode(shown, s_json)!, columns,
            [.. shown.Select(row => (IReadOnlyList<string>)[.. columns.Select(c => Cell(row[c]))])], matching.Count, limit, filters.Count > 0, []);
    }

    /// <summary>A group as Ray's state API lists it (<c>ray list placement-groups --detail</c>), with its strategy and
    /// whether it is infeasible on the current nodes.</summary>
    private static Dictionary<string, object?> PlacementGroupRow(PlacementGroupTableData g) => new()
    {
        ["placement_group_id"] = g.Spec.Id.ToString(),
        ["name"] = g.Spec.Name,
        ["namespace"] = g.Spec.Namespace,
        ["creator_job_id"] = g.Spec.JobId.ToString(),
        ["state"] = g.State.ToString().ToUpperInvariant(),
        ["strategy"] = StrategyName(g.Spec.Strategy),
        ["is_detached"] = g.Spec.Lifetime == PlacementGroupLifetime.Detached,
        ["infeasible"] = g.Infeasible && g.State != PlacementGroupState.Removed,
        ["bundles"] = g.Spec.Bundles.Select((b, i) => new Dictionary<string, object?>
        {
            ["bundle_index"] = i,
            ["node_id"] = i < g.BundleNodes.Length && !g.BundleNodes[i].IsNil ? g.BundleNodes[i].ToString() : null,
            ["unit_resources"] = b,
        }).ToList(),
        ["stats"] = new Dictionary<string, object?>
        {
            ["scheduling_state"] = g.State switch
            {
                PlacementGroupState.Created => "FINISHED",
                PlacementGroupState.Removed => "REMOVED",
                PlacementGroupState.Prepared => "SCHEDULING_STARTED",
                _ => g.Infeasible ? "INFEASIBLE" : "QUEUED",
            },
            ["create_time_ms"] = g.CreateTimeMs,
            ["remove_time_ms"] = g.RemoveTimeMs == 0 ? null : g.RemoveTimeMs,
        },
    };

    /// <summary>A value as text: bundles as <c>[{CPU: 1} on NODE, {CPU: 1} not placed]</c>, times as UTC.</summary>
    private static string Cell(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        List<Dictionary<string, object?>> bundles => "[" + string.Join(", ", bundles.Select(b =>
            BundleShape((IReadOnlyDictionary<string, double>)b["unit_resources"]!) + (b["node_id"] is string node ? $" on {node}" : " not placed"))) + "]",
        Dictionary<string, object?> fields => "{" + string.Join(", ", fields.Where(kv => kv.Value is not null).Select(kv =>
            kv.Key.EndsWith("_time_ms", StringComparison.Ordinal) && kv.Value is long ms
                ? $"{kv.Key[..^3]}: {DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}Z"
                : $"{kv.Key}: {Cell(kv.Value)}")) + "}",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using static RaySharp.Cli.Formats;

namespace RaySharp.Cli;

/// <summary><c>raysharp status</c> and <c>raysharp memory</c> (API.md §8): what the cluster's nodes hold, as plain lines,
/// tables on a terminal, or JSON.</summary>
internal static class ClusterCommands
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command BuildStatus()
    {
        var cluster = new ClusterOptions();
        var format = CliOptions.Format();
        var command = cluster.AddTo(new Command("status",
            "Nodes, resources used/total (and what placement groups reserve), pending and infeasible placement groups, object store use, " +
            "the autoscaler's nodes per type and the demand no node type can meet.")
            .With(format));
        command.Handle((parse, terminal) => Status(cluster.Connect(parse), parse.GetValue(format) == "json", terminal));
        return command;
    }

    public static Command BuildMemory()
    {
        var cluster = new ClusterOptions();
        var format = CliOptions.Format();
        var command = cluster.AddTo(new Command("memory",
            "The objects in each node's object store: size, primary copy or secondary, readers pinning it, spilled, owner.").With(format));
        command.Handle((parse, terminal) => Memory(cluster.Connect(parse), parse.GetValue(format) == "json", terminal));
        return command;
    }

    private sealed record NodeRow(string NodeId, bool IsHead, string State, string Address, string? DeathReason);

    private sealed record ResourceRow(string Resource, double Used, double Total, double? ReservedInPlacementGroups, double? UsedInPlacementGroups);

    private sealed record PendingGroup(string PlacementGroupId, string? Name, string Strategy, string Bundles, bool Infeasible, string Reason);

    private sealed record GroupCounts(int Created, int Pending, int Infeasible, IReadOnlyList<PendingGroup> PendingGroups);

    private sealed record StoreTotals(long UsedBytes, long CapacityBytes, int Objects, long SpilledBytes);

    private sealed record StatusReport(string Gcs, IReadOnlyList<NodeRow> Nodes, IReadOnlyList<ResourceRow> Resources, GroupCounts PlacementGroups,
        StoreTotals ObjectStore, AutoscalingStatus Autoscaling);

    private static int Status(ClusterConnection cluster, bool json, Terminal terminal)
    {
        var report = StatusOf(cluster, terminal.Error);
        if (json) terminal.WriteJson(report, s_json);
        else if (terminal.Interactive) StatusTables(report, terminal);
        else StatusLines(report, terminal.Out);
        return 0;
    }

    private static StatusReport StatusOf(ClusterConnection cluster, TextWriter notes)
    {
        var nodes = cluster.Ask(g => g.GetAllNodes()).Nodes;
        var alive = nodes.Where(n => n.Alive).ToList();
        // A committed bundle shows on its node as CPU_group_<i>_<pg>, CPU_group_<pg>, bundle_group_... resources: they are
        // not listed, the share of each resource that placement groups reserve is said next to it instead. What a group
        // reserves counts as used on the node (it is taken out of what is free); "used of reserved" is what its work holds.
        var reserved = ReservedInPlacementGroups(alive);
        var resources = alive.SelectMany(n => n.Total.Keys).Where(n => !BundleResources.IsBundleResource(n)).Distinct().Order(StringComparer.Ordinal)
            .Select(name =>
            {
                double total = alive.Sum(n => n.Total.GetValueOrDefault(name));
                double available = alive.Sum(n => n.Available.GetValueOrDefault(name));
                bool inGroups = reserved.TryGetValue(name, out var r);
                return new ResourceRow(name, total - available, total, inGroups ? r.Total : null, inGroups ? r.Used : null);
            }).ToList();
        var stores = cluster.StoreStats(notes);
        return new StatusReport(cluster.Endpoint,
            [.. nodes.OrderByDescending(n => n.IsHead).Select(n => new NodeRow(n.NodeId.ToString(), n.IsHead, n.Alive ? "ALIVE" : "DEAD", n.RayletEndpoint, n.DeathReason))],
            resources, GroupCountsOf(cluster.Ask(g => g.GetAllPlacementGroups())),
            new StoreTotals(stores.Sum(s => s.Used), stores.Sum(s => s.Capacity), stores.Sum(s => s.Objects.Length), stores.Sum(s => s.SpilledBytes)),
            AutoscalingStatus.Of(cluster.Ask(g => g.GetClusterResourceStateAsync().GetAwaiter().GetResult())));
    }

    private static string InGroups(ResourceRow r) => r.ReservedInPlacementGroups is { } total
        ? $"{Amount(r.UsedInPlacementGroups ?? 0)} used of {Amount(total)} reserved in placement groups" : "";

    private static string StoreLine(StoreTotals s) =>
        $"Object store: {Bytes(s.UsedBytes)} of {Bytes(s.CapacityBytes)} used by {s.Objects} objects; {Bytes(s.SpilledBytes)} spilled to disk " +
        "(`raysharp memory` lists them)";

    private static string GroupsLine(GroupCounts g) =>
        $"Placement groups: {g.Created} created, {g.Pending} pending" + (g.Infeasible > 0 ? $" ({g.Infeasible} infeasible)" : "") +
        (g.Created + g.Pending > 0 ? " (`raysharp list placement-groups` lists them)" : "");

    private static void StatusLines(StatusReport report, TextWriter output)
    {
        output.WriteLine($"======== Cluster status ({report.Gcs}) ========");
        output.WriteLine($"Alive nodes: {report.Nodes.Count(n => n.State == "ALIVE")}  Dead nodes: {report.Nodes.Count(n => n.State != "ALIVE")}");
        foreach (var n in report.Nodes)
            output.WriteLine($"  {n.NodeId} {(n.IsHead ? "head  " : "worker")} {n.State,-5} {n.Address}" + (n.DeathReason is { } why ? $" ({why})" : ""));
        output.WriteLine("Resources (used/total):");
        foreach (var r in report.Resources)
            output.WriteLine($"  {Amount(r.Used)}/{Amount(r.Total)} {r.Resource}" + (r.ReservedInPlacementGroups is null ? "" : $" ({InGroups(r)})"));
        output.WriteLine(GroupsLine(report.PlacementGroups));
        if (report.PlacementGroups.PendingGroups.Count > 0)
        {
            output.WriteLine("Pending placement groups:");
            foreach (var g in report.PlacementGroups.PendingGroups)
                output.WriteLine($"  {g.PlacementGroupId} {g.Strategy} {g.Bundles}" + (g.Name is { } name ? $" '{name}'" : "") + $": {g.Reason}");
        }
        output.WriteLine(StoreLine(report.ObjectStore));
        report.Autoscaling.WriteLines(output);
    }

    private static void StatusTables(StatusReport report, Terminal terminal)
    {
        terminal.WriteTable(["node", "role", "state", "address", "death reason"],
            report.Nodes.Select(n => (IReadOnlyList<string>)[n.NodeId, n.IsHead ? "head" : "worker", n.State, n.Address, n.DeathReason ?? ""]),
            $"Cluster {report.Gcs}");
        terminal.WriteTable(["resource", "used", "total", "in placement groups"],
            report.Resources.Select(r => (IReadOnlyList<string>)[r.Resource, Amount(r.Used), Amount(r.Total), InGroups(r)]), "Resources");
        terminal.Out.WriteLine(GroupsLine(report.PlacementGroups));
        if (report.PlacementGroups.PendingGroups.Count > 0)
            terminal.WriteTable(["placement group", "name", "strategy", "bundles", "why it waits"],
                report.PlacementGroups.PendingGroups.Select(g => (IReadOnlyList<string>)[g.PlacementGroupId, g.Name ?? "", g.Strategy, g.Bundles, g.Reason]),
                "Pending placement groups");
        terminal.Out.WriteLine(StoreLine(report.ObjectStore));
        report.Autoscaling.WriteTables(terminal);
    }

    /// <summary>Per resource, what the committed bundles on <paramref name="nodes"/> reserve and how much of it their work
    /// holds. A group's wildcard resource (<c>CPU_group_&lt;pg&gt;</c>) totals what all its bundles on a node reserve;
    /// work in a group holds some of it, and work in bundle i also some of <c>CPU_group_&lt;i&gt;_&lt;pg&gt;</c>. What is
    /// used on a node is the larger of the two (work asking for one bundle may hold only the indexed name).</summary>
    private static Dictionary<string, (double Total, double Used)> ReservedInPlacementGroups(IEnumerable<NodeRecord> nodes)
    {
        var reserved = new Dictionary<string, (double Total, double Used)>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var perGroup = new Dictionary<(PlacementGroupId Group, string Resource), (double Total, double WildcardUsed, double IndexedUsed)>();
            foreach (var (name, total) in node.Total)
            {
                if (!TryParseBundleResource(name, out var group, out var resource, out int index) || resource == "bundle") continue;
                double used = total - node.Available.GetValueOrDefault(name);
                var (sum, wildcardUsed, indexedUsed) = perGroup.GetValueOrDefault((group, resource));
                perGroup[(group, resource)] = index < 0 ? (sum + total, wildcardUsed + used, indexedUsed) : (sum, wildcardUsed, indexedUsed + used);
            }
            foreach (var ((_, resource), (total, wildcardUsed, indexedUsed)) in perGroup)
            {
                var (sum, used) = reserved.GetValueOrDefault(resource);
                reserved[resource] = (sum + total, used + Math.Min(total, Math.Max(wildcardUsed, indexedUsed)));
            }
        }
        return reserved;
    }

    /// <summary>Splits a bundle resource name: <c>&lt;resource&gt;_group_&lt;pg&gt;</c> (index -1, the name all of a
    /// group's bundles add to) or <c>&lt;resource&gt;_group_&lt;i&gt;_&lt;pg&gt;</c> (bundle i's own).</summary>
    private static bool TryParseBundleResource(string name, out PlacementGroupId group, out string resource, out int index)
    {
        const string Infix = "_group";
        resource = "";
        index = -1;
        if (!BundleResources.TryGetGroup(name, out group)) return false;
        string head = name[..^(group.ToString().Length + 1)]; // "<resource>_group" or "<resource>_group_<i>"
        if (!head.EndsWith(Infix, StringComparison.Ordinal))
        {
            int at = head.LastIndexOf(Infix + "_", StringComparison.Ordinal);
            if (at <= 0 || !int.TryParse(head.AsSpan(at + Infix.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out index)) return false;
            resource = head[..at];
        }
        else resource = head[..^Infix.Length];
        return resource.Length > 0 && BundleResources.Name(resource, group, index) == name;
    }

    /// <summary>How many groups are created and pending, and each group that waits, oldest first, with why: a pending
    /// group holds nothing until all of its bundles fit at once, and an infeasible one waits for a node that fits to join.</summary>
    private static GroupCounts GroupCountsOf(PlacementGroupTableData[] groups)
    {
        var live = groups.Where(g => g.State != PlacementGroupState.Removed).ToList();
        var waiting = live.Where(g => g.State != PlacementGroupState.Created).OrderBy(g => g.CreateTimeMs).ToList();
        return new GroupCounts(live.Count - waiting.Count, waiting.Count, waiting.Count(g => g.Infeasible), [.. waiting.Select(g =>
        {
            int lost = g.BundleNodes.Count(n => n.IsNil);
            string why = g.Infeasible
                ? "infeasible: no set of alive nodes can ever hold it; it waits for a node that fits"
                : g.State switch
                {
                    PlacementGroupState.Prepared => "reserving its bundles",
                    PlacementGroupState.Rescheduling => $"rescheduling {lost} of {g.Spec.Bundles.Length} bundle(s) lost with their node; waits for resources",
                    _ => "waits for resources to be free (it holds none until every bundle fits)",
                };
            return new PendingGroup(g.Spec.Id.ToString(), g.Spec.Name, StrategyName(g.Spec.Strategy), BundleShapes(g.Spec.Bundles), g.Infeasible, why);
        })]);
    }

    private static int Memory(ClusterConnection cluster, bool json, Terminal terminal)
    {
        var output = terminal.Out;
        var stats = cluster.StoreStats(terminal.Error);
        if (json)
        {
            terminal.WriteJson(stats.Select(s => new Dictionary<string, object?>
            {
                ["node_id"] = s.NodeId.ToString(), ["capacity"] = s.Capacity, ["used"] = s.Used, ["spilled_bytes"] = s.SpilledBytes,
                ["spilled_objects"] = s.SpilledObjects, ["restored_bytes"] = s.RestoredBytes, ["evicted_bytes"] = s.EvictedBytes,
                ["fallback_bytes"] = s.FallbackBytes,
                ["objects"] = s.Objects.Select(o => new Dictionary<string, object?>
                {
                    ["object_id"] = o.ObjectId.ToString(), ["size"] = o.Size, ["copy"] = Copy(o), ["sealed"] = o.IsSealed, ["readers"] = o.Readers,
                    ["spilled"] = o.IsSpilled, ["on_disk_fallback"] = o.OnFallback, ["owner"] = o.Owner?.WorkerId.ToString(),
                }).ToList(),
            }).ToList());
            return 0;
        }
        output.WriteLine($"======== Object store memory ({cluster.Endpoint}) ========");
        foreach (var s in stats)
        {
            output.WriteLine($"Node {s.NodeId}: {Bytes(s.Used)} of {Bytes(s.Capacity)} used, {s.Objects.Length} objects, " +
                $"{Bytes(s.SpilledBytes)} spilled ({s.SpilledObjects} objects), {Bytes(s.RestoredBytes)} restored, {Bytes(s.EvictedBytes)} of copies evicted" +
                (s.FallbackBytes > 0 ? $", {Bytes(s.FallbackBytes)} in disk files (/dev/shm is full)" : ""));
            if (s.Objects.Length == 0) continue;
            var objects = s.Objects.OrderByDescending(o => o.Size).ToList();
            if (terminal.Interactive)
            {
                terminal.WriteTable(["object id", "size", "copy", "readers", "state", "owner"], objects.Select(o => (IReadOnlyList<string>)
                    [o.ObjectId.ToString(), Bytes(o.Size), Copy(o), o.Readers.ToString(CultureInfo.InvariantCulture), State(o), Owner(o)]));
                continue;
            }
            output.WriteLine($"  {"object id",-58} {"size",10} {"copy",-9} {"readers",7} {"state",-8} owner");
            foreach (var o in objects)
                output.WriteLine($"  {o.ObjectId,-58} {Bytes(o.Size),10} {Copy(o),-9} {o.Readers,7} {State(o),-8} {Owner(o)}");
        }
        return 0;
    }

    private static string Copy(StoreObjectInfo o) => o.IsPrimary ? "primary" : "secondary";

    private static string State(StoreObjectInfo o) => !o.IsSealed ? "writing" : o.IsSpilled ? "spilled" : "in memory";

    private static string Owner(StoreObjectInfo o) => o.Owner?.WorkerId.ToString() ?? "-";
}

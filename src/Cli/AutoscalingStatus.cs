using System.Globalization;
using RaySharp.Core;
using RaySharp.Core.Rpc;

namespace RaySharp.Cli;

/// <summary>The demand and autoscaler part of <c>raysharp status</c> (as <c>ray status</c>'s "Autoscaler status", "Pending"
/// and "Demands"): the autoscaler's instances per node type — launching, active, idle, draining — the work queued for
/// resources, and the demand no node type can ever meet.</summary>
internal sealed record AutoscalingStatus(bool AutoscalerRunning, double? UpdatedSecondsAgo, string? LastError, IReadOnlyList<AutoscalingStatus.NodeTypeRow> NodeTypes,
    IReadOnlyList<AutoscalingStatus.DemandRow> Pending, IReadOnlyList<AutoscalingStatus.DemandRow> Infeasible)
{
    internal sealed record NodeTypeRow(string NodeType, int Launching, int Active, int Idle, int Draining);

    internal sealed record DemandRow(string What, string Shape, int Count);

    public static AutoscalingStatus Of(ClusterResourceState state)
    {
        var pending = state.Demand.Select(Row)
            .Concat(state.PendingGroups.Select(g => new DemandRow($"placement group {g.Group} ({g.Strategy})", string.Join(" ", g.Bundles.Select(Shape)), g.Bundles.Length)))
            .ToList();
        if (state.Autoscaler is not { } a)
            return new AutoscalingStatus(false, null, null, [], pending, [.. state.Demand.Where(d => d.Infeasible).Select(Row)]);
        var types = a.Instances.GroupBy(i => i.NodeType).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new NodeTypeRow(g.Key,
            g.Count(i => i.Status == InstanceStatus.Launching), g.Count(i => i.Status == InstanceStatus.Active), g.Count(i => i.Status == InstanceStatus.Idle),
            g.Count(i => i.Status is InstanceStatus.Draining or InstanceStatus.Terminating))).ToList();
        var infeasible = a.Infeasible.Select(Row)
            .Concat(a.InfeasibleGroups.Select(g => new DemandRow($"placement group {g.Group} ({g.Strategy})", string.Join(" ", g.Bundles.Select(Shape)), g.Bundles.Length)))
            .ToList();
        return new AutoscalingStatus(true, Math.Max(0, (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - a.TimeMs) / 1000.0), a.LastError, types, pending, infeasible);
    }

    private static DemandRow Row(ResourceDemand d) => new(d.Kind == DemandKind.Actor ? "actor" : "task", Shape(d.Shape), d.Count);

    private static string Shape(Dictionary<string, double> shape) =>
        "{" + string.Join(", ", shape.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}: {Formats.Amount(r.Value)}")) + "}";

    public void WriteLines(TextWriter output)
    {
        if (!AutoscalerRunning) output.WriteLine("Autoscaler: not running (start the head with --autoscaling-config FILE)");
        else
        {
            output.WriteLine($"Autoscaler (updated {UpdatedSecondsAgo?.ToString("0.#", CultureInfo.InvariantCulture)} s ago):" +
                (LastError is { } e ? $" its last pass failed: {e}" : ""));
            if (NodeTypes.Count == 0) output.WriteLine("  no autoscaled nodes");
            foreach (var t in NodeTypes)
                output.WriteLine($"  {t.NodeType}: {t.Launching} launching, {t.Active} active, {t.Idle} idle, {t.Draining} draining");
        }
        output.WriteLine(Pending.Count == 0 ? "Pending demand: none" : "Pending demand:");
        foreach (var d in Pending) output.WriteLine($"  {d.Count} {d.What}(s) of {d.Shape}");
        output.WriteLine(Infeasible.Count == 0 ? "Demand no node type can meet: none" : "Demand no node type can meet:");
        foreach (var d in Infeasible) output.WriteLine($"  {d.Count} {d.What}(s) of {d.Shape}");
    }

    public void WriteTables(Terminal terminal)
    {
        if (!AutoscalerRunning) terminal.Out.WriteLine("Autoscaler: not running (start the head with --autoscaling-config FILE)");
        else
        {
            terminal.WriteTable(["node type", "launching", "active", "idle", "draining"], NodeTypes.Select(t => (IReadOnlyList<string>)[t.NodeType,
                Count(t.Launching), Count(t.Active), Count(t.Idle), Count(t.Draining)]),
                $"Autoscaler (updated {UpdatedSecondsAgo?.ToString("0.#", CultureInfo.InvariantCulture)} s ago)");
            if (LastError is { } e) terminal.Out.WriteLine($"The autoscaler's last pass failed: {e}");
        }
        if (Pending.Count > 0) terminal.WriteTable(["pending", "shape", "count"], Pending.Select(d => (IReadOnlyList<string>)[d.What, d.Shape, Count(d.Count)]), "Pending demand");
        if (Infeasible.Count > 0)
            terminal.WriteTable(["infeasible", "shape", "count"], Infeasible.Select(d => (IReadOnlyList<string>)[d.What, d.Shape, Count(d.Count)]),
                "Demand no node type can meet");
    }

    private static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);
}

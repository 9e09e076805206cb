using RaySharp.Core;
using RaySharp.Core.Rpc;

namespace RaySharp.Autoscaler;

/// <summary>What the scheduler decides from: the node types, how many nodes of each there are (running and launching,
/// not draining), the room on the nodes there are (what is free on running nodes; all of a launching node), and the
/// demand: queued tasks and actors by shape, and placement groups waiting for nodes.</summary>
internal sealed record SchedulingInput(
    IReadOnlyList<NodeTypeConfig> NodeTypes,
    IReadOnlyDictionary<string, int> NodeCounts,
    IReadOnlyList<ResourceSet> Room,
    IReadOnlyList<ResourceDemand> Demand,
    IReadOnlyList<PendingBundles> PendingGroups);

/// <summary>How many nodes of each type to launch, and the demand no node type can ever meet (reported, never launched
/// for). <paramref name="Unmet"/> counts requests a node type could fit but that <c>max_workers</c> leaves waiting;
/// <paramref name="RoomUsed"/> the indices of <see cref="SchedulingInput.Room"/> that demand was placed on (an idle node
/// whose room the demand needs is kept).</summary>
internal sealed record SchedulingDecision(IReadOnlyDictionary<string, int> ToLaunch, IReadOnlyList<ResourceDemand> Infeasible,
    IReadOnlyList<PendingBundles> InfeasibleGroups, int Unmet, IReadOnlySet<int> RoomUsed);

/// <summary>
/// Turns demand into nodes to launch (Ray's resource demand scheduler), as a pure function of its input. First each
/// type is brought up to <c>min_workers</c>; then every request — a task or actor shape, a placement-group bundle, all of
/// a STRICT_PACK group at once, or the bundles of a STRICT_SPREAD group on distinct nodes — is placed first-fit in
/// decreasing size: on the room existing and launching nodes have, then on nodes this pass opens, and only then on a new
/// node of the type that fits it best (the fewest resources the request does not use — a CPU task does not start a GPU
/// node when a CPU node fits it — then the highest share of the node it fills), while the type is under
/// <c>max_workers</c>. A request no node type can hold is infeasible unless a node already in the cluster could hold it.
/// </summary>
internal static class ResourceDemandScheduler
{
    /// <summary>Requests of one shape expanded for packing at most (a larger backlog launches max_workers anyway).</summary>
    internal const int MaxRequestsPerShape = 1000;

    /// <summary>Shapes that must each go on its own node (one shape for a task, several for a STRICT_SPREAD group).</summary>
    private sealed record Unit(IReadOnlyList<ResourceSet> Shapes, double Size);

    /// <summary>A node's room: <paramref name="roomIndex"/> is its index in the input's room, -1 for nodes this pass opens.</summary>
    private sealed class Bin(int roomIndex, ResourceSet room)
    {
        public int RoomIndex { get; } = roomIndex;
        public ResourceSet Room { get; set; } = room;
    }

    public static SchedulingDecision Schedule(SchedulingInput input)
    {
        var types = input.NodeTypes.ToDictionary(t => t.Name, t => ResourceSet.From(t.Resources));
        var counts = input.NodeTypes.ToDictionary(t => t.Name, t => input.NodeCounts.GetValueOrDefault(t.Name));
        var launch = input.NodeTypes.ToDictionary(t => t.Name, _ => 0);
        var bins = input.Room.Select((r, i) => new Bin(i, r)).ToList();

        // min_workers first: those nodes come whatever the demand, and their room takes demand like any node's.
        foreach (var t in input.NodeTypes)
            while (counts[t.Name] < t.MinWorkers)
            {
                counts[t.Name]++;
                launch[t.Name]++;
                bins.Add(new Bin(-1, types[t.Name]));
            }

        var infeasible = new List<ResourceDemand>();
        var infeasibleGroups = new List<PendingBundles>();
        var units = new List<Unit>();
        bool AnyTypeFits(ResourceSet shape) => types.Values.Any(shape.IsSubsetOf);
        foreach (var d in input.Demand)
        {
            var shape = ResourceSet.From(d.Shape);
            if (!AnyTypeFits(shape))
            {
                // Work that no node type fits waits for a node already here (the raylets know whether one ever can).
                if (d.Infeasible) infeasible.Add(d);
                continue;
            }
            for (int i = 0; i < Math.Min(d.Count, MaxRequestsPerShape); i++) units.Add(new Unit([shape], 0));
        }
        foreach (var g in input.PendingGroups)
        {
            var bundles = g.Bundles.Select(b => ResourceSet.From(b)).ToList();
            var groupUnits = g.Strategy switch
            {
                PlacementStrategy.StrictPack => [new Unit([bundles.Aggregate(ResourceSet.Empty, (a, b) => a.Add(b))], 0)],
                PlacementStrategy.StrictSpread => [new Unit(bundles, 0)],
                _ => bundles.Select(b => new Unit([b], 0)).ToList(),
            };
            if (groupUnits.SelectMany(u => u.Shapes).Any(s => !AnyTypeFits(s)))
            {
                if (g.Infeasible) infeasibleGroups.Add(g);
                continue;
            }
            units.AddRange(groupUnits);
        }

        // First-fit decreasing: the largest requests first, each the share of the largest node type it takes.
        var largest = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var set in types.Values)
            foreach (var name in set.Names)
                largest[name] = Math.Max(largest.GetValueOrDefault(name), set[name]);
        double SizeOf(ResourceSet s) => s.Names.Sum(n => largest.TryGetValue(n, out var max) && max > 0 ? s[n] / max : 0);
        var ordered = units.Select(u => u with { Size = u.Shapes.Sum(SizeOf) })
            .OrderByDescending(u => u.Size).ThenByDescending(u => u.Shapes.Count).ToList();

        int unmet = 0;
        var roomUsed = new HashSet<int>();
        foreach (var unit in ordered)
        {
            var used = new HashSet<Bin>();
            foreach (var shape in unit.Shapes.OrderByDescending(SizeOf))
            {
                var bin = bins.FirstOrDefault(b => !used.Contains(b) && shape.IsSubsetOf(b.Room));
                if (bin is null && BestType(input.NodeTypes, types, counts, shape) is { } type)
                {
                    counts[type.Name]++;
                    launch[type.Name]++;
                    bin = new Bin(-1, types[type.Name]);
                    bins.Add(bin);
                }
                if (bin is null)
                {
                    unmet++;
                    continue;
                }
                bin.Room = bin.Room.Subtract(shape);
                used.Add(bin);
                if (bin.RoomIndex >= 0) roomUsed.Add(bin.RoomIndex);
            }
        }
        return new SchedulingDecision(launch.Where(l => l.Value > 0).ToDictionary(), infeasible, infeasibleGroups, unmet, roomUsed);
    }

    /// <summary>The type to start for <paramref name="shape"/>: of those that fit it and are under max_workers, the one
    /// with the fewest resources the shape does not ask for, then the largest share of the node the shape fills, then by name.</summary>
    private static NodeTypeConfig? BestType(IReadOnlyList<NodeTypeConfig> all, Dictionary<string, ResourceSet> types, Dictionary<string, int> counts,
        ResourceSet shape) =>
        all.Where(t => counts[t.Name] < t.MaxWorkers && shape.IsSubsetOf(types[t.Name]))
            .OrderBy(t => types[t.Name].Names.Count(n => shape[n] == 0 && n is not (ResourceSet.Memory or ResourceSet.ObjectStoreMemory)))
            .ThenByDescending(t => Utilization(shape, types[t.Name]))
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .FirstOrDefault();

    private static double Utilization(ResourceSet shape, ResourceSet node)
    {
        var names = shape.Names.Where(n => node[n] > 0).ToList();
        return names.Count == 0 ? 0 : names.Average(n => shape[n] / node[n]);
    }
}

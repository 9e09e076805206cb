namespace RaySharp.Core.Gcs;

/// <summary>A node as the placement-group scheduler sees it: what it has in all and what is free now.</summary>
internal sealed record BundleNode(NodeId NodeId, ResourceSet Total, ResourceSet Available);

/// <summary>The outcome of scheduling a group's bundles.</summary>
internal enum BundlePlacementKind : byte
{
    /// <summary>Every bundle has a node (<see cref="BundlePlacement.Nodes"/>): prepare them.</summary>
    Placed,

    /// <summary>Not now, but the nodes could hold the group once resources free up: stay pending.</summary>
    WaitForResources,

    /// <summary>No set of the current nodes could ever hold the group, even empty: pending, reported as infeasible,
    /// until a node that fits joins.</summary>
    Infeasible,
}

/// <summary>Where each bundle goes (index i: the node of bundle i), or why nowhere.</summary>
internal sealed record BundlePlacement(BundlePlacementKind Kind, NodeId[] Nodes)
{
    public static BundlePlacement Wait { get; } = new(BundlePlacementKind.WaitForResources, []);

    public static BundlePlacement Never { get; } = new(BundlePlacementKind.Infeasible, []);
}

/// <summary>
/// Chooses nodes for the bundles of a placement group (Ray's <c>GcsPlacementGroupScheduler</c> with its bundle
/// scheduling policies), all or nothing, over the nodes' current free resources:
/// <list type="bullet">
/// <item><c>StrictPack</c>: every bundle on one node.</item>
/// <item><c>Pack</c>: on one node when one fits them all; otherwise as few nodes as possible, filling the node that
/// already holds most of the group first (and starting on the node with room for the most).</item>
/// <item><c>StrictSpread</c>: each bundle on a different node.</item>
/// <item><c>Spread</c>: on different nodes where possible, round robin over the nodes, reusing a node only when no
/// unused one fits.</item>
/// </list>
/// Nodes are tried in node-ID order (as Ray's hybrid policy orders them), so the same state gives the same answer.
/// The result is only a choice: the manager reserves it with prepare and commit on the raylets.
/// </summary>
internal static class GcsPlacementGroupScheduler
{
    public static BundlePlacement Schedule(IReadOnlyList<ResourceSet> bundles, PlacementStrategy strategy, IReadOnlyList<BundleNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        ArgumentNullException.ThrowIfNull(nodes);
        if (bundles.Count == 0) throw new ArgumentException("A placement group needs at least one bundle.", nameof(bundles));
        var ordered = nodes.OrderBy(n => n.NodeId.ToString(), StringComparer.Ordinal).ToList();
        if (!CouldEverFit(bundles, strategy, ordered)) return BundlePlacement.Never;
        var placed = strategy switch
        {
            PlacementStrategy.StrictPack => StrictPack(bundles, ordered),
            PlacementStrategy.Pack => Pack(bundles, ordered),
            PlacementStrategy.StrictSpread => Spread(bundles, ordered, strict: true),
            PlacementStrategy.Spread => Spread(bundles, ordered, strict: false),
            _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "Unknown placement strategy."),
        };
        return placed is null ? BundlePlacement.Wait : new BundlePlacement(BundlePlacementKind.Placed, placed);
    }

    /// <summary>Whether the group would fit the nodes' totals, were they empty.</summary>
    private static bool CouldEverFit(IReadOnlyList<ResourceSet> bundles, PlacementStrategy strategy, List<BundleNode> nodes)
    {
        var asIfEmpty = nodes.Select(n => n with { Available = n.Total }).ToList();
        return strategy switch
        {
            PlacementStrategy.StrictPack => StrictPack(bundles, asIfEmpty) is not null,
            PlacementStrategy.StrictSpread => Spread(bundles, asIfEmpty, strict: true) is not null,
            _ => Pack(bundles, asIfEmpty) is not null,
        };
    }

    private static NodeId[]? StrictPack(IReadOnlyList<ResourceSet> bundles, List<BundleNode> nodes)
    {
        var sum = bundles.Aggregate(ResourceSet.Empty, (a, b) => a.Add(b));
        var node = nodes.FirstOrDefault(n => sum.IsSubsetOf(n.Available));
        return node is null ? null : [.. Enumerable.Repeat(node.NodeId, bundles.Count)];
    }

    private static NodeId[]? Pack(IReadOnlyList<ResourceSet> bundles, List<BundleNode> nodes)
    {
        if (StrictPack(bundles, nodes) is { } one) return one;
        var free = nodes.ToDictionary(n => n.NodeId, n => n.Available);
        var count = nodes.ToDictionary(n => n.NodeId, _ => 0);
        var result = new NodeId[bundles.Count];
        // Largest bundles first, each on the fitting node that already holds most of the group.
        foreach (int i in Enumerable.Range(0, bundles.Count).OrderByDescending(i => Weight(bundles[i])))
        {
            var fits = nodes.Where(n => bundles[i].IsSubsetOf(free[n.NodeId])).ToList();
            if (fits.Count == 0) return null;
            // Ties (no bundle placed yet) go to the node with room for the most such bundles, so a group that fits two
            // nodes is not started on a small one.
            var chosen = fits.OrderByDescending(n => count[n.NodeId]).ThenByDescending(n => Copies(bundles[i], free[n.NodeId])).First();
            result[i] = chosen.NodeId;
            free[chosen.NodeId] = free[chosen.NodeId].Subtract(bundles[i]);
            count[chosen.NodeId]++;
        }
        return result;
    }

    private static NodeId[]? Spread(IReadOnlyList<ResourceSet> bundles, List<BundleNode> nodes, bool strict)
    {
        var free = nodes.ToDictionary(n => n.NodeId, n => n.Available);
        var used = new HashSet<NodeId>();
        var result = new NodeId[bundles.Count];
        int next = 0;
        foreach (int i in Enumerable.Range(0, bundles.Count).OrderByDescending(i => Weight(bundles[i])))
        {
            BundleNode? chosen = null;
            // Round robin from where the last bundle went: first the nodes holding none of the group yet.
            for (int k = 0; k < nodes.Count && chosen is null; k++)
            {
                var n = nodes[(next + k) % nodes.Count];
                if (!used.Contains(n.NodeId) && bundles[i].IsSubsetOf(free[n.NodeId])) { chosen = n; next = (next + k + 1) % nodes.Count; }
            }
            if (chosen is null && !strict)
                for (int k = 0; k < nodes.Count && chosen is null; k++)
                {
                    var n = nodes[(next + k) % nodes.Count];
                    if (bundles[i].IsSubsetOf(free[n.NodeId])) { chosen = n; next = (next + k + 1) % nodes.Count; }
                }
            if (chosen is null) return null;
            result[i] = chosen.NodeId;
            used.Add(chosen.NodeId);
            free[chosen.NodeId] = free[chosen.NodeId].Subtract(bundles[i]);
        }
        return result;
    }

    /// <summary>How many copies of <paramref name="bundle"/> fit in <paramref name="free"/>.</summary>
    private static double Copies(ResourceSet bundle, ResourceSet free) => bundle.Names.Min(n => Math.Floor(free[n] / bundle[n]));

    /// <summary>A bundle's size for ordering: the sum of its amounts (bigger bundles are placed first).</summary>
    private static double Weight(ResourceSet bundle) => bundle.Names.Sum(n => bundle[n]);
}

namespace RaySharp.Core.Raylet;

/// <summary>One node as the scheduler sees it: totals, and what is available (exact for the local node, the
/// last broadcast for the others).</summary>
internal sealed record SchedulingNode(NodeId NodeId, string Endpoint, ResourceSet Total, ResourceSet Available);

/// <summary>
/// Picks the node for a lease (Ray's <c>ClusterResourceScheduler</c> with its hybrid and spread policies). The
/// hybrid policy packs nodes in order — the local node first, then the others by node ID — while their critical
/// utilization stays under the spread threshold, then falls back to the least utilized node that fits.
/// </summary>
internal sealed class ClusterResourceScheduler
{
    private readonly double _spreadThreshold;
    private readonly Lock _spreadLock = new();
    private string? _lastSpread;

    public ClusterResourceScheduler(double spreadThreshold) => _spreadThreshold = spreadThreshold;

    /// <summary>The node to run on, or null when no node could ever fit the request (infeasible).</summary>
    /// <param name="nodes">Alive nodes, the local node first.</param>
    /// <param name="request">The resources that must fit.</param>
    /// <param name="spread">Use the spread policy (round robin) instead of the hybrid one.</param>
    public SchedulingNode? Choose(IReadOnlyList<SchedulingNode> nodes, ResourceSet request, bool spread)
    {
        var feasible = nodes.Where(n => request.IsSubsetOf(n.Total)).ToList();
        if (feasible.Count == 0) return null;
        var available = feasible.Where(n => request.IsSubsetOf(n.Available)).ToList();
        if (spread)
        {
            // Round robin in node-ID order over the nodes with room (all feasible nodes when none has room): the next
            // node after the last one chosen, so work submitted together lands on distinct nodes even as they fill up.
            var pool = (available.Count > 0 ? available : feasible).OrderBy(n => n.NodeId.ToString(), StringComparer.Ordinal).ToList();
            lock (_spreadLock)
            {
                var next = pool.FirstOrDefault(n => string.CompareOrdinal(n.NodeId.ToString(), _lastSpread) > 0) ?? pool[0];
                _lastSpread = next.NodeId.ToString();
                return next;
            }
        }
        if (available.Count == 0) return feasible[0].NodeId == nodes[0].NodeId ? feasible[0] : feasible.MinBy(Utilization);
        // Local node first, then remote nodes in node-ID order, while below the threshold.
        var local = available.FirstOrDefault(n => n.NodeId == nodes[0].NodeId);
        if (local is not null && Utilization(local) < _spreadThreshold) return local;
        foreach (var n in available.Where(n => n.NodeId != nodes[0].NodeId).OrderBy(n => n.NodeId.ToString(), StringComparer.Ordinal))
            if (Utilization(n) < _spreadThreshold) return n;
        return available.MinBy(n => Utilization(n, request));
    }

    private static double Utilization(SchedulingNode n) => Utilization(n, ResourceSet.Empty);

    /// <summary>Critical utilization, counting <paramref name="request"/> as placed: the highest used fraction over
    /// the node's resources.</summary>
    private static double Utilization(SchedulingNode n, ResourceSet request)
    {
        double max = 0;
        foreach (var name in n.Total.Names)
        {
            double total = n.Total[name];
            if (total <= 0 || name is ResourceSet.Memory or ResourceSet.ObjectStoreMemory) continue;
            double used = total - n.Available[name] + request[name];
            max = Math.Max(max, used / total);
        }
        return max;
    }
}

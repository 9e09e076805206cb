using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>
/// Placement-group bundles on this node (Ray's <c>PlacementGroupResourceManager</c>): the GCS reserves them in two
/// phases. Prepare takes the bundle's resources out of what is free here, usable by nothing; commit turns them into
/// bundle resources (<see cref="BundleResources"/>) that work scheduled into the group asks for. Cancel gives them
/// back; when the group was removed, the workers running in it here are stopped and requests for it are refused.
/// </summary>
internal sealed partial class NodeManager
{
    private sealed class BundleReservation(ResourceSet resources)
    {
        public ResourceSet Resources { get; } = resources;
        public bool Committed { get; set; }
    }

    /// <summary>How many removed groups a raylet remembers (work for them is refused); the oldest are forgotten first.</summary>
    private const int RemovedGroupsRemembered = 100_000;

    private readonly Dictionary<(PlacementGroupId Group, int Index), BundleReservation> _bundles = [];
    private readonly HashSet<PlacementGroupId> _removedGroups = [];
    private readonly Queue<PlacementGroupId> _removedOrder = new();

    /// <summary>Phase one: reserves the bundles' resources if all of them fit what is free now; false (nothing reserved)
    /// otherwise, or when the group was removed. Bundles prepared already (a retried request) count as prepared.</summary>
    public bool PrepareBundles(PlacementGroupId group, IReadOnlyList<(int Index, ResourceSet Resources)> bundles)
    {
        lock (_lock)
        {
            if (_disposed || _removedGroups.Contains(group)) return false;
            var fresh = bundles.DistinctBy(b => b.Index).Where(b => !_bundles.ContainsKey((group, b.Index))).ToList();
            var sum = fresh.Aggregate(ResourceSet.Empty, (a, b) => a.Add(b.Resources));
            if (!sum.IsSubsetOf(_available))
            {
                LogBundlesRefused(_logger, group, sum, _available);
                return false;
            }
            _available = _available.Subtract(sum);
            foreach (var (index, resources) in fresh) _bundles[(group, index)] = new BundleReservation(resources);
        }
        LogBundlesPrepared(_logger, bundles.Count, group);
        return true;
    }

    /// <summary>Phase two: the prepared bundles become bundle resources, and work waiting for them is granted.</summary>
    public void CommitBundles(PlacementGroupId group, IReadOnlyList<int> indices)
    {
        List<(PendingLease, WireLeaseReply)> replies;
        lock (_lock)
        {
            if (_disposed) return;
            // All or nothing: every bundle named must have been prepared here.
            foreach (int index in indices)
                if (!_bundles.ContainsKey((group, index)))
                    throw new InvalidOperationException($"Bundle {index} of placement group {group} was not prepared on node {NodeId}.");
            foreach (int index in indices.Distinct())
            {
                var bundle = _bundles[(group, index)];
                if (bundle.Committed) continue;
                bundle.Committed = true;
                var added = BundleResources.Committed(bundle.Resources, group, index);
                _total = _total.Add(added);
                _available = _available.Add(added);
            }
            replies = RescheduleQueuedLocked();
        }
        foreach (var (p, r) in replies) p.Reply.TrySetResult(r);
        LogBundlesCommitted(_logger, indices.Count, group);
    }

    /// <summary>Gives the bundles back (an aborted reservation, or a removed group). When committed bundles go, every
    /// worker leased in the group here is stopped first.</summary>
    public void CancelBundles(PlacementGroupId group, IReadOnlyList<int> indices, bool groupRemoved)
    {
        List<Lease> stopped = [];
        List<PendingLease> refused = [];
        lock (_lock)
        {
            if (groupRemoved) RememberRemovedLocked(group);
            var returned = ResourceSet.Empty;
            bool anyCommitted = false;
            foreach (int index in indices)
            {
                if (!_bundles.Remove((group, index), out var bundle)) continue;
                returned = returned.Add(bundle.Resources);
                anyCommitted |= bundle.Committed;
            }
            if (anyCommitted)
            {
                foreach (var lease in _leases.Values.Where(l => !BundleResources.OfGroup(l.Resources, group).IsEmpty).ToList())
                {
                    _leases.Remove(lease.Id);
                    stopped.Add(lease);
                }
                // Grants whose workers are still starting are void: they never run in the returned bundles.
                foreach (var (leaseId, p) in _granting)
                    if (!BundleResources.OfGroup(p.Resources, group).IsEmpty) _voidedGrants.Add(leaseId);
                // With no work left in the group here, its bundle resources are what its remaining bundles add, all free.
                _total = _total.Subtract(BundleResources.OfGroup(_total, group));
                _available = _available.Subtract(BundleResources.OfGroup(_available, group));
                foreach (var ((g, index), bundle) in _bundles)
                    if (g == group && bundle.Committed)
                    {
                        var added = BundleResources.Committed(bundle.Resources, group, index);
                        _total = _total.Add(added);
                        _available = _available.Add(added);
                    }
            }
            _available = _available.Add(returned);
            if (groupRemoved) refused = TakeQueuedOfGroupLocked(group);
            GrantQueuedLocked();
        }
        string reason = $"its placement group {group} was removed";
        foreach (var lease in stopped) Pool.Kill(lease.Worker, reason);
        foreach (var p in refused) p.Reply.TrySetResult(GroupRemoved(p));
        if (stopped.Count > 0) _logger.GroupWorkersStopped(group, stopped.Count);
    }

    /// <summary>The GCS says the group was removed (with the cluster view): requests queued for it fail.</summary>
    private void OnPlacementGroupRemoved(PlacementGroupId group)
    {
        List<PendingLease> refused;
        lock (_lock)
        {
            if (_removedGroups.Contains(group)) return;
            RememberRemovedLocked(group);
            refused = TakeQueuedOfGroupLocked(group);
        }
        foreach (var p in refused) p.Reply.TrySetResult(GroupRemoved(p));
    }

    private bool IsRemovedGroup(PlacementGroupId group)
    {
        lock (_lock) return _removedGroups.Contains(group);
    }

    private void RememberRemovedLocked(PlacementGroupId group)
    {
        if (!_removedGroups.Add(group)) return;
        _removedOrder.Enqueue(group);
        if (_removedOrder.Count > RemovedGroupsRemembered) _removedGroups.Remove(_removedOrder.Dequeue());
    }

    private List<PendingLease> TakeQueuedOfGroupLocked(PlacementGroupId group)
    {
        List<PendingLease> taken = [];
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Request.Strategy is { Kind: WireStrategyKind.PlacementGroup } s && s.PlacementGroup == group)
            {
                taken.Add(node.Value);
                _queue.Remove(node);
            }
            node = next;
        }
        return taken;
    }

    private static WireLeaseReply GroupRemoved(PendingLease p) => new()
    {
        Kind = LeaseReplyKind.Canceled, PlacementGroupRemoved = true,
        CancelMessage = $"{p.Request.Description} was scheduled into placement group {p.Request.Strategy.PlacementGroup}, which was removed.",
    };

    /// <summary>The node's own resources, bundle resources left out: totals, and what is free (never below zero).</summary>
    public (Dictionary<string, double> Total, Dictionary<string, double> Available) OwnResources()
    {
        lock (_lock)
            return (BundleResources.WithoutBundles(_total).ToWire(),
                BundleResources.WithoutBundles(_available).ToDictionary().ToDictionary(kv => kv.Key, kv => Math.Max(0, kv.Value)));
    }

    /// <summary>The bundles reserved here, for the node's stats.</summary>
    public int BundleCount
    {
        get { lock (_lock) return _bundles.Count; }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Prepared {Count} bundles of placement group {Group}")]
    private static partial void LogBundlesPrepared(ILogger logger, int count, PlacementGroupId group);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Committed {Count} bundles of placement group {Group}")]
    private static partial void LogBundlesCommitted(ILogger logger, int count, PlacementGroupId group);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused to prepare bundles of placement group {Group}: they need {Needed}, free is {Available}")]
    private static partial void LogBundlesRefused(ILogger logger, PlacementGroupId group, ResourceSet needed, ResourceSet available);
}

using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>
/// What the raylet tells the autoscaler, through its reports to the GCS (Ray's resource load and idle time in the
/// raylet's syncer messages), and how it is drained (Ray's <c>DrainRaylet</c>): the queued lease requests by shape, how
/// long the node has been idle, and a drain that, once accepted, sends new work elsewhere until the provider removes
/// the node.
/// </summary>
internal sealed partial class NodeManager
{
    /// <summary>The most distinct shapes one report carries (a real workload has a handful).</summary>
    internal const int MaxDemandShapes = 256;

    /// <summary>The requests queued here, counted by shape, kind and feasibility. Work scheduled into a placement group is
    /// left out: it waits for its group's bundles, which the GCS reports as the group's demand.</summary>
    private ResourceDemand[] DemandLocked()
    {
        if (_queue.Count == 0) return [];
        var counts = new Dictionary<(string Key, DemandKind Kind, bool Infeasible), (ResourceSet Shape, int Count)>();
        foreach (var p in _queue)
        {
            if (p.Request.Strategy.Kind == WireStrategyKind.PlacementGroup) continue;
            var key = (p.Placement.ToString(), p.Request.IsActorCreation ? DemandKind.Actor : DemandKind.Task, p.Infeasible);
            if (counts.TryGetValue(key, out var c)) counts[key] = (c.Shape, c.Count + 1);
            else if (counts.Count < MaxDemandShapes) counts[key] = (p.Placement, 1);
        }
        return [.. counts.Select(c => new ResourceDemand(c.Value.Shape.ToWire(), c.Value.Count, c.Key.Kind, c.Key.Infeasible))];
    }

    /// <summary>How long the node has been idle (0: it is busy now). Idle means no leases granted or being granted, no
    /// queued requests, no placement-group bundles and no primary copies of objects in its store: removing it then loses
    /// nothing (Ray's idle duration).</summary>
    private long IdleMsLocked(bool holdsPrimaryCopies)
    {
        long now = Environment.TickCount64;
        if (!IsIdleLocked() || holdsPrimaryCopies)
        {
            _busyAt = now;
            return 0;
        }
        return Math.Max(1, now - _busyAt);
    }

    private bool IsIdleLocked() => _leases.Count == 0 && _granting.Count == 0 && _queue.Count == 0 && _bundles.Count == 0;

    /// <summary>
    /// Drains the node (Ray's <c>DrainRaylet</c>): from now on it grants no new lease; requests that reach it go to
    /// another node. For <see cref="DrainReason.IdleTermination"/> the drain is refused when the node has work (it became
    /// busy after the autoscaler saw it idle); a preemption is always accepted. Idempotent.
    /// </summary>
    public DrainNodeReply Drain(DrainReason reason, string message)
    {
        bool holdsObjects = Objects?.Store.HoldsPrimaryCopies() ?? false;
        List<PendingLease> queued;
        lock (_lock)
        {
            if (_disposed) return new DrainNodeReply(false, $"node {NodeId} is shutting down");
            if (!_draining && reason == DrainReason.IdleTermination && (!IsIdleLocked() || holdsObjects))
                return new DrainNodeReply(false, $"node {NodeId} is not idle: {_leases.Count + _granting.Count} leases, {_queue.Count} queued requests, " +
                    $"{_bundles.Count} placement-group bundles" + (holdsObjects ? ", primary copies of objects" : ""));
            _draining = true;
            // Work queued here (a preemption of a busy node) is handed back: its requesters ask again, and their raylets
            // place it elsewhere once they hear of the drain.
            queued = [.. _queue];
            _queue.Clear();
        }
        foreach (var p in queued)
            p.Reply.TrySetResult(new WireLeaseReply { Kind = LeaseReplyKind.Rejected, CancelMessage = $"node {NodeId} is draining and takes no new work" });
        _logger.Draining(NodeId, reason, message);
        return new DrainNodeReply(true, null);
    }

    /// <summary>True once a drain was accepted.</summary>
    public bool IsDraining
    {
        get { lock (_lock) return _draining; }
    }

    /// <summary>A request that reached a draining node goes to another node that can take it (or, when none can yet, to
    /// one where it waits and counts as demand); one another raylet already sent here, or bound to this node, is
    /// rejected, so that the requester asks again and its raylet, which has heard of the drain by then, places it elsewhere.</summary>
    private WireLeaseReply DecideDraining(PendingLease p)
    {
        var strategy = p.Request.Strategy;
        bool boundHere = strategy.Kind == WireStrategyKind.NodeAffinity && !strategy.Soft && strategy.NodeId == NodeId;
        if (!p.Request.Spilled && !p.Request.GrantOrReject && !boundHere)
        {
            var others = NodesLocked();
            var chosen = others.Count == 0 ? null : _scheduler.Choose(others, p.Placement, strategy.Kind == WireStrategyKind.Spread) ?? others[0];
            if (chosen is not null)
                return new WireLeaseReply { Kind = LeaseReplyKind.Spillback, NodeId = chosen.NodeId, SpillbackEndpoint = chosen.Endpoint };
        }
        return new WireLeaseReply { Kind = LeaseReplyKind.Rejected, CancelMessage = $"node {NodeId} is draining and takes no new work" };
    }
}

using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Gcs;

/// <summary>A placement group's states (Ray's <c>PlacementGroupTableData.state</c>).</summary>
internal enum PlacementGroupState : byte { Pending, Prepared, Created, Removed, Rescheduling }

/// <summary>The raylets as the placement-group manager calls them: the two phases of reserving bundles on a node.</summary>
internal interface IBundleReservationClient
{
    /// <summary>Phase one: reserves the bundles' resources on the node, not usable yet; false when the node refuses
    /// (no room any more, or it is gone).</summary>
    Task<bool> PrepareBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<(int Index, ResourceSet Resources)> bundles, CancellationToken ct);

    /// <summary>Phase two: the prepared bundles become usable bundle resources.</summary>
    Task CommitBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, CancellationToken ct);

    /// <summary>Gives prepared or committed bundles back (an aborted reservation, or a removed group).</summary>
    Task CancelBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, CancellationToken ct);
}

/// <summary>A request to create a placement group.</summary>
internal sealed record PlacementGroupSpec(PlacementGroupId Id, IReadOnlyList<ResourceSet> Bundles, PlacementStrategy Strategy, string? Name,
    string Namespace, JobId JobId, PlacementGroupLifetime Lifetime);

/// <summary>What the manager knows of a group: its state, and the node of each bundle once placed.</summary>
internal sealed record PlacementGroupInfo(PlacementGroupSpec Spec, PlacementGroupState State, NodeId[] BundleNodes, bool Infeasible);

/// <summary>
/// Creates and removes placement groups (Ray's <c>GcsPlacementGroupManager</c>). A create stores the group and queues it;
/// groups are scheduled one at a time in arrival order (groups whose bundles were lost with a node first): the
/// <see cref="GcsPlacementGroupScheduler"/> picks nodes, every chosen raylet prepares its bundles, and only when all of
/// them have does every raylet commit; a refusal cancels what was prepared and the group waits for the next change in
/// the cluster (<see cref="ScheduleAsync"/>). A group no node set can hold stays pending, marked infeasible. Not wired
/// into the GCS and the raylets yet: the raylets' bundle resources come next.
/// </summary>
internal sealed class GcsPlacementGroupManager
{
    private sealed class Group(PlacementGroupSpec spec)
    {
        public PlacementGroupSpec Spec { get; } = spec;
        public PlacementGroupState State { get; set; } = PlacementGroupState.Pending;
        public NodeId[] BundleNodes { get; set; } = new NodeId[spec.Bundles.Count];
        public bool Infeasible { get; set; }
        public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<PlacementGroupId, Group> _groups = [];
    private readonly Dictionary<(string Namespace, string Name), PlacementGroupId> _names = [];
    private readonly LinkedList<PlacementGroupId> _pending = new();
    private readonly IBundleReservationClient _raylets;
    private readonly Func<IReadOnlyList<BundleNode>> _nodes;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _scheduling = new(1, 1);

    /// <param name="raylets">Prepares, commits and cancels bundles on the raylets.</param>
    /// <param name="nodes">The alive nodes with their total and free resources (the cluster view).</param>
    /// <param name="logger">The manager's log.</param>
    public GcsPlacementGroupManager(IBundleReservationClient raylets, Func<IReadOnlyList<BundleNode>> nodes, ILogger<GcsPlacementGroupManager> logger)
    {
        _raylets = raylets;
        _nodes = nodes;
        _logger = logger;
    }

    /// <summary>Stores and queues the group; throws <see cref="ArgumentException"/> when a live group has its name.</summary>
    public void Create(PlacementGroupSpec spec)
    {
        lock (_lock)
        {
            if (_groups.ContainsKey(spec.Id)) return; // a retried create
            if (spec.Name is { } name)
            {
                if (_names.TryGetValue((spec.Namespace, name), out var other))
                    throw new ArgumentException($"A placement group named '{name}' already exists in namespace '{spec.Namespace}' ({other}).");
                _names[(spec.Namespace, name)] = spec.Id;
            }
            _groups[spec.Id] = new Group(spec);
            _pending.AddLast(spec.Id);
        }
    }

    public PlacementGroupInfo? Get(PlacementGroupId id)
    {
        lock (_lock) return _groups.TryGetValue(id, out var g) ? Info(g) : null;
    }

    public PlacementGroupInfo? GetNamed(string name, string @namespace)
    {
        lock (_lock) return _names.TryGetValue((@namespace, name), out var id) ? Info(_groups[id]) : null;
    }

    public IReadOnlyList<PlacementGroupInfo> List()
    {
        lock (_lock) return [.. _groups.Values.Select(Info)];
    }

    private static PlacementGroupInfo Info(Group g) => new(g.Spec, g.State, [.. g.BundleNodes], g.Infeasible);

    /// <summary>Completes when the group is created; fails with <see cref="PlacementGroupSchedulingException"/> when it
    /// is removed first.</summary>
    public Task WhenReady(PlacementGroupId id)
    {
        lock (_lock)
            return _groups.TryGetValue(id, out var g) ? g.Ready.Task
                : Task.FromException(new PlacementGroupSchedulingException($"Placement group {id} does not exist."));
    }

    /// <summary>Tries to place every pending group, in order (called on create, and whenever nodes join or resources are
    /// freed). One pass at a time.</summary>
    public async Task ScheduleAsync(CancellationToken ct)
    {
        await _scheduling.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // In order (groups that lost bundles first); one that cannot be placed now does not hold back the others.
            List<Group> pending;
            lock (_lock) pending = [.. _pending.Select(id => _groups[id])];
            foreach (var group in pending) await TryPlaceAsync(group, ct).ConfigureAwait(false);
        }
        finally
        {
            _scheduling.Release();
        }
    }

    /// <summary>One attempt at placing <paramref name="group"/> (or its lost bundles): true when it is created.</summary>
    private async Task<bool> TryPlaceAsync(Group group, CancellationToken ct)
    {
        int[] missing;
        lock (_lock) missing = [.. Enumerable.Range(0, group.Spec.Bundles.Count).Where(i => group.BundleNodes[i].IsNil)];
        var bundles = missing.Select(i => group.Spec.Bundles[i]).ToList();
        var placement = GcsPlacementGroupScheduler.Schedule(bundles, group.Spec.Strategy, _nodes());
        if (placement.Kind != BundlePlacementKind.Placed)
        {
            bool infeasible = placement.Kind == BundlePlacementKind.Infeasible;
            lock (_lock)
            {
                if (infeasible && !group.Infeasible)
                    _logger.LogWarning("Placement group {Id} ({Strategy}, {Count} bundles) is infeasible on the current nodes: it waits for a node that fits",
                        group.Spec.Id, group.Spec.Strategy, group.Spec.Bundles.Count);
                group.Infeasible = infeasible;
            }
            return false;
        }
        var byNode = missing.Select((index, k) => (Index: index, Node: placement.Nodes[k], Resources: bundles[k])).GroupBy(b => b.Node).ToList();
        lock (_lock)
        {
            if (group.State == PlacementGroupState.Removed) return true;
            group.Infeasible = false;
            group.State = PlacementGroupState.Prepared;
        }
        // Phase one on every chosen node; all must succeed.
        var prepared = await Task.WhenAll(byNode.Select(async n =>
        {
            try
            {
                return (n.Key, Ok: await _raylets.PrepareBundlesAsync(n.Key, group.Spec.Id, [.. n.Select(b => (b.Index, b.Resources))], ct).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning(e, "Preparing bundles of placement group {Id} on node {NodeId} failed", group.Spec.Id, n.Key);
                return (n.Key, Ok: false);
            }
        })).ConfigureAwait(false);
        bool removed;
        lock (_lock) removed = group.State == PlacementGroupState.Removed;
        if (removed || prepared.Any(p => !p.Ok))
        {
            await CancelAsync(group.Spec.Id, byNode.Where(n => prepared.Any(p => p.Key == n.Key && p.Ok)).Select(n => (n.Key, n.Select(b => b.Index).ToList())), ct)
                .ConfigureAwait(false);
            lock (_lock)
                if (group.State != PlacementGroupState.Removed)
                    group.State = missing.Length == group.Spec.Bundles.Count ? PlacementGroupState.Pending : PlacementGroupState.Rescheduling;
            return removed;
        }
        // Phase two: every node prepared, so every node commits.
        await Task.WhenAll(byNode.Select(n => _raylets.CommitBundlesAsync(n.Key, group.Spec.Id, [.. n.Select(b => b.Index)], ct))).ConfigureAwait(false);
        lock (_lock)
        {
            if (group.State == PlacementGroupState.Removed) removed = true;
            else
            {
                foreach (var n in byNode)
                    foreach (var b in n) group.BundleNodes[b.Index] = n.Key;
                group.State = PlacementGroupState.Created;
                _pending.Remove(group.Spec.Id);
            }
        }
        if (removed)
        {
            await CancelAsync(group.Spec.Id, byNode.Select(n => (n.Key, n.Select(b => b.Index).ToList())), ct).ConfigureAwait(false);
            return true;
        }
        _logger.LogInformation("Placement group {Id} created on {Nodes} node(s)", group.Spec.Id, byNode.Count);
        group.Ready.TrySetResult();
        return true;
    }

    private async Task CancelAsync(PlacementGroupId id, IEnumerable<(NodeId Node, List<int> Indices)> reservations, CancellationToken ct)
    {
        foreach (var (node, indices) in reservations)
        {
            try
            {
                await _raylets.CancelBundlesAsync(node, id, indices, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A node that cannot be told is gone, and its reservation with it.
                _logger.LogWarning(e, "Returning the bundles of placement group {Id} on node {NodeId} failed", id, node);
            }
        }
    }

    /// <summary>Removes the group: its bundles are given back on every node and its waiters fail.</summary>
    public async Task RemoveAsync(PlacementGroupId id, CancellationToken ct)
    {
        Group? group;
        List<(NodeId, List<int>)> placed;
        lock (_lock)
        {
            if (!_groups.TryGetValue(id, out group) || group.State == PlacementGroupState.Removed) return;
            group.State = PlacementGroupState.Removed;
            _pending.Remove(id);
            if (group.Spec.Name is { } name) _names.Remove((group.Spec.Namespace, name));
            placed = [.. group.BundleNodes.Select((node, index) => (node, index)).Where(b => !b.node.IsNil).GroupBy(b => b.node)
                .Select(g => (g.Key, g.Select(b => b.index).ToList()))];
        }
        group.Ready.TrySetException(new PlacementGroupSchedulingException($"Placement group {id} was removed before it was created."));
        await CancelAsync(id, placed, ct).ConfigureAwait(false);
    }

    /// <summary>A node died: the bundles it held are lost, and their groups are placed again before any pending group.</summary>
    public void OnNodeDead(NodeId node)
    {
        lock (_lock)
            foreach (var g in _groups.Values.Where(g => g.State == PlacementGroupState.Created && g.BundleNodes.Contains(node)))
            {
                for (int i = 0; i < g.BundleNodes.Length; i++)
                    if (g.BundleNodes[i] == node) g.BundleNodes[i] = default;
                g.State = PlacementGroupState.Rescheduling;
                _pending.AddFirst(g.Spec.Id);
            }
    }

    /// <summary>The groups of a finished job go, but for detached ones.</summary>
    public async Task OnJobFinishedAsync(JobId job, CancellationToken ct)
    {
        List<PlacementGroupId> owned;
        lock (_lock)
            owned = [.. _groups.Values.Where(g => g.Spec.JobId == job && g.Spec.Lifetime != PlacementGroupLifetime.Detached &&
                g.State != PlacementGroupState.Removed).Select(g => g.Spec.Id)];
        foreach (var id in owned) await RemoveAsync(id, ct).ConfigureAwait(false);
    }
}

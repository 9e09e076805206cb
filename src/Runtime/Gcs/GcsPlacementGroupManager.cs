using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>The raylets as the placement-group manager calls them: the two phases of reserving bundles on a node.</summary>
internal interface IBundleReservationClient
{
    /// <summary>Phase one: reserves the bundles' resources on the node, not usable yet; false when the node refuses
    /// (no room any more, or it is gone).</summary>
    Task<bool> PrepareBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<(int Index, ResourceSet Resources)> bundles, CancellationToken ct);

    /// <summary>Phase two: the prepared bundles become usable bundle resources.</summary>
    Task CommitBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, CancellationToken ct);

    /// <summary>Gives prepared or committed bundles back (an aborted reservation, or, with <paramref name="groupRemoved"/>, a
    /// removed group: the raylet stops the work running in it).</summary>
    Task CancelBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, bool groupRemoved, CancellationToken ct);
}

/// <summary>A request to create a placement group; <c>CreatorActor</c> is the actor that created it, if an actor did (a
/// non-detached group goes when it dies).</summary>
internal sealed record PlacementGroupSpec(PlacementGroupId Id, IReadOnlyList<ResourceSet> Bundles, PlacementStrategy Strategy, string? Name,
    string Namespace, JobId JobId, PlacementGroupLifetime Lifetime, ActorId CreatorActor = default);

/// <summary>What the manager knows of a group: its state, and the node of each bundle once placed.</summary>
internal sealed record PlacementGroupInfo(PlacementGroupSpec Spec, PlacementGroupState State, NodeId[] BundleNodes, bool Infeasible,
    long CreateTimeMs = 0, long RemoveTimeMs = 0);

internal static class PlacementGroupWire
{
    public static PlacementGroupTableData ToWire(this PlacementGroupInfo g) => new()
    {
        Spec = new WirePlacementGroupSpec
        {
            Id = g.Spec.Id, Bundles = [.. g.Spec.Bundles.Select(b => b.ToWire())], Strategy = g.Spec.Strategy, Name = g.Spec.Name,
            Namespace = g.Spec.Namespace, JobId = g.Spec.JobId, Lifetime = g.Spec.Lifetime, CreatorActor = g.Spec.CreatorActor,
        },
        State = g.State, BundleNodes = g.BundleNodes, Infeasible = g.Infeasible, CreateTimeMs = g.CreateTimeMs, RemoveTimeMs = g.RemoveTimeMs,
    };
}

/// <summary>
/// Creates and removes placement groups (Ray's <c>GcsPlacementGroupManager</c>). A create stores the group and queues it;
/// groups are scheduled one at a time in arrival order (groups whose bundles were lost with a node first): the
/// <see cref="GcsPlacementGroupScheduler"/> picks nodes, every chosen raylet prepares its bundles, and only when all of
/// them have does every raylet commit; a refusal cancels what was prepared and the group waits for the next change in
/// the cluster (<see cref="ScheduleAsync"/>). A group no node set can hold stays pending, marked infeasible. Passes run
/// on a loop of their own (<see cref="Start"/>), woken by <see cref="Kick"/>: on a create, a removal, a node joining or
/// dying, a finished job, and every resource report while groups wait.
/// </summary>
internal sealed class GcsPlacementGroupManager : IDisposable
{
    private sealed class Group(PlacementGroupSpec spec)
    {
        public PlacementGroupSpec Spec { get; } = spec;
        public PlacementGroupState State { get; set; } = PlacementGroupState.Pending;
        public NodeId[] BundleNodes { get; set; } = new NodeId[spec.Bundles.Count];
        public bool Infeasible { get; set; }
        public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long CreateTimeMs { get; init; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        public long RemoveTimeMs { get; set; }
    }

    /// <summary>How many removals the GCS keeps for raylets that have not heard of them yet (one that falls further
    /// behind hears of the most recent ones, and of the others when the bundles it holds are returned).</summary>
    private const int RemovalsKept = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<PlacementGroupId, Group> _groups = [];
    private readonly Dictionary<(string Namespace, string Name), PlacementGroupId> _names = [];
    private readonly LinkedList<PlacementGroupId> _pending = new();
    private readonly IBundleReservationClient _raylets;
    private readonly Func<IReadOnlyList<BundleNode>> _nodes;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _scheduling = new(1, 1);
    private readonly System.Threading.Channels.Channel<bool> _kicks =
        System.Threading.Channels.Channel.CreateBounded<bool>(new System.Threading.Channels.BoundedChannelOptions(1)
            { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Queue<(long Seq, PlacementGroupId Id)> _removals = new();
    private long _removalSeq;
    private readonly Queue<PlacementGroupId> _removedOrder = new();

    /// <summary>How many removed groups stay listed (for the state API and the CLI); older ones are forgotten.</summary>
    internal const int RemovedGroupsKept = 1000;
    private Task? _loop;

    /// <summary>A group was removed: the GCS kills the actors scheduled into it (with the reason) before its bundles go.</summary>
    public event Action<PlacementGroupId, string>? GroupRemoved;

    /// <param name="raylets">Prepares, commits and cancels bundles on the raylets.</param>
    /// <param name="nodes">The alive nodes with their total and free resources (the cluster view).</param>
    /// <param name="logger">The manager's log.</param>
    /// <param name="storage">The GCS's tables, where every change of a group's state is written (none: kept in memory only).</param>
    public GcsPlacementGroupManager(IBundleReservationClient raylets, Func<IReadOnlyList<BundleNode>> nodes, ILogger<GcsPlacementGroupManager> logger,
        IGcsTableStorage? storage = null)
    {
        _raylets = raylets;
        _nodes = nodes;
        _logger = logger;
        _storage = storage;
    }

    private readonly IGcsTableStorage? _storage;

    /// <summary>Writes the group's row as it is now (called under the lock, after each change).</summary>
    private void PersistLocked(Group g) => _storage?.PutPlacementGroup(Info(g).ToWire());

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
            var group = new Group(spec);
            _groups[spec.Id] = group;
            _pending.AddLast(spec.Id);
            PersistLocked(group);
        }
        _logger.PlacementGroupQueued(spec.Id, spec.Strategy, spec.Bundles.Count, spec.Name is null ? "" : $", named '{spec.Name}'", spec.JobId);
        Kick();
    }

    /// <summary>A restarted GCS reads its groups back from the storage: created groups keep their bundles (the raylets
    /// still hold them), groups that were being placed are queued again (those that lost bundles first), removed ones
    /// stay listed. Called before <see cref="Start"/>.</summary>
    public int Reload()
    {
        if (_storage is null) return 0;
        var rows = _storage.GetPlacementGroups();
        lock (_lock)
        {
            foreach (var row in rows)
            {
                var w = row.Spec;
                var spec = new PlacementGroupSpec(w.Id, [.. w.Bundles.Select(b => b.FromWire())], w.Strategy, w.Name, w.Namespace, w.JobId, w.Lifetime,
                    w.CreatorActor);
                // A group caught between prepare and commit is placed again (Ray's GCS does the same after a restart).
                var state = row.State == PlacementGroupState.Prepared ? PlacementGroupState.Pending : row.State;
                var group = new Group(spec)
                {
                    State = state, BundleNodes = row.BundleNodes.Length == spec.Bundles.Count ? row.BundleNodes : new NodeId[spec.Bundles.Count],
                    Infeasible = row.Infeasible, CreateTimeMs = row.CreateTimeMs, RemoveTimeMs = row.RemoveTimeMs,
                };
                _groups[w.Id] = group;
                switch (state)
                {
                    case PlacementGroupState.Created:
                        group.Ready.TrySetResult();
                        break;
                    case PlacementGroupState.Rescheduling:
                        _pending.AddFirst(w.Id);
                        break;
                    case PlacementGroupState.Pending:
                        _pending.AddLast(w.Id);
                        break;
                    case PlacementGroupState.Removed:
                        _removedOrder.Enqueue(w.Id);
                        break;
                }
                if (state != PlacementGroupState.Removed && w.Name is { } name) _names[(w.Namespace, name)] = w.Id;
            }
        }
        Kick();
        return rows.Count;
    }

    /// <summary>Starts the scheduling loop.</summary>
    public void Start() => _loop ??= Task.Run(LoopAsync);

    /// <summary>Asks for a scheduling pass (one is queued at most).</summary>
    public void Kick() => _kicks.Writer.TryWrite(true);

    /// <summary>True while some group waits to be placed.</summary>
    public bool HasPending
    {
        get { lock (_lock) return _pending.Count > 0; }
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await _kicks.Reader.ReadAsync(_stopping.Token).ConfigureAwait(false);
                await ScheduleAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // One failed pass must not stop placement: the next kick runs another.
                _logger.PlacementPassFailed(e);
            }
        }
    }

    /// <summary>The groups removed after removal number <paramref name="seen"/> (what a raylet last heard of), and the
    /// number of the last removal: raylets refuse work queued for them.</summary>
    public (PlacementGroupId[] Removed, long Seq) RemovedSince(long seen)
    {
        lock (_lock)
        {
            if (_removalSeq <= seen || _removals.Count == 0) return ([], _removalSeq);
            return ([.. _removals.Where(r => r.Seq > seen).Select(r => r.Id)], _removalSeq);
        }
    }

    /// <summary>The groups waiting to be placed, with the bundles they have not placed yet: the autoscaler's demand.</summary>
    public IReadOnlyList<PendingBundles> PendingBundles()
    {
        lock (_lock)
            return [.. _pending.Select(id => _groups[id]).Where(g => g.State is PlacementGroupState.Pending or PlacementGroupState.Rescheduling)
                .Select(g => new PendingBundles(g.Spec.Id, g.Spec.Strategy,
                    [.. g.Spec.Bundles.Where((_, i) => g.BundleNodes[i].IsNil).Select(b => b.ToWire())], g.Infeasible))
                .Where(p => p.Bundles.Length > 0)];
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

    private static PlacementGroupInfo Info(Group g) => new(g.Spec, g.State, [.. g.BundleNodes], g.Infeasible, g.CreateTimeMs, g.RemoveTimeMs);

    /// <summary>Completes when the group is created; fails with <see cref="PlacementGroupSchedulingException"/> when it
    /// is removed (before or after it was created).</summary>
    public Task WhenReady(PlacementGroupId id)
    {
        lock (_lock)
            return !_groups.TryGetValue(id, out var g) ? Task.FromException(new PlacementGroupSchedulingException($"Placement group {id} does not exist."))
                : g.State == PlacementGroupState.Removed ? Task.FromException(new PlacementGroupSchedulingException($"Placement group {id} was removed."))
                : g.Ready.Task;
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
        var nodes = _nodes();
        if (group.Spec.Strategy == PlacementStrategy.StrictSpread && missing.Length < group.Spec.Bundles.Count)
        {
            // Bundles lost with a node go to nodes that hold none of the group's others.
            HashSet<NodeId> holding;
            lock (_lock) holding = [.. group.BundleNodes.Where(n => !n.IsNil)];
            nodes = [.. nodes.Where(n => !holding.Contains(n.NodeId))];
        }
        var placement = GcsPlacementGroupScheduler.Schedule(bundles, group.Spec.Strategy, nodes);
        if (placement.Kind != BundlePlacementKind.Placed)
        {
            bool infeasible = placement.Kind == BundlePlacementKind.Infeasible;
            lock (_lock)
            {
                if (infeasible && !group.Infeasible)
                    _logger.PlacementGroupInfeasible(group.Spec.Id, group.Spec.Strategy, group.Spec.Bundles.Count);
                if (group.Infeasible != infeasible)
                {
                    group.Infeasible = infeasible;
                    PersistLocked(group);
                }
            }
            return false;
        }
        var byNode = missing.Select((index, k) => (Index: index, Node: placement.Nodes[k], Resources: bundles[k])).GroupBy(b => b.Node).ToList();
        lock (_lock)
        {
            if (group.State == PlacementGroupState.Removed) return true;
            group.Infeasible = false;
            group.State = PlacementGroupState.Prepared;
            PersistLocked(group);
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
                _logger.PrepareBundlesFailed(e, group.Spec.Id, n.Key);
                return (n.Key, Ok: false);
            }
        })).ConfigureAwait(false);
        bool removed;
        lock (_lock) removed = group.State == PlacementGroupState.Removed;
        if (removed || prepared.Any(p => !p.Ok))
        {
            await CancelAsync(group.Spec.Id, byNode.Where(n => prepared.Any(p => p.Key == n.Key && p.Ok)).Select(n => (n.Key, n.Select(b => b.Index).ToList())),
                groupRemoved: removed, ct).ConfigureAwait(false);
            lock (_lock)
                if (group.State != PlacementGroupState.Removed)
                {
                    group.State = missing.Length == group.Spec.Bundles.Count ? PlacementGroupState.Pending : PlacementGroupState.Rescheduling;
                    PersistLocked(group);
                }
            return removed;
        }
        // Phase two: every node prepared, so every node commits. A node that dies in between fails the commit: what was
        // reserved is returned everywhere and the group waits for the next pass.
        try
        {
            await Task.WhenAll(byNode.Select(n => _raylets.CommitBundlesAsync(n.Key, group.Spec.Id, [.. n.Select(b => b.Index)], ct))).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.CommitBundlesFailed(e, group.Spec.Id);
            await CancelAsync(group.Spec.Id, byNode.Select(n => (n.Key, n.Select(b => b.Index).ToList())), groupRemoved: false, ct).ConfigureAwait(false);
            lock (_lock)
                if (group.State != PlacementGroupState.Removed)
                {
                    group.State = missing.Length == group.Spec.Bundles.Count ? PlacementGroupState.Pending : PlacementGroupState.Rescheduling;
                    PersistLocked(group);
                }
            return false;
        }
        lock (_lock)
        {
            if (group.State == PlacementGroupState.Removed) removed = true;
            else
            {
                foreach (var n in byNode)
                    foreach (var b in n) group.BundleNodes[b.Index] = n.Key;
                group.State = PlacementGroupState.Created;
                _pending.Remove(group.Spec.Id);
                PersistLocked(group);
            }
        }
        if (removed)
        {
            await CancelAsync(group.Spec.Id, byNode.Select(n => (n.Key, n.Select(b => b.Index).ToList())), groupRemoved: true, ct).ConfigureAwait(false);
            return true;
        }
        _logger.PlacementGroupCreated(group.Spec.Id, byNode.Count);
        group.Ready.TrySetResult();
        return true;
    }

    private async Task CancelAsync(PlacementGroupId id, IEnumerable<(NodeId Node, List<int> Indices)> reservations, bool groupRemoved, CancellationToken ct)
    {
        foreach (var (node, indices) in reservations)
        {
            try
            {
                await _raylets.CancelBundlesAsync(node, id, indices, groupRemoved, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A node that cannot be told is gone, and its reservation with it.
                _logger.ReturnBundlesFailed(e, id, node);
            }
        }
    }

    /// <summary>Removes the group: the actors in it die (<see cref="GroupRemoved"/>), its bundles are given back on
    /// every node (the raylets stop the tasks running in them) and its waiters fail. False when there was no such group.</summary>
    public async Task<bool> RemoveAsync(PlacementGroupId id, CancellationToken ct, string? why = null)
    {
        Group? group;
        List<(NodeId, List<int>)> placed;
        lock (_lock)
        {
            if (!_groups.TryGetValue(id, out group)) return false;
            if (group.State == PlacementGroupState.Removed) return true;
            group.State = PlacementGroupState.Removed;
            group.Infeasible = false;
            group.RemoveTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _removals.Enqueue((++_removalSeq, id));
            if (_removals.Count > RemovalsKept) _removals.Dequeue();
            _pending.Remove(id);
            _removedOrder.Enqueue(id);
            PersistLocked(group);
            while (_removedOrder.Count > RemovedGroupsKept)
            {
                var forgotten = _removedOrder.Dequeue();
                _groups.Remove(forgotten);
                _storage?.DeletePlacementGroup(forgotten);
            }
            if (group.Spec.Name is { } name) _names.Remove((group.Spec.Namespace, name));
            placed = [.. group.BundleNodes.Select((node, index) => (node, index)).Where(b => !b.node.IsNil).GroupBy(b => b.node)
                .Select(g => (g.Key, g.Select(b => b.index).ToList()))];
        }
        string reason = $"its placement group {id} was removed{(why is null ? "" : $" ({why})")}";
        _logger.PlacementGroupRemoved(id, why is null ? "" : $": {why}");
        group.Ready.TrySetException(new PlacementGroupSchedulingException($"Placement group {id} was removed before it was created."));
        try
        {
            GroupRemoved?.Invoke(id, reason);
        }
        catch (Exception e)
        {
            _logger.StoppingGroupActorsFailed(e, id);
        }
        await CancelAsync(id, placed, groupRemoved: true, ct).ConfigureAwait(false);
        Kick();
        return true;
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
                PersistLocked(g);
                _logger.BundlesLost(g.Spec.Id, node);
            }
        Kick();
    }

    /// <summary>A finished job's groups go, but for detached ones (in the background).</summary>
    public void OnJobFinished(JobId job) => _ = InBackgroundAsync(ct => OnJobFinishedAsync(job, ct), $"Removing the placement groups of finished job {job}");

    /// <summary>An actor died for good: the non-detached groups it created go with it (in the background).</summary>
    public void OnActorDead(ActorId actor)
    {
        List<PlacementGroupId> owned;
        lock (_lock)
            owned = [.. _groups.Values.Where(g => g.Spec.CreatorActor == actor && !actor.IsNil && g.Spec.Lifetime != PlacementGroupLifetime.Detached &&
                g.State != PlacementGroupState.Removed).Select(g => g.Spec.Id)];
        foreach (var id in owned)
            _ = InBackgroundAsync(ct => RemoveAsync(id, ct, $"actor {actor}, which created it, died"), $"Removing placement group {id}");
    }

    private async Task InBackgroundAsync(Func<CancellationToken, Task> work, string what)
    {
        try
        {
            await work(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.BackgroundWorkFailed(e, what);
        }
    }

    /// <summary>The groups of a finished job go, but for detached ones.</summary>
    public async Task OnJobFinishedAsync(JobId job, CancellationToken ct)
    {
        List<PlacementGroupId> owned;
        lock (_lock)
            owned = [.. _groups.Values.Where(g => g.Spec.JobId == job && g.Spec.Lifetime != PlacementGroupLifetime.Detached &&
                g.State != PlacementGroupState.Removed).Select(g => g.Spec.Id)];
        foreach (var id in owned) await RemoveAsync(id, ct, $"job {job}, which created it, finished").ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _kicks.Writer.TryComplete();
    }
}

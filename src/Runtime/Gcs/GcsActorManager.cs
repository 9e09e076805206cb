using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>
/// The actor table and its lifecycle (Ray's <c>GcsActorManager</c> + <c>GcsActorScheduler</c>): registration with
/// named-actor uniqueness per namespace, creation through the raylets' lease protocol, restarts up to
/// MaxRestarts when the actor's worker or node dies, death when its owner or job goes away (unless detached),
/// and publication of every state change to the handle holders that subscribe.
/// </summary>
internal sealed class GcsActorManager : IDisposable
{
    private sealed class ActorRecord(WireTaskSpec creationTask)
    {
        public WireTaskSpec CreationTask { get; set; } = creationTask;
        public WireActorCreation Spec => CreationTask.ActorCreation!;
        public ActorLifecycleState State { get; set; } = ActorLifecycleState.PendingCreation;
        public bool CreateRequested { get; set; }
        public int NumRestarts { get; set; }
        public Address? Worker { get; set; }
        public NodeId NodeId { get; set; }
        public string? LeaseRaylet { get; set; }
        public long LeaseId { get; set; }
        public RayErrorInfo? DeathCause { get; set; }
        public List<Action<ActorInfo>> Subscribers { get; } = [];

        /// <summary>Creation attempts whose worker died before the constructor ran.</summary>
        public int FailedCreations { get; set; }
        public CancellationTokenSource Scheduling { get; set; } = new();
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<ActorId, ActorRecord> _actors = [];
    private readonly Dictionary<(string Namespace, string Name), ActorId> _named = [];
    private readonly Func<NodeId, string?> _rayletFor;
    private readonly IGcsTableStorage _storage;
    private readonly IRayletClientPool _raylets;
    private readonly ICoreWorkerClientPool _workers;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="rayletFor">The endpoint of the raylet to start scheduling at: the given node's if it is alive,
    /// else any alive node's; null when no node is alive.</param>
    /// <param name="storage">Where actor records are kept.</param>
    /// <param name="raylets">Leases workers for creation tasks.</param>
    /// <param name="workers">Pushes creation tasks and exits.</param>
    /// <param name="logger">The GCS's log.</param>
    public GcsActorManager(Func<NodeId, string?> rayletFor, IGcsTableStorage storage, IRayletClientPool raylets, ICoreWorkerClientPool workers,
        ILogger<GcsActorManager> logger)
    {
        _rayletFor = rayletFor;
        _storage = storage;
        _raylets = raylets;
        _workers = workers;
        _logger = logger;
    }

    public RegisterActorReply Register(WireTaskSpec creationTask, bool getIfExists)
    {
        var spec = creationTask.ActorCreation ?? throw new ArgumentException("RegisterActor needs an actor creation task.");
        lock (_lock)
        {
            if (_actors.ContainsKey(spec.ActorId)) return new RegisterActorReply(spec.ActorId, null);
            if (spec.Name is { } name)
            {
                if (_named.TryGetValue((spec.Namespace, name), out var existing))
                {
                    if (getIfExists) return new RegisterActorReply(existing, null);
                    return new RegisterActorReply(default,
                        $"An actor named '{name}' already exists in namespace '{spec.Namespace}' (actor {existing}). " +
                        "Use another name, kill the existing actor first, or set ActorOptions.GetIfExists to reuse it.");
                }
                _named[(spec.Namespace, name)] = spec.ActorId;
            }
            var record = new ActorRecord(creationTask);
            _actors[spec.ActorId] = record;
            Persist(record);
        }
        return new RegisterActorReply(spec.ActorId, null);
    }

    /// <summary>The owner resolved the constructor's arguments: schedule the creation task.</summary>
    public void Create(WireTaskSpec resolved)
    {
        ActorRecord? record;
        lock (_lock)
        {
            if (!_actors.TryGetValue(resolved.ActorId, out record) || record.CreateRequested || record.State == ActorLifecycleState.Dead) return;
            record.CreationTask = resolved;
            record.CreateRequested = true;
            Persist(record); // a restarted GCS schedules it again
        }
        _ = ScheduleAsync(record);
    }

    private async Task ScheduleAsync(ActorRecord record)
    {
        var task = record.CreationTask;
        var spec = record.Spec;
        var ct = CancellationTokenSource.CreateLinkedTokenSource(record.Scheduling.Token, _stopping.Token).Token;
        try
        {
            var resources = task.Resources ?? [];
            Dictionary<string, double>? placement = null;
            if (spec.UsesDefaultCpus)
            {
                // An actor needs a CPU to be placed (none to run): in a placement group, a CPU of its bundle.
                placement = new Dictionary<string, double>(resources);
                foreach (var (cpu, amount) in task.Strategy is { Kind: WireStrategyKind.PlacementGroup } pg
                    ? BundleResources.ForBundle(ResourceSet.Of((ResourceSet.Cpu, 1)), pg.PlacementGroup, pg.BundleIndex).ToDictionary()
                    : new Dictionary<string, double> { [ResourceSet.Cpu] = 1 })
                    placement[cpu] = placement.GetValueOrDefault(cpu) + amount;
            }
            var request = new WireLeaseRequest
            {
                JobId = task.JobId,
                Resources = resources,
                PlacementResources = placement,
                Strategy = task.Strategy,
                RuntimeEnvKey = WireFormat.RuntimeEnvKey(task.EnvVars, task.WorkingDir),
                EnvVars = task.EnvVars,
                WorkingDirUri = Packaging.WorkingDirPackage.IsUri(task.WorkingDir) ? task.WorkingDir : null,
                IsActorCreation = true,
                GcsIncarnation = Incarnation,
                Description = $"Actor {spec.ClassName}",
            };
            var (lease, raylet) = await LeaseAsync(task, spec, request, ct).ConfigureAwait(false);
            int attempt;
            lock (_lock)
            {
                record.LeaseRaylet = raylet;
                record.LeaseId = lease.LeaseId;
                record.Worker = lease.Worker;
                record.NodeId = lease.NodeId;
                attempt = record.NumRestarts;
            }
            if (record.State == ActorLifecycleState.Dead)
            {
                ReleaseLease(record);
                return;
            }
            var reply = await _workers.PushCreationTaskAsync(lease.Worker!, task with { AttemptNumber = attempt }, lease.LeaseId, lease.Resources ?? resources)
                .ConfigureAwait(false);
            if (reply.Error is { } error)
            {
                if (error.Kind == ErrorKind.WorkerCrashed)
                {
                    // The leased worker died before the constructor could run (it was killed, or it had died idle and the
                    // raylet had not seen it yet): the actor never started, so it is scheduled again without spending a
                    // restart, a few times at most.
                    bool again;
                    lock (_lock)
                    {
                        again = record.State != ActorLifecycleState.Dead && record.FailedCreations++ < MaxFailedCreations;
                    }
                    if (again)
                    {
                        ReleaseLease(record);
                        _logger.ActorWorkerDiedBeforeConstructor(spec.ActorId, spec.ClassName, error.Message);
                        _ = ScheduleAsync(record);
                        return;
                    }
                    OnWorkerDied(lease.Worker!.WorkerId, error.Message);
                    return;
                }
                // Ray does not restart an actor whose constructor threw.
                string cause = error.Kind == ErrorKind.TaskException
                    ? $"its constructor threw {error.TypeChain.FirstOrDefault()}: {error.RemoteMessage}"
                    : error.Message;
                MarkDead(record, RayErrorInfo.ActorDied(spec.ActorId, cause));
                return;
            }
            Publish(record, ActorLifecycleState.Alive);
        }
        catch (OperationCanceledException)
        {
            // Killed or shut down while being scheduled: MarkDead already ran.
        }
        catch (ActorUnschedulableException e)
        {
            MarkDead(record, new RayErrorInfo { Kind = ErrorKind.ActorUnschedulable, Message = e.Message, ActorId = spec.ActorId });
        }
        catch (PlacementGroupSchedulingException e)
        {
            MarkDead(record, RayErrorInfo.ActorDied(spec.ActorId, e.Message));
        }
        catch (Exception e)
        {
            MarkDead(record, RayErrorInfo.ActorDied(spec.ActorId, $"it could not be scheduled: {(e is RayletUnreachableException ? e.Message : RpcErrors.Describe(e))}"));
        }
    }

    /// <summary>How long the scheduling of an actor keeps asking again when the raylet a request was sent on to does
    /// not answer (a node that just died, which the raylets still believe alive until they hear of its death).</summary>
    internal static TimeSpan UnreachableRayletGrace { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How many times in a row a raylet may reject an actor's lease (its worker died before registering) before
    /// the actor is given up as unable to start.</summary>
    internal const int MaxRejectedLeases = 5;

    /// <summary>How many times an actor whose leased worker died before its constructor ran is scheduled again.</summary>
    internal const int MaxFailedCreations = 3;

    private async Task<(WireLeaseReply Reply, string RayletEndpoint)> LeaseAsync(WireTaskSpec task, WireActorCreation spec, WireLeaseRequest request,
        CancellationToken ct)
    {
        long deadline = Environment.TickCount64 + (long)UnreachableRayletGrace.TotalMilliseconds;
        var backoff = TimeSpan.FromMilliseconds(100);
        int rejected = 0;
        while (true)
        {
            string start = _rayletFor(task.Strategy.Kind == WireStrategyKind.NodeAffinity ? task.Strategy.NodeId : task.Owner.NodeId)
                ?? throw new ActorUnschedulableException($"Actor {spec.ClassName} cannot be scheduled: the cluster has no alive node.");
            try
            {
                return await _raylets.RequestWorkerLeaseAsync(start, request, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RayletUnreachableException && Environment.TickCount64 < deadline
                || e is LeaseRejectedException && ++rejected <= MaxRejectedLeases)
            {
                _logger.ActorSchedulingRetry(spec.ActorId, spec.ClassName, e.Message, backoff.TotalMilliseconds);
                await Task.Delay(backoff, ct).ConfigureAwait(false);
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 2000));
            }
        }
    }

    private void Publish(ActorRecord record, ActorLifecycleState state)
    {
        ActorInfo update;
        Action<ActorInfo>[] subscribers;
        lock (_lock)
        {
            if (record.State == ActorLifecycleState.Dead) return;
            record.State = state;
            update = Snapshot(record);
            subscribers = [.. record.Subscribers];
            Persist(record);
            // Delivered under the lock (subscribers only queue the update), so they see updates in order.
            Deliver(subscribers, update);
        }
    }

    /// <summary>One subscriber that throws must not keep the update from the others, nor the state change from
    /// completing.</summary>
    private void Deliver(Action<ActorInfo>[] subscribers, ActorInfo update)
    {
        foreach (var s in subscribers)
        {
            try
            {
                s(update);
            }
            catch (Exception e)
            {
                _logger.ActorSubscriberFailed(e, update.ActorId);
            }
        }
    }

    private static ActorInfo Snapshot(ActorRecord r) => new()
    {
        ActorId = r.Spec.ActorId,
        Creation = r.Spec,
        State = r.State,
        Worker = r.State == ActorLifecycleState.Alive ? r.Worker : null,
        Owner = r.CreationTask.Owner,
        JobId = r.CreationTask.JobId,
        NumRestarts = r.NumRestarts,
        DeathCause = r.DeathCause,
        NodeId = r.NodeId,
        CreateRequested = r.CreateRequested,
        LeaseId = r.State == ActorLifecycleState.Alive ? r.LeaseId : 0,
    };

    private void Persist(ActorRecord r) => _storage.PutActor(Snapshot(r), r.CreationTask);

    /// <summary>This GCS process among those that ran the cluster: set on its actor leases, so a later one can tell
    /// them from its own.</summary>
    public long Incarnation { get; } = Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>After a restart: tells the node's raylet which actor workers this GCS knows there, so that it stops the
    /// ones an earlier GCS leased for actors it never recorded (Ray's <c>ReleaseUnusedActorWorkers</c>). Retried while
    /// the node lives and does not answer (its raylet may be reconnecting too), for a minute at most.</summary>
    public async Task ReleaseUnusedActorWorkersAsync(NodeId node, Func<NodeId, string?> rayletOf)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (rayletOf(node) is { } endpoint)
        {
            WorkerId[] inUse;
            lock (_lock)
                inUse = [.. _actors.Values.Where(a => a.NodeId == node && a.Worker is not null).Select(a => a.Worker!.WorkerId)];
            try
            {
                int released = await _raylets.ReleaseUnusedActorWorkersAsync(endpoint, new ReleaseUnusedActorWorkersRequest(Incarnation, inUse),
                    CancellationToken.None).ConfigureAwait(false);
                if (released > 0) _logger.UnusedActorWorkersStopped(node, released);
                return;
            }
            catch (Exception e) when (DateTime.UtcNow < deadline)
            {
                _logger.ActorWorkerListNotTakenYet(e, node);
            }
            catch (Exception e)
            {
                _logger.ActorWorkerListNotTaken(e, node);
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
    }

    /// <summary>A restarted GCS reads the actor table back from its storage (after the node table): alive actors stay
    /// alive on their workers (which kept running), with their names; actors that were being created or restarted are
    /// scheduled again.</summary>
    /// <param name="rayletOf">The raylet endpoint of an alive node (where an alive actor's lease is returned).</param>
    public int Reload(Func<NodeId, string?> rayletOf)
    {
        var rows = _storage.GetActors();
        List<ActorRecord> reschedule = [];
        lock (_lock)
        {
            foreach (var (info, task) in rows)
            {
                if (task.ActorCreation is null) continue;
                var record = new ActorRecord(task)
                {
                    State = info.State, NumRestarts = info.NumRestarts, DeathCause = info.DeathCause, NodeId = info.NodeId,
                    CreateRequested = info.CreateRequested || info.State is ActorLifecycleState.Alive or ActorLifecycleState.Restarting,
                };
                if (info.State == ActorLifecycleState.Alive)
                {
                    record.Worker = info.Worker;
                    record.LeaseId = info.LeaseId;
                    record.LeaseRaylet = rayletOf(info.NodeId);
                }
                _actors[info.ActorId] = record;
                if (info.State != ActorLifecycleState.Dead && record.Spec.Name is { } name) _named[(record.Spec.Namespace, name)] = info.ActorId;
                if (info.State == ActorLifecycleState.Restarting || (info.State == ActorLifecycleState.PendingCreation && record.CreateRequested))
                    reschedule.Add(record);
            }
        }
        foreach (var r in reschedule) _ = ScheduleAsync(r);
        return rows.Count;
    }

    public ActorInfo? GetNamed(string name, string @namespace)
    {
        lock (_lock)
            return _named.TryGetValue((@namespace, name), out var id) && _actors.TryGetValue(id, out var r) ? Snapshot(r) : null;
    }

    public ActorInfo? Get(ActorId id)
    {
        lock (_lock) return _actors.TryGetValue(id, out var r) ? Snapshot(r) : null;
    }

    /// <summary>Actors by state (<c>raysharp.actors</c>).</summary>
    public IEnumerable<System.Diagnostics.Metrics.Measurement<long>> Measurements()
    {
        var counts = new long[Enum.GetValues<ActorLifecycleState>().Length];
        lock (_lock)
            foreach (var r in _actors.Values) counts[(int)r.State]++;
        return
        [
            new(counts[(int)ActorLifecycleState.PendingCreation], Stats.RayMetrics.StateTag("pending_creation")),
            new(counts[(int)ActorLifecycleState.Alive], Stats.RayMetrics.StateTag("alive")),
            new(counts[(int)ActorLifecycleState.Restarting], Stats.RayMetrics.StateTag("restarting")),
            new(counts[(int)ActorLifecycleState.Dead], Stats.RayMetrics.StateTag("dead")),
        ];
    }

    public IReadOnlyList<ActorInfo> All()
    {
        lock (_lock) return [.. _actors.Values.Select(Snapshot)];
    }

    public void Kill(ActorId actorId, bool noRestart, string reason)
    {
        ActorRecord? record;
        bool restart;
        lock (_lock)
        {
            if (!_actors.TryGetValue(actorId, out record) || record.State == ActorLifecycleState.Dead) return;
            var spec = record.Spec;
            restart = !noRestart && record.CreateRequested && (spec.MaxRestarts == -1 || record.NumRestarts < spec.MaxRestarts);
            if (restart)
            {
                record.NumRestarts++;
                record.State = ActorLifecycleState.Restarting;
            }
        }
        if (!restart)
        {
            MarkDead(record, RayErrorInfo.ActorDied(actorId, reason));
            return;
        }
        // Handle holders learn the actor is restarting before its worker dies, so calls in flight are retried.
        Publish(record, ActorLifecycleState.Restarting);
        ReleaseLease(record);
        try { record.Scheduling.Cancel(); } catch (ObjectDisposedException) { }
        record.Scheduling = new CancellationTokenSource();
        _ = ScheduleAsync(record);
    }

    /// <summary>Every handle of a non-detached actor is gone: it exits once the calls queued before are done.</summary>
    public void OnOutOfScope(ActorId actorId)
    {
        ActorRecord? record;
        lock (_lock)
        {
            if (!_actors.TryGetValue(actorId, out record) || record.Spec.Lifetime == ActorLifetime.Detached) return;
        }
        const string reason = "all references to the actor were removed";
        var worker = record.Worker;
        MarkDead(record, RayErrorInfo.ActorDied(actorId, reason), stopWorker: false);
        if (worker is null)
        {
            ReleaseLease(record);
            return;
        }
        _ = ExitGracefullyAsync(record, worker, reason);
    }

    private async Task ExitGracefullyAsync(ActorRecord record, Address worker, string reason)
    {
        try
        {
            await _workers.ExitAsync(worker, reason).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.ActorWorkerExitUnclean(e, record.Spec.ActorId);
        }
        ReleaseLease(record);
    }

    /// <summary>The actor called Ray.ExitActor(): it is dead, and its worker goes away.</summary>
    public void OnActorExited(ActorId actorId, string reason)
    {
        ActorRecord? record;
        lock (_lock) _actors.TryGetValue(actorId, out record);
        if (record is null) return;
        MarkDead(record, RayErrorInfo.ActorDied(actorId, reason));
    }

    /// <summary>A worker process died: the actor on it restarts or dies; non-detached actors it owned die.</summary>
    public void OnWorkerDied(WorkerId workerId, string reason)
    {
        List<ActorRecord> onWorker, owned;
        lock (_lock)
        {
            onWorker = [.. _actors.Values.Where(r => r.State != ActorLifecycleState.Dead && r.Worker?.WorkerId == workerId)];
            owned = [.. _actors.Values.Where(r => r.State != ActorLifecycleState.Dead && r.CreationTask.Owner.WorkerId == workerId
                && r.Spec.Lifetime != ActorLifetime.Detached)];
        }
        foreach (var r in onWorker) Kill(r.Spec.ActorId, noRestart: false, $"the actor's worker process died: {reason}");
        foreach (var r in owned) MarkDead(r, RayErrorInfo.ActorDied(r.Spec.ActorId, "its owner (the worker or driver that created it) died"));
    }

    public void OnNodeDied(NodeId nodeId, string reason)
    {
        List<ActorRecord> onNode, owned;
        lock (_lock)
        {
            onNode = [.. _actors.Values.Where(r => r.State != ActorLifecycleState.Dead && r.NodeId == nodeId && r.Worker is not null)];
            owned = [.. _actors.Values.Where(r => r.State != ActorLifecycleState.Dead && r.CreationTask.Owner.NodeId == nodeId
                && r.Spec.Lifetime != ActorLifetime.Detached)];
        }
        foreach (var r in onNode)
        {
            lock (_lock) r.LeaseRaylet = null;
            Kill(r.Spec.ActorId, noRestart: false, $"the node {nodeId} it ran on died: {reason}");
        }
        foreach (var r in owned) MarkDead(r, RayErrorInfo.ActorDied(r.Spec.ActorId, $"its owner's node {nodeId} died"));
    }

    /// <summary>The job's driver finished: its non-detached actors die with it.</summary>
    /// <summary>The placement group was removed: every actor scheduled into it dies for good, with the removal as cause.</summary>
    public void KillActorsInPlacementGroup(PlacementGroupId group, string reason)
    {
        List<ActorRecord> actors;
        lock (_lock)
            actors = [.. _actors.Values.Where(r => r.State != ActorLifecycleState.Dead && r.CreationTask.Strategy is { Kind: WireStrategyKind.PlacementGroup } s
                && s.PlacementGroup == group)];
        foreach (var r in actors) MarkDead(r, RayErrorInfo.ActorDied(r.Spec.ActorId, reason));
    }

    public void OnJobFinished(JobId jobId)
    {
        List<ActorRecord> actors;
        lock (_lock)
            actors = [.. _actors.Values.Where(r => r.State != ActorLifecycleState.Dead && r.CreationTask.JobId == jobId
                && r.Spec.Lifetime != ActorLifetime.Detached)];
        foreach (var r in actors) MarkDead(r, RayErrorInfo.ActorDied(r.Spec.ActorId, "the job that created it finished (its driver exited)"));
    }

    private void MarkDead(ActorRecord record, RayErrorInfo cause, bool stopWorker = true)
    {
        Action<ActorInfo>[] subscribers;
        ActorInfo update;
        lock (_lock)
        {
            if (record.State == ActorLifecycleState.Dead) return;
            record.State = ActorLifecycleState.Dead;
            record.DeathCause = cause;
            if (record.Spec.Name is { } name && _named.TryGetValue((record.Spec.Namespace, name), out var id) && id == record.Spec.ActorId)
                _named.Remove((record.Spec.Namespace, name));
            update = Snapshot(record);
            subscribers = [.. record.Subscribers];
            record.Subscribers.Clear();
            Persist(record);
            Deliver(subscribers, update);
        }
        try { record.Scheduling.Cancel(); } catch (ObjectDisposedException) { }
        if (stopWorker) ReleaseLease(record);
        _logger.ActorDied(record.Spec.ActorId, cause.Message);
        try
        {
            ActorDead?.Invoke(record.Spec.ActorId);
        }
        catch (Exception e)
        {
            _logger.ActorDeathHandlingFailed(e, record.Spec.ActorId);
        }
    }

    /// <summary>An actor died for good (what it created with it as owner goes: its placement groups).</summary>
    public event Action<ActorId>? ActorDead;

    private void ReleaseLease(ActorRecord record)
    {
        string? raylet;
        long leaseId;
        lock (_lock)
        {
            raylet = record.LeaseRaylet;
            leaseId = record.LeaseId;
            record.LeaseRaylet = null;
            record.Worker = null;
        }
        // The actor's worker is not reused: the raylet kills its process.
        if (raylet is not null) _raylets.ReturnWorker(raylet, leaseId, disconnect: true);
    }

    public IDisposable Subscribe(ActorId actorId, Action<ActorInfo> onUpdate)
    {
        ActorInfo current;
        lock (_lock)
        {
            if (!_actors.TryGetValue(actorId, out var record))
            {
                current = new ActorInfo
                {
                    ActorId = actorId,
                    Creation = new WireActorCreation { ActorId = actorId, ClassName = "?", Namespace = "" },
                    State = ActorLifecycleState.Dead,
                    DeathCause = RayErrorInfo.ActorDied(actorId, "the actor is unknown to this cluster (it was never created here)"),
                };
                onUpdate(current);
                return new Unsubscriber(() => { });
            }
            current = Snapshot(record);
            // Registered under the lock and delivered in order by the caller's channel: no update is missed.
            onUpdate(current);
            if (record.State != ActorLifecycleState.Dead) record.Subscribers.Add(onUpdate);
            return new Unsubscriber(() => { lock (_lock) record.Subscribers.Remove(onUpdate); });
        }
    }

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }

    public void Dispose() => _stopping.Cancel();
}

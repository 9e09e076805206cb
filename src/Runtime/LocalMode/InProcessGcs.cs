namespace RaySharp.Core.LocalMode;

/// <summary>
/// Local mode's GCS actor manager: the actor table, named actors per namespace, creation scheduled through
/// the raylet's lease protocol as if the GCS were the caller, restarts up to MaxRestarts, and publication of
/// every state change to handle holders.
/// </summary>
internal sealed class InProcessGcs : IGcsActorClient, IDisposable
{
    private sealed class ActorRecord(TaskSpec creationTask)
    {
        public TaskSpec CreationTask { get; } = creationTask;
        public ActorCreationSpec Spec => CreationTask.ActorCreation!;
        public ActorLifecycleState State { get; set; } = ActorLifecycleState.PendingCreation;
        public int NumRestarts { get; set; }
        public InProcessWorker? Worker { get; set; }
        public WorkerLease? Lease { get; set; }
        public RayErrorInfo? DeathCause { get; set; }
        public List<Action<ActorStateUpdate>> Subscribers { get; } = [];
        public CancellationTokenSource Scheduling { get; set; } = new();
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<ActorId, ActorRecord> _actors = [];
    private readonly Dictionary<(string Namespace, string Name), ActorId> _named = [];
    private readonly IRayletClient _raylet;
    private readonly DependencyResolver _resolver;

    public InProcessGcs(IRayletClient raylet, DependencyResolver resolver)
    {
        _raylet = raylet;
        _resolver = resolver;
    }

    public ActorId RegisterActor(TaskSpec creationTask, bool getIfExists)
    {
        var spec = creationTask.ActorCreation!;
        ActorRecord record;
        lock (_lock)
        {
            if (spec.Name is { } name)
            {
                if (_named.TryGetValue((spec.Namespace, name), out var existing))
                {
                    if (getIfExists) return existing;
                    throw new ArgumentException(
                        $"An actor named '{name}' already exists in namespace '{spec.Namespace}' (actor {existing}). " +
                        "Use another name, kill the existing actor first, or set ActorOptions.GetIfExists to reuse it.");
                }
                _named[(spec.Namespace, name)] = spec.ActorId;
            }
            record = new ActorRecord(creationTask);
            _actors[spec.ActorId] = record;
        }
        _ = ScheduleCreationAsync(record);
        return spec.ActorId;
    }

    private async Task ScheduleCreationAsync(ActorRecord record)
    {
        var task = record.CreationTask;
        var spec = record.Spec;
        var ct = record.Scheduling.Token;
        try
        {
            var (args, upstream) = await _resolver.ResolveAsync(task.Args, ct).ConfigureAwait(false);
            if (upstream is not null)
            {
                MarkDead(record, RayErrorInfo.ActorDied(spec.ActorId,
                    $"an argument of its constructor failed: {upstream.ToException().Message}"));
                return;
            }
            var placement = spec.UsesDefaultCpus
                ? task.Resources.Add(ResourceSet.Of((ResourceSet.Cpu, 1)))
                : null;
            var lease = await _raylet.RequestWorkerLeaseAsync(new LeaseRequest(task.Resources, task.Strategy, task.RuntimeEnvKey,
                true, $"Actor {spec.Class.Name}", placement), ct).ConfigureAwait(false);
            var worker = (InProcessWorker)lease.Worker;
            worker.OnActorExit = reason => OnActorExited(record, worker, reason);
            lock (_lock)
            {
                record.Lease = lease;
                record.Worker = worker;
            }
            int attempt;
            lock (_lock) attempt = record.NumRestarts;
            var reply = await worker.PushTaskAsync(task.WithArgs(args, attempt), CancellationToken.None).ConfigureAwait(false);
            if (reply.Error is { } error)
            {
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
        catch (Exception e)
        {
            MarkDead(record, RayErrorInfo.ActorDied(spec.ActorId, $"it could not be scheduled: {e.Message}"));
        }
    }

    private void Publish(ActorRecord record, ActorLifecycleState state)
    {
        ActorStateUpdate update;
        Action<ActorStateUpdate>[] subscribers;
        lock (_lock)
        {
            if (record.State == ActorLifecycleState.Dead) return;
            record.State = state;
            update = Snapshot(record);
            subscribers = [.. record.Subscribers];
        }
        foreach (var s in subscribers) s(update);
    }

    private static ActorStateUpdate Snapshot(ActorRecord r) =>
        new(r.Spec.ActorId, r.State, r.State == ActorLifecycleState.Alive ? r.Worker : null, r.NumRestarts, r.DeathCause);

    public bool TryGetNamedActor(string name, string @namespace, out ActorId actorId, out Address? owner)
    {
        lock (_lock)
        {
            owner = _named.TryGetValue((@namespace, name), out actorId) ? _actors[actorId].CreationTask.Owner : null;
            return owner is not null;
        }
    }

    public ActorLimits? GetActorInfo(ActorId actorId)
    {
        lock (_lock) return _actors.TryGetValue(actorId, out var r) ? new ActorLimits(r.Spec.MaxTaskRetries, r.Spec.MaxPendingCalls) : null;
    }

    public void KillActor(ActorId actorId, bool noRestart, string reason)
    {
        ActorRecord? record;
        lock (_lock)
        {
            if (!_actors.TryGetValue(actorId, out record) || record.State == ActorLifecycleState.Dead) return;
        }
        var spec = record.Spec;
        bool restart;
        lock (_lock)
        {
            restart = !noRestart && (spec.MaxRestarts == -1 || record.NumRestarts < spec.MaxRestarts);
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
        StopWorker(record, reason);
        record.Scheduling = new CancellationTokenSource();
        _ = ScheduleCreationAsync(record);
    }

    public void ReportActorOutOfScope(ActorId actorId)
    {
        ActorRecord? record;
        lock (_lock)
        {
            if (!_actors.TryGetValue(actorId, out record) || record.Spec.Lifetime == ActorLifetime.Detached) return;
        }
        var worker = record.Worker;
        MarkDead(record, RayErrorInfo.ActorDied(actorId, "all references to the actor were removed"), stopWorker: false);
        if (worker is not null) worker.ExitGracefully("all references to the actor were removed", () => ReleaseLease(record));
        else ReleaseLease(record);
    }

    private void OnActorExited(ActorRecord record, InProcessWorker worker, string reason)
    {
        MarkDead(record, RayErrorInfo.ActorDied(record.Spec.ActorId, reason), stopWorker: false);
        ReleaseLease(record);
    }

    private void MarkDead(ActorRecord record, RayErrorInfo cause, bool stopWorker = true)
    {
        Action<ActorStateUpdate>[] subscribers;
        ActorStateUpdate update;
        lock (_lock)
        {
            if (record.State == ActorLifecycleState.Dead) return;
            record.State = ActorLifecycleState.Dead;
            record.DeathCause = cause;
            if (record.Spec.Name is { } name && _named.TryGetValue((record.Spec.Namespace, name), out var id) && id == record.Spec.ActorId)
                _named.Remove((record.Spec.Namespace, name));
            update = Snapshot(record);
            subscribers = [.. record.Subscribers];
        }
        try { record.Scheduling.Cancel(); } catch (ObjectDisposedException) { }
        foreach (var s in subscribers) s(update);
        if (stopWorker) StopWorker(record, cause.Message);
    }

    private void StopWorker(ActorRecord record, string reason)
    {
        record.Worker?.Kill(reason);
        ReleaseLease(record);
    }

    private void ReleaseLease(ActorRecord record)
    {
        WorkerLease? lease;
        lock (_lock)
        {
            lease = record.Lease;
            record.Lease = null;
            record.Worker = null;
        }
        if (lease is not null) _raylet.ReturnWorker(lease, disconnectWorker: true);
    }

    public IDisposable SubscribeActor(ActorId actorId, Action<ActorStateUpdate> onUpdate)
    {
        ActorStateUpdate current;
        IDisposable subscription;
        lock (_lock)
        {
            if (!_actors.TryGetValue(actorId, out var record))
            {
                current = new ActorStateUpdate(actorId, ActorLifecycleState.Dead, null, 0,
                    RayErrorInfo.ActorDied(actorId, "the actor is unknown to this cluster (it was never created here)"));
                subscription = new Unsubscriber(() => { });
            }
            else
            {
                record.Subscribers.Add(onUpdate);
                current = Snapshot(record);
                subscription = new Unsubscriber(() => { lock (_lock) record.Subscribers.Remove(onUpdate); });
            }
        }
        // Subscribers take their own locks: call them outside ours. A newer update may overtake this one, so
        // subscribers ignore updates older than what they have (by state order and restart count).
        onUpdate(current);
        return subscription;
    }

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }

    public void Dispose()
    {
        List<ActorRecord> all;
        lock (_lock) all = [.. _actors.Values];
        foreach (var r in all) MarkDead(r, RayErrorInfo.ActorDied(r.Spec.ActorId, "RaySharp was shut down"));
    }
}

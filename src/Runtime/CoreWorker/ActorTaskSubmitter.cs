using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaySharp.Core;

/// <summary>
/// Sends actor calls straight to the actor's worker (Ray's <c>ActorTaskSubmitter</c>). Calls from this worker
/// to one actor carry increasing sequence numbers and are sent in that order once their arguments exist; while
/// the actor is being created or restarted they wait here. When it restarts, calls that were in flight are
/// retried up to MaxTaskRetries; when it dies, every pending call fails with the death cause.
/// </summary>
internal sealed partial class ActorTaskSubmitter
{
    private sealed class Call(TaskManager.Entry entry, int retriesLeft, long position, ActorQueue queue)
    {
        public TaskManager.Entry Entry { get; } = entry;

        /// <summary>The queue it was submitted to (a reply's continuation finds it here, with no closure per call).</summary>
        public ActorQueue Queue { get; } = queue;

        /// <summary>Where the call stands in its caller's order: its sequence number, or for a call run again to rebuild
        /// a lost output, a new one after every call submitted so far.</summary>
        public long Position { get; } = position;
        public int RetriesLeft { get; set; } = retriesLeft;

        /// <summary>The actor's restart count when the call was sent (which incarnation ran it).</summary>
        public int SentToIncarnation { get; set; }

        /// <summary>Why the worker died under the call, while the GCS has not yet said what became of the actor.</summary>
        public string? DiedUnder { get; set; }
    }

    private sealed class ActorQueue(ActorId actorId, ActorTaskSubmitter submitter)
    {
        public ActorId ActorId { get; } = actorId;
        public ActorTaskSubmitter Submitter { get; } = submitter;
        public ActorLifecycleState State { get; set; } = ActorLifecycleState.PendingCreation;

        /// <summary>The node the actor's current instance runs on (nil while it has none, or when not known).</summary>
        public NodeId NodeId { get; set; }
        public int NumRestarts { get; set; }
        public ICoreWorkerClient? Worker { get; set; }
        public RayErrorInfo? DeathCause { get; set; }
        public long NextSequenceNumber { get; set; }
        public SortedList<long, Call> Waiting { get; } = [];
        public HashSet<Call> InFlight { get; } = [];

        /// <summary>Calls whose worker died while the actor still looked alive: they wait for the GCS's notice of
        /// the death (Ray's wait for death info) to learn whether to retry on the restarted actor or fail with the cause.</summary>
        public List<Call> AwaitingDeathNotice { get; } = [];
        public bool Pumping { get; set; }
        public IDisposable? Subscription { get; set; }
    }

    private readonly Lock _lock = new();
    // One queue per caller and actor: calls are ordered per caller (Ray orders them per submitting worker). In a
    // worker process the caller is the process; in local mode each worker thread stands for a process.
    private readonly Dictionary<(WorkerId Caller, ActorId Actor), ActorQueue> _queues = [];
    private readonly TaskManager _taskManager;
    private readonly DependencyResolver _resolver;
    private readonly IGcsActorClient _gcs;
    private readonly ILogger _logger;
    private readonly TimeSpan _waitForDeathInfo;

    /// <param name="taskManager">Tracks the calls and their retries.</param>
    /// <param name="resolver">Resolves ref arguments before a call is sent.</param>
    /// <param name="gcs">Publishes the actor's state.</param>
    /// <param name="logger">Where failures inside the submitter go.</param>
    /// <param name="waitForDeathInfo">How long a call whose worker died waits for the GCS to say what became of the
    /// actor before it fails with the worker's death (Ray's <c>timeout_ms_task_wait_for_death_info</c>).</param>
    /// <param name="isNodeDead">Tells whether a node is dead (its raylet does not answer); none: never asked.</param>
    /// <param name="nodeDeathWait">How long a call waits instead when the actor's whole node is gone: long enough for
    /// the GCS's health checks to declare the node dead and restart the actor.</param>
    public ActorTaskSubmitter(TaskManager taskManager, DependencyResolver resolver, IGcsActorClient gcs, ILogger<ActorTaskSubmitter>? logger = null,
        TimeSpan? waitForDeathInfo = null, Func<NodeId, CancellationToken, Task<bool>>? isNodeDead = null, TimeSpan? nodeDeathWait = null)
    {
        _taskManager = taskManager;
        _resolver = resolver;
        _gcs = gcs;
        _logger = logger ?? NullLogger<ActorTaskSubmitter>.Instance;
        _waitForDeathInfo = waitForDeathInfo ?? TimeSpan.FromSeconds(1);
        _isNodeDead = isNodeDead;
        _nodeDeathWait = nodeDeathWait ?? RayConfig.Default.HealthCheckTimeout * 2 + TimeSpan.FromSeconds(2);
    }

    private readonly Func<NodeId, CancellationToken, Task<bool>>? _isNodeDead;
    private readonly TimeSpan _nodeDeathWait;

    /// <summary>The next sequence number for a call from this worker to <paramref name="actorId"/>; also checks
    /// the actor's MaxPendingCalls.</summary>
    public long NextSequenceNumber(ActorId actorId, int maxPendingCalls, string methodName)
    {
        var q = GetOrCreateQueue(Caller, actorId);
        lock (_lock)
        {
            if (maxPendingCalls > 0 && q.Waiting.Count + q.InFlight.Count >= maxPendingCalls)
                throw new PendingCallsLimitExceededException(
                    $"Calling {methodName} on actor {actorId} would exceed its MaxPendingCalls of {maxPendingCalls}. " +
                    "Wait for earlier calls to finish, or raise ActorOptions.MaxPendingCalls.");
            return q.NextSequenceNumber++;
        }
    }

    public void Submit(TaskManager.Entry entry, int maxTaskRetries)
    {
        var q = GetOrCreateQueue(Caller, entry.Spec.ActorId);
        RayErrorInfo? dead = null;
        lock (_lock)
        {
            if (q.State == ActorLifecycleState.Dead) dead = q.DeathCause;
            else
            {
                // A call run again from its lineage goes after the calls made since (its number may belong to another
                // caller's queue, or come before calls already sent).
                long position = entry.IsReconstruction ? q.NextSequenceNumber++ : entry.Spec.SequenceNumber;
                q.Waiting.Add(position, new Call(entry, maxTaskRetries, position, q));
            }
        }
        LogSubmitted(_logger, entry.Spec.DisplayName, entry.Spec.TaskId, entry.Spec.ActorId, entry.Spec.SequenceNumber);
        if (dead is not null) _taskManager.FailTask(entry, dead);
        else Pump(q);
    }

    /// <summary>Who submits: the worker running the current task, or (outside any task) this process's driver.</summary>
    private static WorkerId Caller => TaskExecutionContext.Current?.Worker.WorkerId ?? default;

    private ActorQueue GetOrCreateQueue(WorkerId caller, ActorId actorId)
    {
        ActorQueue q;
        lock (_lock)
        {
            if (_queues.TryGetValue((caller, actorId), out var existing)) return existing;
            _queues[(caller, actorId)] = q = new ActorQueue(actorId, this);
        }
        Subscribe(q);
        return q;
    }

    // Apart from GetOrCreateQueue, so that the closure is built once per queue rather than on every call.
    private void Subscribe(ActorQueue q) => q.Subscription = _gcs.SubscribeActor(q.ActorId, u => OnActorStateChanged(q, u));

    private void OnActorStateChanged(ActorQueue q, ActorStateUpdate update)
    {
        List<Call> failed = [];
        lock (_lock)
        {
            if (q.State == ActorLifecycleState.Dead) return;
            // Updates may arrive out of order: one with an older restart count, or an earlier state of the same
            // incarnation (pending/restarting before alive before dead), is stale.
            if (update.State != ActorLifecycleState.Dead && update.NumRestarts < q.NumRestarts) return;
            if (update.NumRestarts == q.NumRestarts && Rank(update.State) < Rank(q.State)) return;
            q.State = update.State;
            q.NumRestarts = update.NumRestarts;
            q.Worker = update.Worker;
            q.NodeId = update.NodeId;
            if (update.State == ActorLifecycleState.Dead)
            {
                q.DeathCause = update.DeathCause ?? RayErrorInfo.ActorDied(q.ActorId, "the actor died");
                failed.AddRange(q.Waiting.Values);
                q.Waiting.Clear();
            }
        }
        foreach (var c in failed) _taskManager.FailTask(c.Entry, q.DeathCause!);
        ResolveDeathNotices(q, timedOut: null);
        if (update.State == ActorLifecycleState.Alive) Pump(q);
    }

    /// <summary>Calls that wait for news of their worker's death: retried once the actor restarted, failed with the
    /// cause once it is dead, failed with the worker's death when <paramref name="timedOut"/> waited too long.</summary>
    private void ResolveDeathNotices(ActorQueue q, Call? timedOut)
    {
        List<(Call Call, RayErrorInfo Error)> fail = [];
        bool retried = false;
        lock (_lock)
        {
            for (int i = q.AwaitingDeathNotice.Count - 1; i >= 0; i--)
            {
                var call = q.AwaitingDeathNotice[i];
                bool restarted = q.State is ActorLifecycleState.Restarting or ActorLifecycleState.PendingCreation || q.NumRestarts > call.SentToIncarnation;
                if (q.State == ActorLifecycleState.Dead)
                    fail.Add((call, q.DeathCause!));
                else if (restarted && call.RetriesLeft != 0)
                {
                    TaskManager.RecordRetry(call.Entry.Spec);
                    if (call.RetriesLeft > 0) call.RetriesLeft--;
                    q.Waiting[call.Position] = call;
                    retried = true;
                }
                else if (restarted)
                    fail.Add((call, RayErrorInfo.ActorDied(q.ActorId, "the actor died while running the call and the call has no retries left (MaxTaskRetries)")));
                else if (call == timedOut)
                    fail.Add((call, RayErrorInfo.ActorDied(q.ActorId, call.DiedUnder!)));
                else
                    continue;
                q.AwaitingDeathNotice.RemoveAt(i);
            }
        }
        foreach (var (call, error) in fail) _taskManager.FailTask(call.Entry, error);
        if (retried) Pump(q);
    }

    /// <summary>This worker killed the actor and the GCS has taken it down: calls submitted from now on wait for the
    /// restarted actor (or fail when the GCS reports it dead) instead of racing the GCS's notice to the old worker.</summary>
    /// <param name="actorId">The actor.</param>
    /// <param name="incarnation">Its restart count when the kill was sent (<see cref="Incarnation"/>): a restarted
    /// incarnation this worker already heard of is not the one killed.</param>
    public void OnActorKilled(ActorId actorId, int incarnation)
    {
        lock (_lock)
        {
            foreach (var ((_, actor), q) in _queues)
            {
                if (actor != actorId || q.State != ActorLifecycleState.Alive || q.NumRestarts != incarnation) continue;
                q.State = ActorLifecycleState.Restarting;
                q.NumRestarts++;
                q.Worker = null;
            }
        }
    }

    /// <summary>The actor's restart count as the current caller knows it.</summary>
    public int Incarnation(ActorId actorId)
    {
        lock (_lock) return _queues.TryGetValue((Caller, actorId), out var q) ? q.NumRestarts : -1;
    }

    private static int Rank(ActorLifecycleState state) => state switch
    {
        ActorLifecycleState.PendingCreation or ActorLifecycleState.Restarting => 0,
        ActorLifecycleState.Alive => 1,
        _ => 2,
    };

    private void Pump(ActorQueue q)
    {
        lock (_lock)
        {
            if (q.Pumping || q.State != ActorLifecycleState.Alive || q.Waiting.Count == 0) return;
            q.Pumping = true;
        }
        var pump = PumpAsync(q);
        if (pump.IsCompletedSuccessfully) return;
        // PumpAsync handles its own errors; a fault escaping it is a RaySharp bug. Log it and let the next Pump start
        // over rather than leave the queue stuck behind a pump that is gone.
        // (No closure: one capturing q would be allocated on every call, the pump's usual synchronous end included.)
        _ = pump.ContinueWith(static (t, state) =>
            {
                var q = (ActorQueue)state!;
                q.Submitter._logger.ActorPumpFailed(t.Exception!.GetBaseException(), q.ActorId);
                lock (q.Submitter._lock) q.Pumping = false;
            }, q, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task PumpAsync(ActorQueue q)
    {
        while (true)
        {
            Call call;
            ICoreWorkerClient worker;
            lock (_lock)
            {
                if (q.State != ActorLifecycleState.Alive || q.Waiting.Count == 0 || q.Worker is null)
                {
                    q.Pumping = false;
                    return;
                }
                call = q.Waiting.Values[0];
                q.Waiting.RemoveAt(0);
                q.InFlight.Add(call);
                worker = q.Worker;
            }
            var entry = call.Entry;
            if (entry.Status == TaskManager.Status.Finished) // cancelled while waiting
            {
                lock (_lock) q.InFlight.Remove(call);
                continue;
            }
            TaskArg[] args;
            RayErrorInfo? upstream;
            try
            {
                (args, upstream) = await _resolver.ResolveAsync(entry.Spec.Args, entry.Cancellation.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (_lock) q.InFlight.Remove(call);
                continue; // cancelled: TaskManager failed it
            }
            catch (Exception e)
            {
                _logger.ResolvingArgumentsFailed(e, entry.Spec.DisplayName);
                lock (_lock) q.InFlight.Remove(call);
                _taskManager.FailTask(entry, new RayErrorInfo
                {
                    Kind = ErrorKind.WorkerCrashed,
                    Message = $"Resolving the arguments of {entry.Spec.DisplayName} failed inside RaySharp: {e.GetType().Name}: {e.Message}",
                });
                continue;
            }
            if (upstream is not null)
            {
                lock (_lock) q.InFlight.Remove(call);
                _taskManager.FailTask(entry, upstream);
                continue;
            }
            entry.ResolvedArgs = args; // kept as the call's lineage once it finishes
            entry.Status = TaskManager.Status.Running;
            entry.RunningOn = worker;
            _taskManager.RecordEvent(entry, RaySharp.State.RayTaskStatus.SubmittedToWorker, q.NodeId);
            lock (_lock) call.SentToIncarnation = q.NumRestarts;
            // Sent in sequence order; the reply is handled whenever it comes.
            LogPushing(_logger, entry.Spec.DisplayName, entry.Spec.TaskId, q.ActorId);
            Task<PushTaskReply> reply;
            try
            {
                reply = worker.PushTaskAsync(entry.Spec.WithArgs(args), CancellationToken.None);
            }
            catch (Exception e)
            {
                reply = Task.FromException<PushTaskReply>(e);
            }
            _ = reply.ContinueWith(static (t, state) =>
                {
                    var call = (Call)state!;
                    var submitter = call.Queue.Submitter;
                    submitter.OnReply(call.Queue, call, submitter.ReplyOf(t, call.Queue, call.Entry));
                }, call, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>The push's reply; a push that threw instead of replying (the actor's connection broke, the RPC
    /// failed) counts as the actor's worker dying under the call, so the call is retried or failed as for a death.</summary>
    private PushTaskReply ReplyOf(Task<PushTaskReply> push, ActorQueue q, TaskManager.Entry entry)
    {
        if (push.IsCompletedSuccessfully) return push.Result;
        var e = push.Exception?.GetBaseException() ?? new OperationCanceledException("The push was canceled.");
        LogPushFailed(_logger, e, entry.Spec.DisplayName, entry.Spec.TaskId, q.ActorId);
        return PushTaskReply.WorkerDied($"Pushing {entry.Spec.DisplayName} to actor {q.ActorId} failed: {e.GetType().Name}: {e.Message}");
    }

    private void OnReply(ActorQueue q, Call call, PushTaskReply reply)
    {
        try
        {
            HandleReply(q, call, reply);
        }
        catch (Exception e)
        {
            // A failure inside RaySharp while handling the reply: fail the call rather than leave it in flight.
            LogReplyHandlingFailed(_logger, e, call.Entry.Spec.DisplayName, q.ActorId);
            lock (_lock) q.InFlight.Remove(call);
            _taskManager.FailTask(call.Entry, new RayErrorInfo
            {
                Kind = ErrorKind.WorkerCrashed,
                Message = $"Handling the reply of {call.Entry.Spec.DisplayName} failed inside RaySharp: {e.GetType().Name}: {e.Message}",
            });
        }
    }

    private void HandleReply(ActorQueue q, Call call, PushTaskReply reply)
    {
        var entry = call.Entry;
        entry.RunningOn = null;
        bool isWorkerDeath = reply.Error is { Kind: ErrorKind.WorkerCrashed };
        if (!isWorkerDeath)
        {
            lock (_lock) q.InFlight.Remove(call);
            if (_taskManager.HandleReply(entry, reply)) Requeue(q, call);
            return;
        }
        // The actor's worker died under the call: retry it after a restart if allowed, else fail it with the cause.
        RayErrorInfo? fail = null;
        lock (_lock)
        {
            q.InFlight.Remove(call);
            if (q.State == ActorLifecycleState.Alive && q.NumRestarts == call.SentToIncarnation)
            {
                // The GCS has not said yet what became of the actor: wait for its notice, a while at most.
                call.DiedUnder = reply.Error!.Message;
                q.AwaitingDeathNotice.Add(call);
                _ = WaitForDeathNoticeAsync(q, call, q.NodeId);
                return;
            }
            if (q.State is ActorLifecycleState.Restarting or ActorLifecycleState.PendingCreation && call.RetriesLeft != 0)
            {
                TaskManager.RecordRetry(entry.Spec);
                if (call.RetriesLeft > 0) call.RetriesLeft--;
                q.Waiting[call.Position] = call;
            }
            else
            {
                fail = q.DeathCause ?? RayErrorInfo.ActorDied(q.ActorId, reply.Error!.Message);
                if (q.State != ActorLifecycleState.Dead && q.State != ActorLifecycleState.Alive)
                    fail = RayErrorInfo.ActorDied(q.ActorId, "the actor died while running the call and the call has no retries left (MaxTaskRetries)");
            }
        }
        if (fail is not null) _taskManager.FailTask(entry, fail);
        else Pump(q);
    }

    /// <summary>Gives the GCS a while to say what became of the actor after its worker died under a call. A worker that
    /// died alone is reported by its raylet within moments; when the whole node is gone (its raylet does not answer),
    /// the GCS learns it from its health checks, so the call waits that long before it fails.</summary>
    private async Task WaitForDeathNoticeAsync(ActorQueue q, Call call, NodeId node)
    {
        try
        {
            var wait = _waitForDeathInfo;
            if (_isNodeDead is not null && !node.IsNil && await _isNodeDead(node, CancellationToken.None).ConfigureAwait(false))
                wait = wait > _nodeDeathWait ? wait : _nodeDeathWait;
            await Task.Delay(wait).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogDeathProbeFailed(_logger, e, q.ActorId);
        }
        ResolveDeathNotices(q, call);
    }

    private void Requeue(ActorQueue q, Call call)
    {
        lock (_lock) q.Waiting[call.Position] = call;
        Pump(q);
    }

    public void Dispose()
    {
        lock (_lock)
            foreach (var q in _queues.Values) q.Subscription?.Dispose();
    }

    // The call path logs through source-generated methods: nothing is formatted unless the level is on.

    [LoggerMessage(Level = LogLevel.Trace, Message = "Queued {Task} ({TaskId}) for actor {ActorId} as call {SequenceNumber}")]
    private static partial void LogSubmitted(ILogger logger, string task, TaskId taskId, ActorId actorId, long sequenceNumber);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Pushing {Task} ({TaskId}) to actor {ActorId}")]
    private static partial void LogPushing(ILogger logger, string task, TaskId taskId, ActorId actorId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pushing {Task} ({TaskId}) to actor {ActorId} failed; treating the actor's worker as dead")]
    private static partial void LogPushFailed(ILogger logger, Exception e, string task, TaskId taskId, ActorId actorId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell whether the node of actor {ActorId} died")]
    private static partial void LogDeathProbeFailed(ILogger logger, Exception e, ActorId actorId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the reply of {Task} from actor {ActorId} failed inside RaySharp")]
    private static partial void LogReplyHandlingFailed(ILogger logger, Exception e, string task, ActorId actorId);
}

using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.State;

namespace RaySharp.Core;

/// <summary>
/// Submits normal tasks (Ray's <c>NormalTaskSubmitter</c>): resolves each task's dependencies, then queues it by
/// scheduling class (function, resources, strategy and runtime env). Each class asks the raylet for up to
/// <see cref="RayConfig.MaxPendingLeaseRequestsPerSchedulingCategory"/> worker leases at a time and holds what it is
/// granted:
/// <list type="bullet">
/// <item>queued tasks are pushed to held leases, several at a time to one worker (Ray's
/// <c>max_tasks_in_flight_per_worker</c>) when the class's tasks are short: they wait on the worker's stream behind the
/// running one, so the worker never waits for a round trip; a task that cannot be retried runs alone on its lease, so
/// no other task's crash can fail it;</item>
/// <item>lease requests still pending when the queue has drained are canceled (Ray's <c>CancelWorkerLease</c>);</item>
/// <item>a lease whose worker has nothing left is kept for <see cref="RayConfig.WorkerLeaseLinger"/>, so that the next
/// task of the class (a driver calling in a loop) costs one push and one reply, then returned; leases that go idle
/// together are returned in one message; a lease held longer than <see cref="RayConfig.WorkerLeaseTimeout"/> takes no
/// more tasks and is returned once its worker is done, so other owners waiting at the raylet get their turn;</item>
/// <item>a task the worker gives back unstarted (the task ahead of it blocked in Get) is queued again at no cost to its
/// retries, and that lease takes one task at a time from then on.</item>
/// </list>
/// </summary>
internal sealed partial class NormalTaskSubmitter : IDisposable
{
    private sealed class SchedulingClass(LeaseRequest request)
    {
        public LeaseRequest Request { get; } = request;
        public Queue<(TaskManager.Entry Entry, TaskSpec Resolved)> Ready { get; } = new();
        public int PendingLeaseRequests { get; set; }

        /// <summary>The pending lease requests, newest last: those the queue no longer needs are canceled.</summary>
        public List<CancellationTokenSource> PendingRequests { get; } = [];
        public List<HeldLease> Leases { get; } = [];
        public int ConsecutiveLeaseFailures { get; set; }
        /// <summary>When lease requests of the class started failing at a spillback node that does not answer (0: they
        /// are not failing there).</summary>
        public long DeadNodeFailuresSince { get; set; }

        /// <summary>A moving average of how long a worker spends on one task of the class (<see cref="Stopwatch"/> ticks;
        /// 0: not measured yet), which bounds how deep tasks are pipelined.</summary>
        public double ServiceTicks { get; set; }
    }

    /// <summary>A granted lease the submitter holds.</summary>
    private sealed class HeldLease(WorkerLease lease, SchedulingClass cls, long grantedAt)
    {
        public WorkerLease Lease { get; } = lease;
        public SchedulingClass Class { get; } = cls;
        public long GrantedAt { get; } = grantedAt;
        public int InFlight { get; set; }

        /// <summary>A task that cannot be retried is in flight: nothing is pushed behind it.</summary>
        public bool Exclusive { get; set; }

        /// <summary>Its worker gave tasks back (a task blocked in Get): one task at a time from now on.</summary>
        public bool Serial { get; set; }

        /// <summary>Returned, or being returned: takes no more tasks.</summary>
        public bool Done { get; set; }

        /// <summary>Its last task failed (or was canceled): once idle it goes back at once, without a linger (as Ray returns
        /// a worker after an error).</summary>
        public bool LastFailed { get; set; }

        /// <summary>Other owners wait for resources on its node (the raylet said so): once idle it goes back at once.</summary>
        public bool Contended { get; set; }

        /// <summary>When its worker last replied or was last pushed a task while idle (<see cref="Stopwatch"/> ticks).</summary>
        public long LastActivity { get; set; }

        /// <summary>When it became idle with nothing queued (<see cref="TimeProvider"/> timestamp; 0: not idle).</summary>
        public long IdleSince { get; set; }
    }

    /// <summary>What tasks of one scheduling class share (Ray's <c>SchedulingClass</c>): compared by value, with no
    /// string built per task.</summary>
    private readonly record struct SchedulingClassKey(ulong FunctionId, ResourceSet Resources, StrategyKey Strategy, string RuntimeEnvKey);

    /// <summary>A strategy by what it says (two handles of one placement group are one group).</summary>
    private readonly record struct StrategyKey(byte Kind, NodeId Node, bool Soft, PlacementGroupId Group, int Bundle, bool Capture)
    {
        public static StrategyKey Of(SchedulingStrategy strategy) => strategy switch
        {
            SpreadSchedulingStrategy => new(1, default, false, default, -1, false),
            NodeAffinitySchedulingStrategy a => new(2, a.NodeId, a.Soft, default, -1, false),
            PlacementGroupSchedulingStrategy pg => new(3, default, false, pg.PlacementGroup.Id, pg.BundleIndex, pg.CaptureChildTasks),
            _ => default,
        };
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<SchedulingClassKey, SchedulingClass> _classes = [];
    private readonly TaskManager _taskManager;
    private readonly DependencyResolver _resolver;
    private readonly IRayletClient _raylet;
    private readonly ILogger _logger;
    private readonly int _maxPendingLeaseRequests;
    private readonly int _maxInFlightPerWorker;
    private readonly TimeSpan _linger;
    private readonly long _leaseTimeoutTicks;
    private readonly TimeProvider _time;
    private readonly ITimer _lingerTimer;
    private long _lingerDue = long.MaxValue; // when the linger timer fires next (TimeProvider timestamp)
    private readonly CancellationTokenSource _disposed = new();
    private bool _isDisposed;

    /// <summary>The work queued on one worker that pipelining aims at: depth = this / the class's time per task.</summary>
    private static readonly long s_pipelineBudgetTicks = Stopwatch.Frequency / 100;

    /// <param name="taskManager">Tracks the tasks and their retries.</param>
    /// <param name="resolver">Resolves ref arguments before a task is queued.</param>
    /// <param name="raylet">Grants worker leases.</param>
    /// <param name="logger">The submitter's log.</param>
    /// <param name="config">Lease requests in flight per scheduling class, how long an idle lease is kept, how long a lease
    /// takes tasks, how many tasks one worker has in flight.</param>
    /// <param name="deadNodeGrace">How long lease requests failing at a spillback node that does not answer cost the
    /// tasks no retries (by default twice the GCS's health-check timeout plus 10 s: enough for the GCS to declare the node
    /// dead and the raylets to hear of it).</param>
    /// <param name="time">The clock of the linger and the lease timeout (tests pass a fake one).</param>
    public NormalTaskSubmitter(TaskManager taskManager, DependencyResolver resolver, IRayletClient raylet, ILogger<NormalTaskSubmitter>? logger = null,
        RayConfig? config = null, TimeSpan? deadNodeGrace = null, TimeProvider? time = null)
    {
        config ??= RayConfig.Default;
        _taskManager = taskManager;
        _resolver = resolver;
        _raylet = raylet;
        _logger = logger ?? NullLogger<NormalTaskSubmitter>.Instance;
        _maxPendingLeaseRequests = Math.Max(1, config.MaxPendingLeaseRequestsPerSchedulingCategory);
        _maxInFlightPerWorker = Math.Max(1, config.MaxTasksInFlightPerWorker);
        _linger = config.WorkerLeaseLinger < TimeSpan.Zero ? TimeSpan.Zero : config.WorkerLeaseLinger;
        _time = time ?? TimeProvider.System;
        _leaseTimeoutTicks = (long)(config.WorkerLeaseTimeout.TotalSeconds * _time.TimestampFrequency);
        _deadNodeGrace = deadNodeGrace ?? config.HealthCheckTimeout * 2 + TimeSpan.FromSeconds(10);
        _lingerTimer = _time.CreateTimer(static s => ((NormalTaskSubmitter)s!).OnLingerTimer(), this, Timeout.InfiniteTimeSpan,
            Timeout.InfiniteTimeSpan);
    }

    private readonly TimeSpan _deadNodeGrace;

    /// <summary>Leases held idle, waiting out their linger (for tests).</summary>
    internal int LingeringLeases
    {
        get
        {
            lock (_lock)
            {
                int n = 0;
                foreach (var cls in _classes.Values)
                    foreach (var held in cls.Leases)
                        if (!held.Done && held.InFlight == 0 && held.IdleSince != 0) n++;
                return n;
            }
        }
    }

    public void Submit(TaskManager.Entry entry) => Observe(ResolveAndQueueAsync(entry), entry.Spec.DisplayName);

    /// <summary>Background work must not fail unseen: the async methods handle their own errors, so a fault that
    /// still escapes is a RaySharp bug, logged here rather than lost as an unobserved task exception.</summary>
    private void Observe(Task task, string what)
    {
        if (task.IsCompletedSuccessfully) return;
        _ = task.ContinueWith(static (t, state) =>
            {
                var (logger, what) = ((ILogger, string))state!;
                logger.SubmitFailed(t.Exception!.GetBaseException(), what);
            }, (_logger, what), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task ResolveAndQueueAsync(TaskManager.Entry entry)
    {
        var spec = entry.Spec;
        try
        {
            entry.Status = TaskManager.Status.WaitingForDependencies;
            if (spec.Args.Length > 0)
            {
                var (args, upstream) = await _resolver.ResolveAsync(spec.Args, entry.Cancellation.Token).ConfigureAwait(false);
                if (upstream is not null)
                {
                    _taskManager.FailTask(entry, upstream);
                    return;
                }
                entry.ResolvedArgs = args; // kept as the task's lineage once it finishes
                Queue(entry, spec.WithArgs(args));
            }
            else
            {
                entry.ResolvedArgs = spec.Args;
                Queue(entry, spec);
            }
        }
        catch (OperationCanceledException) when (entry.CancelRequested)
        {
            _taskManager.FailTask(entry, RayErrorInfo.Cancelled(spec.TaskId, spec.DisplayName));
        }
        catch (OperationCanceledException)
        {
            // Shutdown: TaskManager.FailAll has failed the task already.
        }
        catch (Exception e)
        {
            _taskManager.FailTask(entry, InternalError(spec, e));
        }
    }

    /// <summary>A push decided under the lock, made outside it.</summary>
    private readonly record struct Push(HeldLease Lease, TaskManager.Entry Entry, TaskSpec Resolved);

    /// <summary>What a pass over a class decided: pushes to make, leases to return, lease requests to cancel.</summary>
    private sealed class Actions
    {
        public List<Push>? Pushes;
        public List<(WorkerLease, bool)>? Returns;
        public List<CancellationTokenSource>? Cancels;
        public List<(SchedulingClass, CancellationTokenSource)>? Requests;

        public void Run(NormalTaskSubmitter s)
        {
            if (Cancels is not null)
                foreach (var cts in Cancels)
                    try { cts.Cancel(); } catch (ObjectDisposedException) { }
            // Returns go out before new requests: an expired lease's worker is idle at the raylet by the time the request
            // for its successor arrives, so the raylet hands it out again instead of starting a process.
            if (Returns is not null) s.ReturnLeases(Returns);
            if (Requests is not null)
                foreach (var (cls, cts) in Requests) s.Observe(s.LeaseAsync(cls, cts), cls.Request.Description);
            if (Pushes is not null)
                foreach (var p in Pushes) s.Observe(s.PushAndHandleAsync(p.Lease, p.Entry, p.Resolved), p.Resolved.DisplayName);
        }
    }

    private void Queue(TaskManager.Entry entry, TaskSpec resolved)
    {
        var spec = entry.Spec;
        // A retry or re-execution runs as the entry's next attempt; the executor reports it under that number.
        if (resolved.AttemptNumber != entry.Attempt) resolved = resolved.WithArgs(resolved.Args, entry.Attempt);
        _taskManager.RecordEvent(entry, RayTaskStatus.PendingNodeAssignment);
        var key = new SchedulingClassKey(spec.Function.FunctionId, spec.Resources, StrategyKey.Of(spec.Strategy), spec.RuntimeEnvKey);
        var actions = new Actions();
        lock (_lock)
        {
            if (!_classes.TryGetValue(key, out var cls))
                _classes[key] = cls = new SchedulingClass(new LeaseRequest(spec.Resources, spec.Strategy, spec.RuntimeEnvKey, false,
                    spec.DisplayName, EnvVars: spec.RuntimeEnv?.EnvVars)
                {
                    WorkingDirUri = Packaging.WorkingDirPackage.IsUri(spec.RuntimeEnv?.WorkingDir) ? spec.RuntimeEnv!.WorkingDir : null,
                });
            entry.Status = TaskManager.Status.WaitingForLease;
            cls.Ready.Enqueue((entry, resolved));
            LogQueued(_logger, spec.DisplayName, spec.TaskId, cls.Ready.Count);
            ScheduleLocked(cls, actions);
            // A lease is about to be asked for: idle leases of this owner's other classes are returned first, so that a
            // driver alternating between functions on a small node never waits for its own linger.
            if (cls.Ready.Count > 0) ReturnIdleLeasesLocked(except: cls, actions);
        }
        actions.Run(this);
    }

    /// <summary>Pushes what the class's held leases can take, asks for the leases its queue still needs, cancels lease
    /// requests it no longer needs, and starts the linger of leases left idle.</summary>
    private void ScheduleLocked(SchedulingClass cls, Actions actions)
    {
        DispatchLocked(cls, actions);
        RequestLeasesLocked(cls, actions);
        // Ray's CancelWorkerLease: the queue has drained into held leases, so requests beyond what is queued are surplus.
        int surplus = cls.PendingRequests.Count - cls.Ready.Count;
        for (int i = cls.PendingRequests.Count - 1; surplus > 0 && i >= 0; i--, surplus--)
        {
            (actions.Cancels ??= []).Add(cls.PendingRequests[i]);
            cls.PendingRequests.RemoveAt(i);
            LogCancelingLeaseRequest(_logger, cls.Request.Description);
        }
        IdleLeasesLocked(cls, actions);
    }

    /// <summary>How many tasks of the class one worker should have in flight: enough to hide the round trip, never more
    /// than about <see cref="s_pipelineBudgetTicks"/> of work (a long task is never queued behind another).</summary>
    private int DepthLocked(SchedulingClass cls)
    {
        if (_maxInFlightPerWorker <= 1 || cls.ServiceTicks <= 0) return 1;
        return (int)Math.Clamp(s_pipelineBudgetTicks / cls.ServiceTicks, 1, _maxInFlightPerWorker);
    }

    private void DispatchLocked(SchedulingClass cls, Actions actions)
    {
        if (cls.Leases.Count == 0 || _isDisposed) return;
        int depth = DepthLocked(cls);
        long now = _time.GetTimestamp();
        while (cls.Ready.TryPeek(out var next))
        {
            // Cancelled while queued: TaskManager already failed it.
            if (next.Entry.Status == TaskManager.Status.Finished)
            {
                cls.Ready.Dequeue();
                continue;
            }
            // A task that cannot be retried runs alone, so that no other task's crash of the worker can fail it.
            bool exclusive = next.Entry.RetriesLeft == 0;
            HeldLease? best = null;
            for (int i = cls.Leases.Count - 1; i >= 0; i--)
            {
                var held = cls.Leases[i];
                if (held.Done || held.Exclusive) continue;
                if (!held.Lease.Worker.IsAlive)
                {
                    if (held.InFlight == 0) RetireLocked(held, disconnect: true, actions);
                    continue;
                }
                if (now - held.GrantedAt > _leaseTimeoutTicks && _leaseTimeoutTicks > 0) continue; // expired: drains, then returned
                int limit = exclusive || held.Serial ? 1 : depth;
                if (held.InFlight >= limit) continue;
                if (best is null || held.InFlight < best.InFlight) best = held;
            }
            if (best is null) break;
            cls.Ready.Dequeue();
            if (best.InFlight == 0) best.LastActivity = Stopwatch.GetTimestamp();
            best.InFlight++;
            best.Exclusive = exclusive;
            best.IdleSince = 0;
            next.Entry.Status = TaskManager.Status.Running;
            next.Entry.RunningOn = best.Lease.Worker;
            (actions.Pushes ??= []).Add(new Push(best, next.Entry, next.Resolved));
        }
    }

    /// <summary>Leases with nothing in flight and nothing queued: returned now if they expired (or the submitter is
    /// shutting down), else kept for the linger.</summary>
    private void IdleLeasesLocked(SchedulingClass cls, Actions actions)
    {
        if (cls.Ready.Count > 0 && !_isDisposed)
        {
            // Tasks still queued: an expired lease with nothing in flight makes room for a new one.
            for (int i = cls.Leases.Count - 1; i >= 0; i--)
                if (cls.Leases[i] is { Done: false, InFlight: 0 } held && IsExpired(held)) RetireLocked(held, disconnect: false, actions);
            return;
        }
        long now = _time.GetTimestamp();
        for (int i = cls.Leases.Count - 1; i >= 0; i--)
        {
            var held = cls.Leases[i];
            if (held.Done || held.InFlight > 0 || held.IdleSince != 0) continue;
            if (_linger <= TimeSpan.Zero || _isDisposed || held.LastFailed || held.Contended || IsExpired(held))
            {
                RetireLocked(held, disconnect: false, actions);
                continue;
            }
            held.IdleSince = now;
            long due = now + (long)(_linger.TotalSeconds * _time.TimestampFrequency);
            if (due < _lingerDue)
            {
                _lingerDue = due;
                _lingerTimer.Change(_linger, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>The raylet of <paramref name="node"/> has lease requests of other owners waiting for resources: leases
    /// kept idle there for their linger go back now, and the others as soon as they are idle, so no CPU sits idle in a
    /// linger while another owner's tasks wait for it.</summary>
    public void ReturnIdleLeases(NodeId node)
    {
        var actions = new Actions();
        lock (_lock)
        {
            foreach (var cls in _classes.Values)
                for (int i = cls.Leases.Count - 1; i >= 0; i--)
                {
                    var held = cls.Leases[i];
                    if (held.Done || held.Lease.NodeId != node) continue;
                    held.Contended = true;
                    if (held.InFlight == 0) RetireLocked(held, disconnect: false, actions);
                }
        }
        if (actions.Returns is { Count: > 0 } returns) LogReturningIdleForOthers(_logger, returns.Count, node);
        actions.Run(this);
    }

    private bool IsExpired(HeldLease held) => _leaseTimeoutTicks > 0 && _time.GetTimestamp() - held.GrantedAt > _leaseTimeoutTicks;

    private static void RetireLocked(HeldLease held, bool disconnect, Actions actions)
    {
        if (held.Done) return;
        held.Done = true;
        held.Class.Leases.Remove(held);
        (actions.Returns ??= []).Add((held.Lease, disconnect));
    }

    private void ReturnIdleLeasesLocked(SchedulingClass except, Actions actions)
    {
        foreach (var cls in _classes.Values)
        {
            if (cls == except || cls.Leases.Count == 0) continue;
            for (int i = cls.Leases.Count - 1; i >= 0; i--)
                if (cls.Leases[i] is { Done: false, InFlight: 0 } held) RetireLocked(held, disconnect: false, actions);
        }
    }

    /// <summary>The linger ended for the leases idle longest: every lease idle for most of the linger goes back with them,
    /// in one message per raylet.</summary>
    private void OnLingerTimer()
    {
        var actions = new Actions();
        try
        {
            lock (_lock)
            {
                if (_isDisposed) return; // shutdown returned every lease
                long now = _time.GetTimestamp();
                long lingerTicks = (long)(_linger.TotalSeconds * _time.TimestampFrequency);
                // Leases idle for three quarters of the linger go now too: one batch instead of several timers.
                long cutoff = now - lingerTicks * 3 / 4;
                long nextDue = long.MaxValue;
                foreach (var cls in _classes.Values)
                    for (int i = cls.Leases.Count - 1; i >= 0; i--)
                    {
                        var held = cls.Leases[i];
                        if (held.Done || held.InFlight > 0 || held.IdleSince == 0) continue;
                        if (held.IdleSince <= cutoff) RetireLocked(held, disconnect: false, actions);
                        else nextDue = Math.Min(nextDue, held.IdleSince + lingerTicks);
                    }
                _lingerDue = nextDue;
                if (nextDue != long.MaxValue)
                    _lingerTimer.Change(TimeSpan.FromSeconds(Math.Max(0, nextDue - now) / (double)_time.TimestampFrequency), Timeout.InfiniteTimeSpan);
            }
            actions.Run(this);
        }
        catch (Exception e)
        {
            // A timer callback must not throw; the leases are returned at the next pass or at shutdown.
            LogLingerFailed(_logger, e);
        }
    }

    private void ReturnLeases(List<(WorkerLease Lease, bool Disconnect)> leases)
    {
        foreach (var (lease, disconnect) in leases) LogReturningLease(_logger, lease.LeaseId, disconnect);
        try
        {
            if (leases.Count == 1) _raylet.ReturnWorker(leases[0].Lease, leases[0].Disconnect);
            else _raylet.ReturnWorkers(leases);
        }
        catch (Exception e)
        {
            LogReturnFailed(_logger, e, leases[0].Lease.LeaseId, leases.Count);
        }
    }

    /// <summary>Asks for the leases the class's queue needs; the requests are sent by <paramref name="actions"/>.</summary>
    private void RequestLeasesLocked(SchedulingClass cls, Actions actions)
    {
        if (_isDisposed) return;
        while (cls.PendingLeaseRequests < Math.Min(cls.Ready.Count, _maxPendingLeaseRequests))
        {
            cls.PendingLeaseRequests++;
            var cts = new CancellationTokenSource(); // canceled when the queue no longer needs the request
            cls.PendingRequests.Add(cts);
            LogRequestingLease(_logger, cls.Request.Description, cls.PendingLeaseRequests);
            (actions.Requests ??= []).Add((cls, cts));
        }
    }

    private async Task LeaseAsync(SchedulingClass cls, CancellationTokenSource cts)
    {
        WorkerLease lease;
        try
        {
            try
            {
                // A cancel that races the grant still brings the lease here (it is used, or returned): none is leaked.
                lease = await _raylet.RequestWorkerLeaseAsync(WithLocality(cls), _disposed.Token, cts.Token).ConfigureAwait(false);
            }
            finally
            {
                lock (_lock)
                {
                    cls.PendingLeaseRequests--;
                    cls.PendingRequests.Remove(cts);
                }
                cts.Dispose();
            }
        }
        catch (OperationCanceledException)
        {
            // Surplus (the queue drained: the raylet dropped the request) or shutdown.
            AskAgain(cls); // a cancel that raced a new task
            return;
        }
        catch (Exception e) when (IsNeverSchedulable(e, out var error))
        {
            // Canceled as never satisfiable (infeasible, hard affinity to a dead node, runtime env setup failed): every
            // task of the class fails, as Ray fails the scheduling key's queue on a canceled lease.
            List<(TaskManager.Entry Entry, TaskSpec)> failed = [];
            lock (_lock)
                while (cls.Ready.TryDequeue(out var queued)) failed.Add(queued);
            foreach (var (entry, _) in failed) _taskManager.FailTask(entry, error);
            return;
        }
        catch (Exception e)
        {
            await OnTransientLeaseFailureAsync(cls, e).ConfigureAwait(false);
            return;
        }
        LogLeaseGranted(_logger, lease.LeaseId, lease.NodeId, cls.Request.Description);
        var granted = new Actions();
        lock (_lock)
        {
            cls.ConsecutiveLeaseFailures = 0;
            cls.DeadNodeFailuresSince = 0;
            var held = new HeldLease(lease, cls, _time.GetTimestamp()) { Contended = lease.Contended };
            if (_isDisposed) RetireLocked(held, disconnect: false, granted);
            else
            {
                cls.Leases.Add(held);
                ScheduleLocked(cls, granted);
            }
        }
        granted.Run(this);
    }

    /// <summary>Pushes one task on a held lease and handles its reply, then gives the lease what is queued (or starts its
    /// linger).</summary>
    private async Task PushAndHandleAsync(HeldLease held, TaskManager.Entry entry, TaskSpec resolved)
    {
        var lease = held.Lease;
        long pushedAt = Stopwatch.GetTimestamp();
        bool disconnect = false;
        bool requeue = false;
        bool failed = true;
        try
        {
            var reply = await PushAsync(lease, entry, resolved).ConfigureAwait(false);
            failed = reply.Error is not null;
            if (reply.NotStarted)
            {
                // The task ahead of it blocked in Get: it runs elsewhere, at no cost to its retries.
                LogGivenBack(_logger, resolved.DisplayName, resolved.TaskId, lease.LeaseId);
                lock (_lock) held.Serial = true;
                requeue = entry.Status != TaskManager.Status.Finished;
                if (requeue && entry.CancelRequested)
                {
                    // Cancelled meanwhile: it is not sent anywhere else.
                    requeue = false;
                    _taskManager.FailTask(entry, RayErrorInfo.Cancelled(resolved.TaskId, resolved.DisplayName));
                }
            }
            else
            {
                bool workerDied = reply.Error is { Kind: ErrorKind.WorkerCrashed } && !reply.IsApplicationError;
                // The last attempt's worker died: say whether its node did (NodeDiedException) or only the worker.
                if (workerDied && entry.RetriesLeft == 0 && await _raylet.IsNodeDeadAsync(lease.NodeId, _disposed.Token).ConfigureAwait(false))
                    reply = reply with
                    {
                        Error = new RayErrorInfo
                        {
                            Kind = ErrorKind.NodeDied, NodeId = lease.NodeId,
                            Message = $"{entry.Spec.DisplayName} ({entry.Spec.TaskId}) was running on node {lease.NodeId}, which died, and its " +
                                $"retries are spent: {reply.Error!.Message}",
                        },
                    };
                // Do not push more work to a dead worker; the class asks for a new lease for what is left.
                disconnect = workerDied;
                requeue = _taskManager.HandleReply(entry, reply);
            }
        }
        catch (Exception e)
        {
            // A failure inside RaySharp while handling a reply: the task fails rather than hang, and the worker is not
            // trusted with more work.
            disconnect = true;
            LogReplyHandlingFailed(_logger, e, entry.Spec.DisplayName);
            _taskManager.FailTask(entry, InternalError(entry.Spec, e));
        }
        if (requeue) Queue(entry, resolved);
        var actions = new Actions();
        lock (_lock)
        {
            var cls = held.Class;
            held.InFlight--;
            held.Exclusive = false;
            long now = Stopwatch.GetTimestamp();
            if (!disconnect && !requeue)
            {
                // The worker's time on this task: from its push, or from the reply before it when it waited in the pipeline.
                long sample = now - Math.Max(pushedAt, held.LastActivity);
                cls.ServiceTicks = cls.ServiceTicks <= 0 ? sample : cls.ServiceTicks * 0.8 + sample * 0.2;
            }
            held.LastActivity = now;
            held.LastFailed = failed;
            if (disconnect) RetireLocked(held, disconnect: true, actions);
            else if (held.Done) { }
            else if (held.InFlight == 0 && IsExpired(held) || _isDisposed && held.InFlight == 0) RetireLocked(held, disconnect: false, actions);
            ScheduleLocked(cls, actions);
        }
        actions.Run(this);
    }

    /// <summary>The class's lease request, sent toward the node that holds most of the argument bytes of the task at the
    /// head of its queue (Ray's locality-aware lease policy), when its strategy leaves the node open.</summary>
    private LeaseRequest WithLocality(SchedulingClass cls)
    {
        TaskSpec? head;
        lock (_lock) head = cls.Ready.TryPeek(out var first) ? first.Resolved : null;
        if (head is null) return cls.Request;
        NodeId best = default;
        long bestBytes = 0;
        Dictionary<NodeId, long>? bytes = null;
        List<(ObjectId, NodeId)>? storeArgs = null;
        foreach (var arg in head.Args)
        {
            if (!arg.IsInStore) continue;
            bytes ??= [];
            (storeArgs ??= []).Add((arg.Id, arg.StoreNode));
            long total = bytes[arg.StoreNode] = bytes.GetValueOrDefault(arg.StoreNode) + arg.StoreSize;
            if (total > bestBytes) (best, bestBytes) = (arg.StoreNode, total);
        }
        if (storeArgs is null) return cls.Request;
        // Locality only where the strategy leaves the node open; the granting raylet pulls the arguments either way.
        return cls.Request with { PreferredNode = cls.Request.Strategy is DefaultSchedulingStrategy ? best : default, StoreArgs = storeArgs };
    }

    private static bool IsNeverSchedulable(Exception e, out RayErrorInfo error)
    {
        error = null!;
        if (e is not (TaskUnschedulableException or ActorUnschedulableException or RuntimeEnvSetupException or PlacementGroupSchedulingException)) return false;
        error = RayErrorInfo.FromRayException((RayException)e)!;
        return true;
    }

    /// <summary>
    /// A lease request failed for a reason that says nothing about the work itself: the worker the raylet started
    /// died before registering (a rejected reply), the spillback node is gone, the RPC failed. Ray retries such
    /// lease requests and fails tasks only when a request is canceled as unschedulable. RaySharp also retries, with
    /// exponential backoff, but charges each failed attempt to the head task of the class — the one the lease was
    /// requested for — against its own <c>MaxRetries</c>, so a raylet that keeps failing fails tasks one at a time once
    /// their retries are spent rather than hanging them forever; the tasks behind it stay queued.
    /// </summary>
    private async Task OnTransientLeaseFailureAsync(SchedulingClass cls, Exception e)
    {
        TaskManager.Entry? exhausted = null;
        int failures;
        lock (_lock)
        {
            failures = ++cls.ConsecutiveLeaseFailures;
            while (cls.Ready.TryPeek(out var head) && head.Entry.Status == TaskManager.Status.Finished) cls.Ready.Dequeue();
            // A node that died after a raylet (or the locality choice) picked it costs no retries (as in Ray, where only the task's own failures do).
            // For a while: once the GCS declares the node dead (its health checks) the raylets choose other nodes, and
            // an unanswering node that the GCS still believes alive costs retries after that, as any failure does.
            bool free = false;
            if (e is RayletUnreachableException { RemoteNode: not null })
            {
                long now = Environment.TickCount64;
                if (cls.DeadNodeFailuresSince == 0) cls.DeadNodeFailuresSince = now;
                free = now - cls.DeadNodeFailuresSince < (long)_deadNodeGrace.TotalMilliseconds;
            }
            if (!free && cls.Ready.TryPeek(out var first))
            {
                if (first.Entry.RetriesLeft == 0) exhausted = cls.Ready.Dequeue().Entry;
                else
                {
                    TaskManager.RecordRetry(first.Entry.Spec);
                    if (first.Entry.RetriesLeft > 0) first.Entry.RetriesLeft--;
                }
            }
        }
        LogLeaseFailed(_logger, e, cls.Request.Description, failures);
        if (exhausted is not null)
            _taskManager.FailTask(exhausted, new RayErrorInfo
            {
                Kind = ErrorKind.WorkerCrashed,
                Message = $"{exhausted.Spec.DisplayName} ({exhausted.Spec.TaskId}) got no worker: its lease request failed " +
                    $"{failures} times in a row and its retries are spent. Last failure: {Describe(e)}",
            });
        try
        {
            var backoff = TimeSpan.FromMilliseconds(Math.Min(LeaseRetryMaxBackoff.TotalMilliseconds,
                LeaseRetryBaseBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16))));
            await Task.Delay(backoff, _disposed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        AskAgain(cls);
    }

    private void AskAgain(SchedulingClass cls)
    {
        var actions = new Actions();
        lock (_lock) RequestLeasesLocked(cls, actions);
        actions.Run(this);
    }

    private static string Describe(Exception e) => e switch
    {
        LeaseRejectedException or RayletUnreachableException => e.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    internal static readonly TimeSpan LeaseRetryBaseBackoff = TimeSpan.FromMilliseconds(50);
    internal static readonly TimeSpan LeaseRetryMaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>Pushes one task to the leased worker. A push that throws instead of replying (the worker's connection
    /// broke, the RPC failed) counts as the worker dying under the task: a system failure, retried per MaxRetries.</summary>
    private async Task<PushTaskReply> PushAsync(WorkerLease lease, TaskManager.Entry entry, TaskSpec resolved)
    {
        try
        {
            entry.RunningOn = lease.Worker;
            entry.Status = TaskManager.Status.Running;
            _taskManager.RecordEvent(entry, RayTaskStatus.SubmittedToWorker, lease.NodeId);
            LogPushing(_logger, resolved.DisplayName, resolved.TaskId, lease.LeaseId);
            return await lease.Worker.PushTaskAsync(resolved, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogPushFailed(_logger, e, resolved.DisplayName, resolved.TaskId, lease.NodeId);
            return PushTaskReply.WorkerDied(
                $"Pushing {resolved.DisplayName} to its worker on node {lease.NodeId} failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            entry.RunningOn = null;
        }
    }

    private static RayErrorInfo InternalError(TaskSpec spec, Exception e) => InternalError(spec.DisplayName, e);

    private static RayErrorInfo InternalError(string what, Exception e) => new()
    {
        Kind = ErrorKind.WorkerCrashed,
        Message = $"Submitting {what} failed inside RaySharp: {e.GetType().Name}: {e.Message}",
    };

    /// <summary>Stops asking for leases and returns every held lease (those with tasks still running disconnect their
    /// workers: the tasks were failed at shutdown).</summary>
    public void Dispose()
    {
        var actions = new Actions();
        lock (_lock)
        {
            if (_isDisposed) return;
            _isDisposed = true;
            foreach (var cls in _classes.Values)
            {
                for (int i = cls.Leases.Count - 1; i >= 0; i--)
                    RetireLocked(cls.Leases[i], disconnect: cls.Leases[i].InFlight > 0, actions);
                // Withdrawn where they wait, so that the raylet does not grant them to nobody.
                (actions.Cancels ??= []).AddRange(cls.PendingRequests);
                cls.PendingRequests.Clear();
            }
        }
        _disposed.Cancel();
        _lingerTimer.Dispose();
        actions.Run(this);
    }

    // The submission path logs through source-generated methods: nothing is formatted unless the level is on.

    [LoggerMessage(Level = LogLevel.Trace, Message = "Queued {Task} ({TaskId}) for a worker lease; {Ready} ready in its scheduling class")]
    private static partial void LogQueued(ILogger logger, string task, TaskId taskId, int ready);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Requesting a worker lease for {Task} ({Pending} requests pending)")]
    private static partial void LogRequestingLease(ILogger logger, string task, int pending);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease {LeaseId} granted on node {NodeId} for {Task}")]
    private static partial void LogLeaseGranted(ILogger logger, long leaseId, NodeId nodeId, string task);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Pushing {Task} ({TaskId}) under lease {LeaseId}")]
    private static partial void LogPushing(ILogger logger, string task, TaskId taskId, long leaseId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Returning lease {LeaseId} (disconnect the worker: {Disconnect})")]
    private static partial void LogReturningLease(ILogger logger, long leaseId, bool disconnect);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Requesting a worker lease for {Task} failed ({Failures} in a row); asking again after a backoff")]
    private static partial void LogLeaseFailed(ILogger logger, Exception e, string task, int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the reply of {Task} failed inside RaySharp")]
    private static partial void LogReplyHandlingFailed(ILogger logger, Exception e, string? task);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Returning the lease {LeaseId} (with {Count} leases in all) to the raylet failed")]
    private static partial void LogReturnFailed(ILogger logger, Exception e, long leaseId, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Canceling a lease request for {Task}: its queue has drained into held leases")]
    private static partial void LogCancelingLeaseRequest(ILogger logger, string task);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Task} ({TaskId}) was given back unstarted under lease {LeaseId} (the task ahead of it blocked); queuing it again")]
    private static partial void LogGivenBack(ILogger logger, string task, TaskId taskId, long leaseId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Returning idle worker leases failed inside RaySharp")]
    private static partial void LogLingerFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Returning {Count} idle leases on node {NodeId}: other owners wait for resources there")]
    private static partial void LogReturningIdleForOthers(ILogger logger, int count, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pushing {Task} ({TaskId}) to the worker leased on node {NodeId} failed; treating the worker as dead")]
    private static partial void LogPushFailed(ILogger logger, Exception e, string task, TaskId taskId, NodeId nodeId);
}

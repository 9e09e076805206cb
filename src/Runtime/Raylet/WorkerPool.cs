using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>A worker this raylet started: a process, or in local mode a thread of this process.</summary>
internal sealed class WorkerProcess
{
    public required WorkerId WorkerId { get; init; }
    public required JobId JobId { get; init; }
    public required string RuntimeEnvKey { get; init; }
    /// <summary>Set once the launcher started it (a worker is in the pool's table from just before).</summary>
    public IWorkerHandle? Handle { get; set; }
    public int ProcessId => Handle?.ProcessId ?? 0;
    public Address? Address { get; set; }
    public TaskCompletionSource<WorkerProcess> Registered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>1 while it holds one of the pool's start slots (it was started and has not registered or exited yet).</summary>
    public int StartSlotHeld;
    /// <summary>1: no lease waits for it; it joins the idle pool when it registers.</summary>
    public int Unclaimed;
    public volatile string? DeathReason;
    public long LeaseId { get; set; }
    public bool IsActor { get; set; }
    /// <summary>Its task is blocked in Get: it holds no CPU and does not count against the pool's limits.</summary>
    public bool Blocked { get; set; }
    public long IdleSinceTicks { get; set; }
}

/// <summary>What a popped worker will run, which decides the limit its start waits for.</summary>
internal enum WorkerUse
{
    /// <summary>A task whose resource request bounds how many run at once: only the hard cap applies.</summary>
    Task,

    /// <summary>A task that requests no resources at all: the soft limit applies too, or such tasks could fork
    /// workers without bound.</summary>
    ZeroResourceTask,

    /// <summary>An actor: it holds its worker for life; only the hard cap applies.</summary>
    Actor,
}

/// <summary>A started worker died or timed out before it registered: the next attempt may well work, so the lease
/// request is rejected (asked again), not canceled.</summary>
internal sealed class WorkerStartupFailedException(string message) : Exception(message);

/// <summary>
/// Starts, reuses and stops workers (Ray's <c>WorkerPool</c>) through an <see cref="IWorkerLauncher"/>. Workers are keyed by job and runtime
/// environment: a task only runs on a worker started for its job (the job's code search path) with its env vars
/// set on the process. Idle workers are kept up to the soft limit (<c>num_workers_soft_limit</c>, the node's CPU
/// count); extras are stopped after they idle <see cref="RayConfig.IdleWorkerKillingTime"/>. Each worker's stdin is a
/// pipe from this process: when the raylet goes away, the worker reads end-of-file and exits, so a crashed raylet
/// leaves no orphans.
/// <para>How many workers run is capped. A lease that requests no resources at all needs a new worker only while
/// fewer than the soft limit of the node's task workers are running (workers of actors and workers whose task is
/// blocked in Get do not count: a blocked task gave its CPU back, and counting it would deadlock nested tasks);
/// every task lease needs fewer than <c>max_worker_processes_per_node</c> live task workers (blocked ones again aside;
/// actors' workers neither count nor wait, as in Ray). At a
/// limit the longest-idle worker of another job or env is stopped to make room; with none idle the lease waits,
/// granted, in the pool until a worker is returned, blocks or exits. At most <c>maximum_startup_concurrency</c>
/// workers start at once.</para>
/// </summary>
internal sealed partial class WorkerPool : IDisposable
{
    /// <summary>A pop waiting for the worker started for it; a worker returned first is handed to it instead.</summary>
    private sealed class PendingPop((JobId, string) key, WorkerUse use)
    {
        public (JobId, string) Key { get; } = key;
        public WorkerUse Use { get; } = use;
        public TaskCompletionSource<WorkerProcess> Handed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<PendingPop>? Node { get; set; }
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<(JobId, string), Stack<WorkerProcess>> _idle = [];
    private readonly Dictionary<WorkerId, WorkerProcess> _all = [];
    private readonly Dictionary<(JobId, string), List<WorkerProcess>> _prestarting = [];
    // Pops waiting for a worker that is starting for them, oldest first: a worker returned meanwhile is handed to the
    // oldest (Ray's pending pop-worker requests), and the one starting joins the idle pool when it registers.
    private readonly Dictionary<(JobId, string), LinkedList<PendingPop>> _pendingPops = [];
    private readonly HashSet<JobId> _prestartedJobs = [];
    private readonly HashSet<JobId> _finishedJobs = [];
    private readonly NodeId _nodeId;
    private readonly IWorkerLauncher _launcher;
    private readonly Func<string> _rayletEndpoint;
    private readonly Func<string> _gcsEndpoint;
    private readonly Func<JobId, CancellationToken, Task<JobRecord>> _getJob;
    private readonly Action<WorkerProcess, string> _onWorkerDied;
    private readonly ILogger _logger;
    private readonly RayConfig _config;
    private readonly int _softLimit;
    private readonly int _hardLimit;
    private readonly int _maxStarting;
    private readonly SemaphoreSlim _startSlots;
    private readonly Timer _idleKiller;
    // Completed (and replaced) whenever a worker may have become available or stopped counting against a limit.
    private TaskCompletionSource _workersChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _warnedAtLimit;
    private bool _disposed;

    /// <param name="nodeId">This node.</param>
    /// <param name="numCpus">The node's CPU count: the default soft limit and startup concurrency.</param>
    /// <param name="config">Limits and timeouts.</param>
    /// <param name="launcher">Starts workers: processes, or threads in local mode.</param>
    /// <param name="rayletEndpoint">Where a new worker reaches this raylet (known once the raylet serves).</param>
    /// <param name="gcsEndpoint">Where a new worker reaches the GCS.</param>
    /// <param name="getJob">The job's record (code search path, namespace, env vars) from the GCS.</param>
    /// <param name="onWorkerDied">Called once for each worker that ends while the pool runs.</param>
    /// <param name="logger">The raylet's log.</param>
    public WorkerPool(NodeId nodeId, int numCpus, RayConfig config, IWorkerLauncher launcher, Func<string> rayletEndpoint, Func<string> gcsEndpoint,
        Func<JobId, CancellationToken, Task<JobRecord>> getJob, Action<WorkerProcess, string> onWorkerDied, ILogger<WorkerPool> logger)
    {
        _nodeId = nodeId;
        numCpus = Math.Max(0, numCpus);
        _softLimit = config.NumWorkersSoftLimit > 0 ? config.NumWorkersSoftLimit : Math.Max(1, numCpus);
        _hardLimit = config.MaxWorkerProcessesPerNode > 0 ? config.MaxWorkerProcessesPerNode : 4 * numCpus + 64;
        _maxStarting = config.MaximumStartupConcurrency > 0 ? config.MaximumStartupConcurrency : Math.Max(1, numCpus);
        _startSlots = new SemaphoreSlim(_maxStarting, _maxStarting);
        _config = config;
        _launcher = launcher;
        _rayletEndpoint = rayletEndpoint;
        _gcsEndpoint = gcsEndpoint;
        _getJob = getJob;
        _onWorkerDied = onWorkerDied;
        _logger = logger;
        _idleKiller = new Timer(_ => KillIdleExtras(), null, config.IdleWorkerKillingTime, config.IdleWorkerKillingTime);
    }

    /// <summary>The addresses of the registered workers.</summary>
    public IReadOnlyList<Address> WorkerAddresses()
    {
        lock (_lock) return [.. _all.Values.Select(w => w.Address).OfType<Address>()];
    }

    public int NumWorkers
    {
        get { lock (_lock) return _all.Count; }
    }

    /// <summary>The pool's workers for <c>raysharp.workers</c>: alive (registered), starting (not yet registered) and
    /// idle (registered and in the pool, not leased).</summary>
    public IEnumerable<System.Diagnostics.Metrics.Measurement<long>> Measurements()
    {
        int alive = 0, starting = 0, idle = 0;
        lock (_lock)
        {
            foreach (var w in _all.Values)
            {
                if (w.Registered.Task.IsCompletedSuccessfully) alive++;
                else if (!w.Registered.Task.IsCompleted) starting++;
            }
            foreach (var stack in _idle.Values) idle += stack.Count;
        }
        return [new(alive, Stats.RayMetrics.StateTag("alive")), new(starting, Stats.RayMetrics.StateTag("starting")), new(idle, Stats.RayMetrics.StateTag("idle"))];
    }

    /// <summary>An idle worker for the job and environment, or a newly started one once it has registered. When the
    /// node is at a worker limit for <paramref name="use"/>, waits until a worker is returned, blocks or exits. The task's
    /// own unpacked working dir (<paramref name="workingDir"/>, from its runtime env) replaces the job's.</summary>
    public async Task<WorkerProcess> PopWorkerAsync(JobId jobId, string envKey, Dictionary<string, string>? envVars, WorkerUse use, CancellationToken ct,
        string? workingDir = null)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (TakeIdleLocked(jobId, envKey, use) is { } idle) return idle;
        }
        var job = await _getJob(jobId, ct).ConfigureAwait(false);
        if (workingDir is not null) job = InWorkingDir(job, workingDir);
        WorkerProcess worker;
        WorkerProcess? evicted;
        bool prestarted;
        PendingPop pending;
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_finishedJobs.Contains(jobId) || job.IsDead)
                    throw new InvalidOperationException($"Job {jobId} has finished: no worker starts for it.");
                if (TakeIdleLocked(jobId, envKey, use) is { } idle) return idle;
                // A prestarted worker still starting up is claimed rather than starting another one.
                if (_prestarting.TryGetValue((jobId, envKey), out var starting) && starting.Count > 0)
                {
                    worker = starting[^1];
                    starting.RemoveAt(starting.Count - 1);
                    worker.IsActor = use == WorkerUse.Actor;
                    evicted = null;
                    prestarted = true;
                    pending = AwaitHandOffLocked(jobId, envKey, use);
                    break;
                }
                if (HasRoomLocked(use, evict: true, out evicted))
                {
                    worker = ReserveLocked(jobId, envKey, use);
                    prestarted = false;
                    pending = AwaitHandOffLocked(jobId, envKey, use);
                    break;
                }
                changed = _workersChanged.Task;
                if (!_warnedAtLimit)
                {
                    _warnedAtLimit = true;
                    LogAtWorkerLimit(_logger, _nodeId, _hardLimit);
                }
            }
            await changed.WaitAsync(ct).ConfigureAwait(false);
        }
        if (evicted is not null) Kill(evicted, "the node is at its worker limit and another job or runtime env needs a worker");
        if (!prestarted)
        {
            try
            {
                await StartAsync(worker, job, envVars, ct).ConfigureAwait(false);
            }
            catch
            {
                if (WithdrawHandOff(pending) is { } handed) PushWorker(handed);
                Forget(worker);
                throw;
            }
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_config.WorkerRegisterTimeout);
        try
        {
            await Task.WhenAny(worker.Registered.Task, pending.Handed.Task).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            if (WithdrawHandOff(pending) is { } handed) PushWorker(handed);
            Kill(worker, "it did not register in time");
            throw new WorkerStartupFailedException(
                $"A worker for job {jobId} did not start within {_config.WorkerRegisterTimeout.TotalSeconds:0} s; " +
                $"see {_launcher.LogPath(worker.WorkerId) ?? "the node's output"}.");
        }
        catch (OperationCanceledException)
        {
            // The request went away: keep the workers for the next one.
            if (WithdrawHandOff(pending) is { } handed) PushWorker(handed);
            PushWhenRegistered(worker);
            throw;
        }
        if (WithdrawHandOff(pending) is { } returned)
        {
            // A worker was returned before this one registered: the lease takes it, and this one joins the idle pool.
            PushWhenRegistered(worker);
            return returned;
        }
        return await worker.Registered.Task.ConfigureAwait(false);
    }

    private PendingPop AwaitHandOffLocked(JobId jobId, string envKey, WorkerUse use)
    {
        var pending = new PendingPop((jobId, envKey), use);
        if (!_pendingPops.TryGetValue((jobId, envKey), out var waiting)) _pendingPops[(jobId, envKey)] = waiting = new();
        pending.Node = waiting.AddLast(pending);
        return pending;
    }

    /// <summary>Stops waiting for a hand-off: the worker handed over before that, if one was.</summary>
    private WorkerProcess? WithdrawHandOff(PendingPop pending)
    {
        lock (_lock)
        {
            if (pending.Node is { List: { } list } node)
            {
                list.Remove(node);
                if (list.Count == 0) _pendingPops.Remove(pending.Key);
            }
            pending.Node = null;
            return pending.Handed.Task.IsCompletedSuccessfully ? pending.Handed.Task.Result : null;
        }
    }

    /// <summary>A worker no lease waits for any more joins the idle pool as it registers (at once if it has).</summary>
    private void PushWhenRegistered(WorkerProcess worker)
    {
        worker.IsActor = false;
        Volatile.Write(ref worker.Unclaimed, 1);
        if (worker.Registered.Task.IsCompletedSuccessfully && Interlocked.Exchange(ref worker.Unclaimed, 0) == 1) PushWorker(worker);
    }

    private WorkerProcess? TakeIdleLocked(JobId jobId, string envKey, WorkerUse use)
    {
        if (!_idle.TryGetValue((jobId, envKey), out var idle)) return null;
        while (idle.Count > 0)
        {
            var w = idle.Pop();
            if (w.DeathReason is not null) continue;
            w.IsActor = use == WorkerUse.Actor;
            return w;
        }
        return null;
    }

    /// <summary>Whether a worker for <paramref name="use"/> may start now. At a limit, with <paramref name="evict"/>, the
    /// longest-idle worker (of another job or env: one of the lease's own would have been taken) is taken out of the
    /// idle pool to be stopped, and makes room.</summary>
    private bool HasRoomLocked(WorkerUse use, bool evict, out WorkerProcess? evicted)
    {
        evicted = null;
        // An actor gets its own worker whatever the count (as in Ray, where only memory bounds how many actors a node
        // holds): the cap is there so resource-free tasks cannot start processes without end, and an actor is created
        // once, deliberately.
        if (use == WorkerUse.Actor) return true;
        int live = 0;
        foreach (var w in _all.Values)
        {
            // A worker being stopped, whose task is blocked in Get, or that belongs to an actor, does not count.
            if (w.DeathReason is not null || w.Blocked || w.IsActor) continue;
            live++;
        }
        // Every lease, with resources or not, waits only at the hard cap: a soft cap on resource-free tasks would deadlock
        // such tasks that wait for each other (a barrier of more of them than the node has CPUs). As in Ray, the soft
        // limit bounds the idle workers kept, not the workers that run.
        if (live < _hardLimit)
        {
            _warnedAtLimit = false;
            return true;
        }
        if (!evict) return false;
        foreach (var stack in _idle.Values)
            foreach (var w in stack)
                if (w.DeathReason is null && (evicted is null || w.IdleSinceTicks < evicted.IdleSinceTicks))
                    evicted = w;
        if (evicted is null) return false;
        RemoveIdleLocked(evicted);
        evicted.DeathReason ??= "the node is at its worker limit and another job or runtime env needs a worker";
        return true;
    }

    /// <summary>A worker entry counted against the limits from now on; started by <see cref="StartAsync"/>.</summary>
    private WorkerProcess ReserveLocked(JobId jobId, string envKey, WorkerUse use)
    {
        var worker = new WorkerProcess { WorkerId = WorkerId.FromRandom(), JobId = jobId, RuntimeEnvKey = envKey, IsActor = use == WorkerUse.Actor };
        _all[worker.WorkerId] = worker;
        return worker;
    }

    /// <summary>A reserved worker that was never started leaves the pool.</summary>
    private void Forget(WorkerProcess worker)
    {
        lock (_lock)
        {
            _all.Remove(worker.WorkerId);
            SignalLocked();
        }
    }

    private void SignalLocked()
    {
        var changed = _workersChanged;
        _workersChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    /// <summary>The first time a job leases a worker on this node, start workers up to the node's CPU count in the
    /// background (Ray prestarts workers for a new driver), so a burst of tasks does not wait for process starts.
    /// Prestarting stops at the soft limit.</summary>
    public void PrestartForJob(JobId jobId, int count)
    {
        lock (_lock)
        {
            if (_disposed || count <= 0 || _finishedJobs.Contains(jobId) || !_prestartedJobs.Add(jobId)) return;
        }
        _ = PrestartAsync(jobId, count);
    }

    private async Task PrestartAsync(JobId jobId, int count)
    {
        JobRecord job;
        try
        {
            job = await _getJob(jobId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or RayException or Grpc.Core.RpcException)
        {
            return;
        }
        for (int i = 0; i < count; i++)
        {
            WorkerProcess worker;
            lock (_lock)
            {
                if (_disposed || _finishedJobs.Contains(jobId) || !HasRoomLocked(WorkerUse.ZeroResourceTask, evict: false, out _)) return;
                worker = ReserveLocked(jobId, "", WorkerUse.Task);
            }
            try
            {
                await StartAsync(worker, job, null, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
            {
                Forget(worker);
                LogPrestartFailed(_logger, jobId, e.Message);
                return;
            }
            lock (_lock)
            {
                if (!_prestarting.TryGetValue((jobId, ""), out var list)) _prestarting[(jobId, "")] = list = [];
                list.Add(worker);
            }
            _ = worker.Registered.Task.ContinueWith(t =>
            {
                bool unclaimed;
                lock (_lock) unclaimed = _prestarting.TryGetValue((jobId, ""), out var list) && list.Remove(worker);
                if (unclaimed && t.IsCompletedSuccessfully) PushWorker(worker);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Starts a reserved worker once fewer than <c>maximum_startup_concurrency</c> are starting (Ray's limit).
    /// The slot is held until the worker registers or exits.</summary>
    private async Task StartAsync(WorkerProcess worker, JobRecord job, Dictionary<string, string>? envVars, CancellationToken ct)
    {
        await _startSlots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            lock (_lock) ObjectDisposedException.ThrowIf(_disposed, this);
            worker.Handle = _launcher.Start(new WorkerStartInfo(worker.WorkerId, _nodeId, job, envVars, _rayletEndpoint(), _gcsEndpoint()),
                () => OnExited(worker));
        }
        catch
        {
            _startSlots.Release();
            throw;
        }
        // Given back when it registers or exits, before anyone waiting on that hears of it; it may have done either already.
        Volatile.Write(ref worker.StartSlotHeld, 1);
        if (worker.Registered.Task.IsCompleted) ReleaseStartSlot(worker);
        LogWorkerStarted(_logger, worker.WorkerId, worker.ProcessId, job.JobId);
    }

    /// <summary>The job as a worker running in the unpacked working dir <paramref name="directory"/> sees it: that is its
    /// current directory, and, when the package carries the job's worker program (the job's build output was uploaded), its
    /// code search path too, so no file of the driver's machine is needed.</summary>
    public static JobRecord InWorkingDir(JobRecord job, string directory) => job with
    {
        LocalWorkingDir = directory,
        CodeSearchPath = job.WorkerProgram is { } program && !Path.IsPathRooted(program) && File.Exists(Path.Combine(directory, program))
            ? directory : job.CodeSearchPath,
    };

    /// <summary>Workers starting now (launched, not yet registered or exited).</summary>
    public int NumStarting => _maxStarting - _startSlots.CurrentCount;

    /// <summary>A started worker reports its endpoint; false when this pool did not start it.</summary>
    public bool OnWorkerRegistered(RegisterWorkerRequest request)
    {
        WorkerProcess? worker;
        lock (_lock) _all.TryGetValue(request.WorkerId, out worker);
        if (worker is null) return false;
        worker.Address = request.Address;
        ReleaseStartSlot(worker);
        worker.Registered.TrySetResult(worker);
        if (Interlocked.Exchange(ref worker.Unclaimed, 0) == 1) PushWorker(worker);
        return true;
    }

    private void ReleaseStartSlot(WorkerProcess worker)
    {
        if (Interlocked.Exchange(ref worker.StartSlotHeld, 0) == 1) _startSlots.Release();
    }

    public WorkerProcess? Get(WorkerId id)
    {
        lock (_lock) return _all.GetValueOrDefault(id);
    }

    /// <summary>Returns a worker to the idle pool (it keeps running for the next task of its job and env).</summary>
    public void PushWorker(WorkerProcess worker)
    {
        if (worker.DeathReason is not null) return;
        lock (_lock)
        {
            if (_disposed) return;
            worker.IdleSinceTicks = Environment.TickCount64;
            worker.LeaseId = 0;
            worker.Blocked = false;
            var key = (worker.JobId, worker.RuntimeEnvKey);
            if (_pendingPops.TryGetValue(key, out var waiting))
            {
                // A lease is waiting for a worker still starting: it takes this one now.
                var first = waiting.First!;
                waiting.RemoveFirst();
                if (waiting.Count == 0) _pendingPops.Remove(key);
                first.Value.Node = null;
                worker.IsActor = first.Value.Use == WorkerUse.Actor;
                first.Value.Handed.TrySetResult(worker);
                return;
            }
            if (!_idle.TryGetValue(key, out var stack)) _idle[key] = stack = new();
            stack.Push(worker);
            SignalLocked();
        }
    }

    /// <summary>The worker's task blocked in Get or resumed: while blocked it does not count against the limits, so
    /// a task waiting for its children cannot keep them from getting workers.</summary>
    public void SetBlocked(WorkerProcess worker, bool blocked)
    {
        lock (_lock)
        {
            if (worker.Blocked == blocked) return;
            worker.Blocked = blocked;
            if (blocked) SignalLocked();
        }
    }

    private void KillIdleExtras()
    {
        // A timer callback that threw would be lost (or take the raylet down); one bad pass must not stop the pool.
        try
        {
            KillIdleExtrasOnce();
        }
        catch (Exception e)
        {
            LogIdleKillFailed(_logger, e, _nodeId, _config.IdleWorkerKillingTime);
        }
    }

    private void KillIdleExtrasOnce()
    {
        var kill = new List<WorkerProcess>();
        lock (_lock)
        {
            int idleCount = _idle.Values.Sum(s => s.Count);
            long threshold = Environment.TickCount64 - (long)_config.IdleWorkerKillingTime.TotalMilliseconds;
            foreach (var stack in _idle.Values)
            {
                if (idleCount <= _softLimit) break;
                // The longest idle go first; the stack lists the newest first, so bottom-up keeps pushes within one
                // clock tick in idle order.
                var old = stack.Reverse().Where(w => w.IdleSinceTicks <= threshold).OrderBy(w => w.IdleSinceTicks).Take(idleCount - _softLimit).ToList();
                if (old.Count == 0) continue;
                var rest = stack.Except(old).Reverse().ToList();
                stack.Clear();
                foreach (var w in rest) stack.Push(w);
                idleCount -= old.Count;
                kill.AddRange(old);
            }
        }
        foreach (var w in kill) Kill(w, "it was idle and the pool has enough workers");
    }

    /// <summary>The job finished: its idle and starting workers exit, and no new ones start for it.</summary>
    public void OnJobFinished(JobId jobId)
    {
        List<WorkerProcess> kill = [];
        lock (_lock)
        {
            if (!_finishedJobs.Add(jobId)) return;
            foreach (var key in _idle.Keys.Where(k => k.Item1 == jobId).ToList())
            {
                kill.AddRange(_idle[key]);
                _idle.Remove(key);
            }
            foreach (var key in _prestarting.Keys.Where(k => k.Item1 == jobId).ToList())
            {
                kill.AddRange(_prestarting[key]);
                _prestarting.Remove(key);
            }
        }
        foreach (var w in kill) Kill(w, $"its job {jobId} finished");
    }

    /// <summary>Stops the worker at once (SIGKILL for a process: a worker holds no state its owners still need).</summary>
    public void Kill(WorkerProcess worker, string reason)
    {
        lock (_lock)
        {
            worker.DeathReason ??= reason;
            // A worker being stopped no longer counts against the limits.
            SignalLocked();
        }
        worker.Handle?.Kill(reason);
    }

    private void RemoveIdleLocked(WorkerProcess worker)
    {
        if (!_idle.TryGetValue((worker.JobId, worker.RuntimeEnvKey), out var stack) || !stack.Contains(worker)) return;
        var rest = stack.Where(w => w != worker).Reverse().ToList();
        stack.Clear();
        foreach (var w in rest) stack.Push(w);
    }

    private void OnExited(WorkerProcess worker)
    {
        bool wasDisposed;
        lock (_lock)
        {
            _all.Remove(worker.WorkerId);
            wasDisposed = _disposed;
            // A worker that died while idle must not be handed out or counted as idle.
            RemoveIdleLocked(worker);
            SignalLocked();
        }
        string reason = worker.DeathReason ?? worker.Handle?.ExitDescription ?? "the worker ended";
        worker.DeathReason ??= reason;
        ReleaseStartSlot(worker);
        worker.Registered.TrySetException(new WorkerStartupFailedException($"The worker exited before it registered: {reason}."));
        if (worker.Address is { } a)
        {
            // Both ways this process may have reached it: no channel to a dead worker stays in the process's table.
            RpcChannels.Forget(a.Endpoint);
            if (a.Socket is { } socket) RpcChannels.Forget("unix:" + socket);
        }
        if (!wasDisposed) _onWorkerDied(worker, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} is at its worker limit ({Hard} task worker processes not blocked in Get, " +
        "max_worker_processes_per_node): leases wait for a worker to be returned")]
    private static partial void LogAtWorkerLimit(ILogger logger, NodeId nodeId, int hard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not prestart a worker for job {JobId}: {Message}")]
    private static partial void LogPrestartFailed(ILogger logger, JobId jobId, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started worker {WorkerId} (pid {Pid}) for job {JobId}")]
    private static partial void LogWorkerStarted(ILogger logger, WorkerId workerId, int pid, JobId jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stopping idle workers on node {NodeId} failed; trying again in {Period}")]
    private static partial void LogIdleKillFailed(ILogger logger, Exception e, NodeId nodeId, TimeSpan period);

    public void Dispose()
    {
        List<WorkerProcess> all;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            all = [.. _all.Values];
            _idle.Clear();
            SignalLocked(); // waiting pops see the pool disposed
        }
        _idleKiller.Dispose();
        foreach (var w in all) Kill(w, "the raylet shut down");
        foreach (var w in all) w.Handle?.WaitForExit(TimeSpan.FromSeconds(2));
    }
}

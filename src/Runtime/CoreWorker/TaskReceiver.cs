using System.Collections.Concurrent;

namespace RaySharp.Core;

/// <summary>
/// A worker's task receiver (Ray's <c>TaskReceiver</c>): runs the tasks pushed to the worker on a dedicated thread,
/// one at a time. A worker that receives an actor creation task becomes that actor's worker for the rest of its
/// life, and runs its calls as Ray does:
/// <list type="bullet">
/// <item>a sync actor (MaxConcurrency 1, no async methods) runs every call on that thread, in arrival order;</item>
/// <item>a threaded actor (MaxConcurrency above 1, no async methods) runs up to MaxConcurrency calls at once, on at
/// most MaxConcurrency dedicated threads (Ray's <c>BoundedExecutor</c>), started in arrival order;</item>
/// <item>an async actor (any async method) runs up to MaxConcurrency calls at once; its async methods run on the
/// async context (their awaits hold no thread), its sync methods one at a time on the worker's thread, in arrival
/// order — where Ray runs them on the actor's one event-loop thread.</item>
/// </list>
/// A worker process has one; in local mode each worker thread is one.
/// </summary>
internal sealed class TaskReceiver : ICoreWorkerClient, IExecutingWorker, IDisposable
{
    private readonly BoundedExecutor _thread;
    private readonly TaskExecutor _executor;
    private readonly IRayletClient _raylet;
    private readonly ConcurrentDictionary<TaskId, CancellationTokenSource> _running = new();
    private readonly CancellationTokenSource _dead = new();
    // An async actor's calls in flight, async and sync alike (a threaded actor's are bounded by its threads).
    private SemaphoreSlim? _concurrency;
    private volatile string? _deathReason;

    /// <summary>A normal task pushed here that has not started: its owner pipelines tasks on the lease, so several wait
    /// behind the running one.</summary>
    private sealed class Queued(TaskSpec task, CancellationTokenSource cts, TaskCompletionSource<PushTaskReply> done)
    {
        public TaskSpec Task { get; } = task;
        public CancellationTokenSource Cancellation { get; } = cts;
        public TaskCompletionSource<PushTaskReply> Done { get; } = done;

        /// <summary>0: waiting; 1: started; 2: given back or canceled before it started.</summary>
        public int State;
    }

    private readonly ConcurrentDictionary<TaskId, Queued> _queued = new();

    // The running normal task is blocked in Get: tasks queued behind it would wait for however long that takes (and
    // deadlock if it waits for one of them), so they go back to their owner, which runs them elsewhere.
    private volatile bool _blocked;

    public TaskReceiver(TaskExecutor executor, IRayletClient raylet, WorkerId workerId)
    {
        _executor = executor;
        _raylet = raylet;
        WorkerId = workerId;
        _thread = new BoundedExecutor(1, $"RaySharp worker {WorkerId.ToString()[..8]}");
    }

    public WorkerId WorkerId { get; }

    /// <summary>Called when the actor on this worker exits by itself (Ray.ExitActor).</summary>
    public Action<string>? OnActorExit { get; set; }
    public WorkerLease? Lease { get; set; }
    public ActorState? Actor { get; private set; }
    public ResourceSet AssignedResources => Lease?.Resources ?? ResourceSet.Empty;
    public bool IsDead => _deathReason is not null;

    public Task<PushTaskReply> PushTaskAsync(TaskSpec task, CancellationToken ct)
    {
        if (_deathReason is { } reason) return Task.FromResult(PushTaskReply.WorkerDied(reason));
        // Its cancel overtook it (the owner sent both, on different calls): it never starts.
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_dead.Token);
        var done = new TaskCompletionSource<PushTaskReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        Queued? queued = null;
        // Checked and registered under one lock with RememberCancelIfAbsent: a cancel either finds the task registered
        // here (a normal task among the queued ones, so that it is dropped rather than left to wait its turn) or leaves a
        // note that this check sees, never neither.
        lock (_arrivalLock)
        {
            if (task.Type is TaskType.NormalTask or TaskType.ActorTask && _canceledBeforeArrival.TryRemove(task.TaskId, out _))
            {
                cts.Dispose();
                return Task.FromResult(new PushTaskReply([], RayErrorInfo.Cancelled(task.TaskId, task.DisplayName), false));
            }
            _running[task.TaskId] = cts;
            if (Actor is null && task.Type == TaskType.NormalTask) _queued[task.TaskId] = queued = new Queued(task, cts, done);
        }

        if (task.Type == TaskType.ActorCreationTask)
        {
            var creation = task.ActorCreation!;
            Actor = new ActorState(creation, numRestarts: task.AttemptNumber, task.Strategy);
            if (Actor.IsAsync) _concurrency = new SemaphoreSlim(Math.Max(1, creation.MaxConcurrency));
            else _thread.RaiseBound(creation.MaxConcurrency);
            Enqueue(task, cts, done);
        }
        else if (Actor is { IsAsync: true })
        {
            _ = RunAsyncActorCallAsync(task, cts, done);
        }
        else if (queued is not null)
        {
            EnqueueNormal(queued);
        }
        else
        {
            Enqueue(task, cts, done);
        }
        return done.Task;
    }

    private void EnqueueNormal(Queued queued)
    {
        var (task, cts, done) = (queued.Task, queued.Cancellation, queued.Done);
        // Pushed while the running task is blocked (before its owner heard of the tasks given back): given back too.
        if (_blocked)
        {
            GiveBack(queued, PushTaskReply.GivenBack);
            return;
        }
        if (_thread.TryPost(() =>
            {
                if (Interlocked.CompareExchange(ref queued.State, 1, 0) != 0) return; // given back meanwhile
                _queued.TryRemove(task.TaskId, out _);
                done.TrySetResult(ExecuteOnThisThread(task, cts));
            }))
            return;
        if (Interlocked.CompareExchange(ref queued.State, 2, 0) != 0) return;
        _queued.TryRemove(task.TaskId, out _);
        _running.TryRemove(task.TaskId, out _);
        done.TrySetResult(PushTaskReply.WorkerDied(_deathReason ?? "the worker stopped"));
    }

    /// <summary>Answers a queued task that has not started with <paramref name="reply"/> instead of running it; false when
    /// it started (or was answered) already.</summary>
    private bool GiveBack(Queued queued, PushTaskReply reply)
    {
        if (Interlocked.CompareExchange(ref queued.State, 2, 0) != 0) return false;
        _queued.TryRemove(queued.Task.TaskId, out _);
        _running.TryRemove(queued.Task.TaskId, out _);
        queued.Cancellation.Dispose();
        queued.Done.TrySetResult(reply);
        return true;
    }

    /// <summary>Cancels a task queued here that has not started (it never runs); false when it is not queued here.</summary>
    public bool TryCancelQueued(TaskId taskId) =>
        _queued.TryGetValue(taskId, out var queued) && GiveBack(queued, new PushTaskReply([], RayErrorInfo.Cancelled(taskId, queued.Task.DisplayName), false));

    /// <summary>Runs the task on the worker's threads; <paramref name="release"/>, if any, once it is done.</summary>
    private void Enqueue(TaskSpec task, CancellationTokenSource cts, TaskCompletionSource<PushTaskReply> done, SemaphoreSlim? release = null)
    {
        if (_thread.TryPost(() =>
            {
                var reply = ExecuteOnThisThread(task, cts);
                release?.Release();
                done.TrySetResult(reply);
            }))
            return;
        release?.Release();
        done.TrySetResult(PushTaskReply.WorkerDied(_deathReason ?? "the worker stopped"));
    }

    private PushTaskReply ExecuteOnThisThread(TaskSpec task, CancellationTokenSource cts)
    {
        try
        {
            if (_deathReason is { } reason) return PushTaskReply.WorkerDied(reason);
            // Cancelled while it waited for a thread: it never starts.
            if (cts.IsCancellationRequested && task.Type is TaskType.ActorTask or TaskType.NormalTask)
                return new PushTaskReply([], RayErrorInfo.Cancelled(task.TaskId, task.DisplayName), false);
            // A leased worker is dedicated to its task, so blocking its thread on an async invoker is what a
            // worker process's main thread would do too.
            return _executor.ExecuteAsync(task, this, Actor, cts.Token).GetAwaiter().GetResult();
        }
        finally
        {
            _running.TryRemove(task.TaskId, out _);
            cts.Dispose();
            ExitIfRequested();
        }
    }

    private void ExitIfRequested()
    {
        if (Actor is not { ExitRequested: true } || _deathReason is not null) return;
        const string reason = "the actor exited by calling Ray.ExitActor()";
        DisposeInstance();
        Kill(reason);
        OnActorExit?.Invoke(reason);
    }

    /// <summary>Exits the actor once the calls queued before this request are done, disposing its instance.</summary>
    public void ExitGracefully(string reason, Action then)
    {
        void Exit()
        {
            DisposeInstance();
            Kill(reason);
            then();
        }
        if (Actor is { IsSingleThreaded: true })
        {
            if (!_thread.TryPost(Exit)) then();
        }
        else
        {
            _ = Task.Run(Exit);
        }
    }

    private void DisposeInstance()
    {
        try
        {
            switch (Actor?.Instance)
            {
                case IAsyncDisposable a: a.DisposeAsync().AsTask().GetAwaiter().GetResult(); break;
                case IDisposable d: d.Dispose(); break;
            }
        }
        catch (Exception)
        {
            // An actor's Dispose failing must not keep it alive; there is no caller left to report to.
        }
    }

    /// <summary>A call to an async actor: it waits for one of the actor's MaxConcurrency slots, then an async method
    /// runs on the async context and a sync one on the worker's thread.</summary>
    private async Task RunAsyncActorCallAsync(TaskSpec task, CancellationTokenSource cts, TaskCompletionSource<PushTaskReply> done)
    {
        try
        {
            await _concurrency!.WaitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _running.TryRemove(task.TaskId, out _);
            done.TrySetResult(_deathReason is { } r ? PushTaskReply.WorkerDied(r)
                : new PushTaskReply([], RayErrorInfo.Cancelled(task.TaskId, task.DisplayName), false));
            return;
        }
        if (!task.Function.IsAsync)
        {
            Enqueue(task, cts, done, release: _concurrency);
            return;
        }
        try
        {
            if (_deathReason is { } reason) { done.TrySetResult(PushTaskReply.WorkerDied(reason)); return; }
            done.TrySetResult(await _executor.ExecuteAsync(task, this, Actor, cts.Token).ConfigureAwait(false));
        }
        finally
        {
            _concurrency.Release();
            _running.TryRemove(task.TaskId, out _);
            cts.Dispose();
            ExitIfRequested();
        }
    }

    /// <summary>Cancels seen for tasks that had not arrived here; kept for <see cref="CancelWindow"/>, at most
    /// <see cref="MaxEarlyCancels"/>.</summary>
    private readonly ConcurrentDictionary<TaskId, long> _canceledBeforeArrival = new();

    private const int MaxEarlyCancels = 10_000;
    private static readonly TimeSpan CancelWindow = TimeSpan.FromMinutes(1);

    private readonly Lock _arrivalLock = new();

    /// <summary>Whether the task was pushed here and has not finished (queued or running).</summary>
    public bool Has(TaskId taskId) => _running.ContainsKey(taskId);

    /// <summary>For a cancel: when the task is not here (not arrived, or done), remembers the cancel and answers true;
    /// when it is here, answers false and the caller cancels it. Atomic with a push's arrival.</summary>
    public bool RememberCancelIfAbsent(TaskId taskId)
    {
        lock (_arrivalLock)
        {
            if (_running.ContainsKey(taskId)) return false;
            CancelBeforeArrival(taskId);
            return true;
        }
    }

    /// <summary>A cancel for a task that has not arrived: if it arrives within <see cref="CancelWindow"/>, it is answered
    /// cancelled without running (a cancel can overtake its task's push).</summary>
    public void CancelBeforeArrival(TaskId taskId)
    {
        long now = Environment.TickCount64;
        if (_canceledBeforeArrival.Count >= MaxEarlyCancels)
            foreach (var (id, at) in _canceledBeforeArrival)
                if (now - at > (long)CancelWindow.TotalMilliseconds) _canceledBeforeArrival.TryRemove(id, out _);
        if (_canceledBeforeArrival.Count < MaxEarlyCancels) _canceledBeforeArrival[taskId] = now;
    }

    public bool CancelTask(TaskId taskId, bool force, bool recursive = false)
    {
        if (!_running.TryGetValue(taskId, out var cts)) return false;
        try { cts.Cancel(); } catch (ObjectDisposedException) { }
        return true;
    }

    /// <summary>The worker dies: queued and running tasks report WorkerDied (a running .NET thread cannot be
    /// stopped; its result is ignored).</summary>
    public void Kill(string reason)
    {
        if (_deathReason is not null) return;
        _deathReason = reason;
        try { _dead.Cancel(); } catch (ObjectDisposedException) { }
        _thread.Complete();
    }

    public void NotifyBlocked()
    {
        if (Actor is null)
        {
            _blocked = true;
            foreach (var queued in _queued.Values) GiveBack(queued, PushTaskReply.GivenBack);
        }
        if (Lease is { } lease) _raylet.NotifyTaskBlocked(lease);
    }

    public void NotifyUnblocked()
    {
        _blocked = false;
        if (Lease is { } lease) _raylet.NotifyTaskUnblocked(lease);
    }

    public void Dispose() => Kill("the worker was shut down");
}

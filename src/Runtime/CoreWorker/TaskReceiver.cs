using System.Collections.Concurrent;

namespace RaySharp.Core;

/// <summary>
/// A worker's task receiver (Ray's <c>TaskReceiver</c>): runs the tasks pushed to the worker on a dedicated thread,
/// one at a time. A worker that receives an actor creation task becomes that actor's worker for the rest of its
/// life: sync single-threaded actors run every call on this thread in arrival order; async and threaded actors run
/// up to MaxConcurrency calls at once. A worker process has one; in local mode each worker thread is one.
/// </summary>
internal sealed class TaskReceiver : ICoreWorkerClient, IExecutingWorker, IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread _thread;
    private readonly TaskExecutor _executor;
    private readonly IRayletClient _raylet;
    private readonly ConcurrentDictionary<TaskId, CancellationTokenSource> _running = new();
    private readonly CancellationTokenSource _dead = new();
    private SemaphoreSlim? _concurrency;
    private volatile string? _deathReason;

    public TaskReceiver(TaskExecutor executor, IRayletClient raylet, WorkerId workerId)
    {
        _executor = executor;
        _raylet = raylet;
        WorkerId = workerId;
        _thread = new Thread(Run) { IsBackground = true, Name = $"RaySharp worker {WorkerId.ToString()[..8]}" };
        _thread.Start();
    }

    public WorkerId WorkerId { get; }

    /// <summary>Called when the actor on this worker exits by itself (Ray.ExitActor).</summary>
    public Action<string>? OnActorExit { get; set; }
    public WorkerLease? Lease { get; set; }
    public ActorState? Actor { get; private set; }
    public ResourceSet AssignedResources => Lease?.Resources ?? ResourceSet.Empty;
    public bool IsDead => _deathReason is not null;

    private void Run()
    {
        foreach (var work in _queue.GetConsumingEnumerable()) work();
    }

    public Task<PushTaskReply> PushTaskAsync(TaskSpec task, CancellationToken ct)
    {
        if (_deathReason is { } reason) return Task.FromResult(PushTaskReply.WorkerDied(reason));
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_dead.Token);
        _running[task.TaskId] = cts;
        var done = new TaskCompletionSource<PushTaskReply>(TaskCreationOptions.RunContinuationsAsynchronously);

        if (task.Type == TaskType.ActorCreationTask)
        {
            var creation = task.ActorCreation!;
            Actor = new ActorState(creation, numRestarts: task.AttemptNumber, task.Strategy);
            if (!Actor.IsSingleThreaded) _concurrency = new SemaphoreSlim(Math.Max(1, creation.MaxConcurrency));
            Enqueue(task, cts, done);
        }
        else if (Actor is { IsSingleThreaded: false })
        {
            _ = RunConcurrentAsync(task, cts, done);
        }
        else
        {
            Enqueue(task, cts, done);
        }
        return done.Task;
    }

    private void Enqueue(TaskSpec task, CancellationTokenSource cts, TaskCompletionSource<PushTaskReply> done)
    {
        try
        {
            _queue.Add(() => done.TrySetResult(ExecuteOnThisThread(task, cts)));
        }
        catch (InvalidOperationException)
        {
            done.TrySetResult(PushTaskReply.WorkerDied(_deathReason ?? "the worker stopped"));
        }
    }

    private PushTaskReply ExecuteOnThisThread(TaskSpec task, CancellationTokenSource cts)
    {
        try
        {
            if (_deathReason is { } reason) return PushTaskReply.WorkerDied(reason);
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
            try { _queue.Add(Exit); } catch (InvalidOperationException) { then(); }
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

    private async Task RunConcurrentAsync(TaskSpec task, CancellationTokenSource cts, TaskCompletionSource<PushTaskReply> done)
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
        try
        {
            if (_deathReason is { } reason) { done.TrySetResult(PushTaskReply.WorkerDied(reason)); return; }
            // Sync methods of threaded actors may block: give them a thread of their own.
            var reply = task.Function.IsAsync
                ? await _executor.ExecuteAsync(task, this, Actor, cts.Token).ConfigureAwait(false)
                : await Task.Factory.StartNew(() => _executor.ExecuteAsync(task, this, Actor, cts.Token),
                    CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap().ConfigureAwait(false);
            done.TrySetResult(reply);
        }
        finally
        {
            _concurrency!.Release();
            _running.TryRemove(task.TaskId, out _);
            cts.Dispose();
            ExitIfRequested();
        }
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
        _queue.CompleteAdding();
    }

    public void NotifyBlocked()
    {
        if (Lease is { } lease) _raylet.NotifyTaskBlocked(lease);
    }

    public void NotifyUnblocked()
    {
        if (Lease is { } lease) _raylet.NotifyTaskUnblocked(lease);
    }

    public void Dispose() => Kill("the worker was shut down");
}

using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Rpc;

/// <summary>
/// Serves a core worker's RPC endpoint: in a worker process it runs pushed tasks on the process's task receiver;
/// in every process it serves owned objects to borrowers and keeps the borrower counts.
/// </summary>
internal sealed class CoreWorkerServiceHandler : ICoreWorkerServiceHandler
{
    private readonly NodeId _nodeId;
    private string? _exitReason;
    private int _running;
    private Timer? _idleCollection;
    private int _collectionWanted;

    public CoreWorkerServiceHandler(NodeId nodeId) => _nodeId = nodeId;

    public CoreWorker? Worker { get; set; }

    /// <summary>Runs the tasks pushed to a worker process; null in a driver (drivers do not execute tasks).</summary>
    public TaskReceiver? Receiver { get; set; }

    /// <summary>Called once the actor on this worker exited and its last reply is out.</summary>
    public Action<string>? OnActorExitedAndFlushed { get; set; }

    /// <summary>Set when the process should end (Exit RPC, actor exit).</summary>
    public TaskCompletionSource Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CoreWorker Core => Worker ?? throw new InvalidOperationException("The worker is still starting.");

    /// <summary>Makes this the endpoint of a worker that runs tasks on <paramref name="receiver"/>: an actor that exits
    /// is reported to the GCS once the reply of the call that exited is out.</summary>
    /// <param name="core">The worker's core worker.</param>
    /// <param name="receiver">Runs the pushed tasks.</param>
    /// <param name="gcs">Where actor exits are reported.</param>
    /// <param name="collectWhenIdle">A worker process: after a task that took refs or handles, collect garbage once idle.
    /// The task's deserialized refs are unreachable when it returns, but .NET frees them (and this worker stops
    /// borrowing them) only when a collection runs, and an idle process may not run one for a long time; until then
    /// the owner keeps the objects, and a non-detached actor, alive. Local mode's worker threads share the driver's
    /// heap and leave collections to it.</param>
    public void Serve(CoreWorker core, TaskReceiver receiver, GcsClient gcs, bool collectWhenIdle)
    {
        Worker = core;
        if (collectWhenIdle) _idleCollection = new Timer(_ => CollectIfIdle());
        receiver.OnActorExit = OnActorExit;
        OnActorExitedAndFlushed = reason =>
        {
            if (receiver.Actor is { } actor) gcs.ReportActorExited(actor.Spec.ActorId, reason);
        };
        Receiver = receiver;
    }

    public void HandlePushTask(PushTaskRequest request, Action<PushTaskResponse> reply)
    {
        var receiver = Receiver;
        if (receiver is null)
        {
            reply(new PushTaskResponse(request.CallId, [], new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = "A driver cannot execute tasks." }, false, null));
            return;
        }
        TaskSpec spec;
        ResourceSet leaseResources;
        try
        {
            // On a stream, a malformed push fails its own task, not the stream and the other tasks on it.
            WireValidation.TaskSpec(request.Task, "PushTask");
            WireValidation.Resources(request.LeaseResources, $"PushTask of task {request.Task.TaskId}: the lease resources");
            leaseResources = request.LeaseResources.FromWire();
            spec = request.Task.FromWire();
        }
        catch (Exception e)
        {
            reply(new PushTaskResponse(request.CallId, [], RayErrorInfo.FromUserException(e, request.Task.DisplayName), true, null));
            return;
        }
        // Tasks pipelined on one lease carry the same lease: it is made once.
        if (request.LeaseId != 0 && receiver.Lease?.LeaseId != request.LeaseId)
            receiver.Lease = new WorkerLease(request.LeaseId, receiver, _nodeId, leaseResources);
        Interlocked.Increment(ref _running);
        _ = RunAsync(receiver, spec, request.CallId, reply);
    }

    private async Task RunAsync(TaskReceiver receiver, TaskSpec spec, long callId, Action<PushTaskResponse> reply)
    {
        PushTaskReply result;
        try
        {
            result = await receiver.PushTaskAsync(spec, CancellationToken.None).ConfigureAwait(false);
            // Owners of refs this task started borrowing must know before the caller may release them.
            await Core.BorrowRegistrationsSettled().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            result = new PushTaskReply([], new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = $"The worker failed running the task: {e.Message}" }, false);
        }
        WireNestedRef[]? nested = null;
        if (result.NestedPins is { } pins)
        {
            var ids = pins.SelectMany(p => p).Distinct().ToArray();
            if (ids.Length > 0) nested = Array.ConvertAll(ids, id => new WireNestedRef(id, Core.ReferenceCounter.GetOwner(id) ?? Core.Address));
        }
        bool tookRefs = _idleCollection is not null && TakesRefs(spec.Args);
        if (tookRefs) Volatile.Write(ref _collectionWanted, 1);
        // Decremented before the reply goes out: the writer reports an exited actor once nothing runs.
        Interlocked.Decrement(ref _running);
        reply(new PushTaskResponse(callId, Array.ConvertAll(result.Returns, r => r.ToWire()), result.Error, result.IsApplicationError, nested,
            result.NotStarted));
        if (tookRefs) _idleCollection?.Change(IdleCollectionDelay, Timeout.InfiniteTimeSpan);
    }

    private static bool TakesRefs(TaskArg[] args)
    {
        foreach (var a in args)
            if (a.IsRef || a.Value.NestedIds.Length > 0) return true;
        return false;
    }

    /// <summary>How long a worker must be idle before it collects the refs its finished tasks dropped.</summary>
    private static readonly TimeSpan IdleCollectionDelay = TimeSpan.FromMilliseconds(100);

    private void CollectIfIdle()
    {
        if (Volatile.Read(ref _running) != 0)
        {
            _idleCollection?.Change(IdleCollectionDelay, Timeout.InfiniteTimeSpan);
            return;
        }
        if (Interlocked.Exchange(ref _collectionWanted, 0) == 0) return;
        try
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Core.ReferenceCounter.FlushDeferredReleases();
        }
        catch (Exception e)
        {
            Core.Loggers.CreateLogger<CoreWorkerServiceHandler>().FinishedRefsNotReleased(e);
        }
    }

    /// <summary>The actor exited (Ray.ExitActor): report it once the reply of the call that exited is out.</summary>
    public void OnActorExit(string reason) => Volatile.Write(ref _exitReason, reason);

    public void OnRepliesWritten()
    {
        if (Volatile.Read(ref _running) == 0 && Interlocked.Exchange(ref _exitReason, null) is { } reason)
            OnActorExitedAndFlushed?.Invoke(reason);
    }

    public bool HandleCancelTask(TaskId taskId, bool force, bool recursive)
    {
        // The children of the task were submitted from here, so this worker owns them and cancels them (Ray forwards a
        // recursive cancel to the worker running the parent for the same reason).
        if (recursive) Worker?.TaskManager.CancelChildren(taskId, force);
        // A task still queued behind another on this worker is dropped, force or not: nothing runs that needs killing.
        if (Receiver?.TryCancelQueued(taskId) == true) return true;
        // Not here yet (the cancel overtook the push) or already done: nothing runs that needs stopping, and a push that
        // arrives later is answered cancelled. Only a task running here is force-cancelled by ending the worker.
        if (Receiver is { } receiver && receiver.RememberCancelIfAbsent(taskId)) return true;
        if (force)
        {
            // Ray's force cancel kills the worker: a running .NET thread cannot be stopped any other way.
            Exited.TrySetResult();
            return true;
        }
        return Receiver?.CancelTask(taskId, force) ?? false;
    }

    public async Task<WireObject> HandleGetObjectAsync(ObjectId id, NodeId lostAt, CancellationToken ct) =>
        (await Core.ServeObjectAsync(id, lostAt, ct).ConfigureAwait(false)).ToWire();

    public void HandleAddBorrower(ObjectId id, Address borrower) => Core.ReferenceCounter.AddBorrower(id, borrower);

    public void HandleRemoveBorrower(ObjectId id, Address borrower) => Core.ReferenceCounter.RemoveBorrower(id, borrower);

    public void HandleReleasePins(ObjectId[] ids)
    {
        foreach (var id in ids) Core.ReferenceCounter.RemoveLocalReference(id);
    }

    public void HandleReturnIdleLeases(NodeId node) => Core.NormalTaskSubmitter.ReturnIdleLeases(node);

    public bool HandleAddObjectLocation(ObjectId id, NodeId node, string? spilledUrl) =>
        spilledUrl is null ? Core.AddObjectLocation(id, node) : Core.RecordSpilled(id, spilledUrl);

    public void HandleGeneratorItem(TaskId taskId, int index, RayObject item) => Core.TaskManager.ReportGeneratorItem(taskId, index, item);

    // A driver's endpoint has no receiver; local mode's worker threads share the driver's table (the GCS lists it once).
    public CoreWorkerObjects HandleGetObjectRefs(int limit) => Core.ListObjectRefs(limit, isDriver: Receiver is null);

    public Task HandleExitAsync(bool force, string reason)
    {
        var receiver = Receiver;
        if (force || receiver is null)
        {
            Exited.TrySetResult();
            return Task.CompletedTask;
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.ExitGracefully(reason, () => done.TrySetResult());
        return done.Task.ContinueWith(_ => Exited.TrySetResult(), TaskScheduler.Default);
    }
}

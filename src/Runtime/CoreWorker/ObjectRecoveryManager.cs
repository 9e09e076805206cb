using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaySharp.Core;

/// <summary>
/// Recovers objects this worker owns whose copies in object stores are lost (Ray's <c>ObjectRecoveryManager</c>). A
/// reader that cannot read an object's copy — a Get or a view here, a borrower asking the owner, a task whose argument
/// it was — asks here. When the node of the copy read is alive, nothing is lost (the read failed for another reason).
/// When it is dead, a copy on another live node becomes the one read; when every copy is gone, the task that created
/// the object runs again from its lineage (<see cref="TaskManager.ResubmitTask"/>), its lost arguments recovered first
/// the same way, counting against its <c>MaxRetries</c>; readers get the new value when it finishes. Objects made by
/// <c>Ray.Put</c>, and outputs whose task has no lineage kept or no retries left, fail with
/// <see cref="ObjectReconstructionFailedException"/> saying why. Concurrent recoveries of one object share one attempt.
/// </summary>
internal sealed partial class ObjectRecoveryManager
{
    private readonly CoreWorker _worker;
    private readonly Func<NodeId, CancellationToken, Task<bool>> _isNodeDead;
    private readonly Func<ObjectId, NodeId, CancellationToken, Task<bool>> _hasCopy;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<ObjectId, Task<RayObject>> _recovering = [];
    private int _resubmissions;

    /// <param name="worker">The owner: its memory store, object directory, task manager and submitter.</param>
    /// <param name="isNodeDead">Whether a node is dead (the GCS says so, or its raylet does not answer).</param>
    /// <param name="hasCopy">Whether a live node still holds a copy that can be read (pulled here to find out).</param>
    /// <param name="logger">Where recoveries are logged.</param>
    public ObjectRecoveryManager(CoreWorker worker, Func<NodeId, CancellationToken, Task<bool>> isNodeDead,
        Func<ObjectId, NodeId, CancellationToken, Task<bool>> hasCopy, ILogger<ObjectRecoveryManager>? logger = null)
    {
        _worker = worker;
        _isNodeDead = isNodeDead;
        _hasCopy = hasCopy;
        _logger = logger ?? NullLogger<ObjectRecoveryManager>.Instance;
    }

    /// <summary>Tasks run again so far to rebuild lost objects.</summary>
    public int Resubmissions => Volatile.Read(ref _resubmissions);

    /// <summary>
    /// Ray's <c>RecoverObject</c>: <paramref name="lost"/>, the value of an object owned here, names a copy that could not
    /// be read. Completes with what readers should read instead: a copy on a live node, the value the re-executed task
    /// stored, or the error why the object cannot be had. Completes with <paramref name="lost"/> itself when nothing was
    /// lost (that copy's node is alive) or the object is no longer referenced.
    /// </summary>
    public Task<RayObject> RecoverAsync(ObjectId id, RayObject lost)
    {
        TaskCompletionSource<RayObject> recovered;
        lock (_lock)
        {
            if (_recovering.TryGetValue(id, out var running)) return running;
            if (_worker.MemoryStore.TryGet(id, out var current))
            {
                // Recovered already (or moved): read what is there now.
                if (!SameCopy(current, lost)) return Task.FromResult(current);
                lost = current;
            }
            else if (!_worker.ReferenceCounter.IsInScope(id)) return Task.FromResult(lost);
            else return _worker.MemoryStore.WhenAvailable(id); // being computed again
            recovered = new TaskCompletionSource<RayObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            _recovering[id] = recovered.Task;
        }
        _ = RunAsync(id, lost, recovered);
        return recovered.Task;
    }

    private static bool SameCopy(RayObject a, RayObject b) =>
        ReferenceEquals(a, b) || a.IsInStore && b.IsInStore && a.StoreNode == b.StoreNode;

    private async Task RunAsync(ObjectId id, RayObject lost, TaskCompletionSource<RayObject> recovered)
    {
        RayObject result;
        try
        {
            result = await RecoverCoreAsync(id, lost).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Nothing may be lost in the background: the readers get the original failure.
            LogRecoveryFailed(_logger, e, id);
            result = lost;
        }
        finally
        {
            lock (_lock) _recovering.Remove(id);
        }
        recovered.TrySetResult(result);
    }

    private async Task<RayObject> RecoverCoreAsync(ObjectId id, RayObject lost)
    {
        if (!lost.IsInStore) return lost;
        var primary = lost.StoreNode;
        if (!await _isNodeDead(primary, CancellationToken.None).ConfigureAwait(false)) return lost;
        foreach (var node in _worker.ObjectLocations(id))
        {
            if (node == primary || await _isNodeDead(node, CancellationToken.None).ConfigureAwait(false)) continue;
            if (!await _hasCopy(id, node, CancellationToken.None).ConfigureAwait(false)) continue;
            // A copy survives: it is the one read from now on.
            var moved = RayObject.InStore(node, lost.StoreSize, lost.NestedIds);
            LogCopyFound(_logger, id, primary, node);
            return _worker.MemoryStore.Replace(id, lost, moved) ? moved : Current(id, lost);
        }
        return await RebuildAsync(id, lost, primary).ConfigureAwait(false);
    }

    private RayObject Current(ObjectId id, RayObject fallback) => _worker.MemoryStore.TryGet(id, out var current) ? current : fallback;

    /// <summary>Every copy is gone: run the creating task again, or say why that cannot be.</summary>
    private async Task<RayObject> RebuildAsync(ObjectId id, RayObject lost, NodeId deadNode)
    {
        TaskManager.Entry? entry = null;
        // Other returns of the task whose copies were on the same node are lost too: they are rebuilt by the same run.
        string? failure = id.IsPut
            ? PutFailure(id)
            : _worker.TaskManager.ResubmitTask(id.TaskId, r => r == id || IsInStoreAt(r, deadNode), out entry);
        if (failure is not null)
        {
            var error = ReconstructionFailed(id, $"Object {id} is lost: its only copy was on node {deadNode}, which died, and it cannot be rebuilt: " +
                $"{failure}.", deadNode);
            _worker.MemoryStore.Replace(id, lost, error);
            LogNotRebuilt(_logger, id, $"its only copy was on node {deadNode}, which died; {failure}");
            return error;
        }
        var rebuilt = _worker.MemoryStore.WhenAvailable(id);
        if (entry is not null)
        {
            Interlocked.Increment(ref _resubmissions);
            LogResubmitting(_logger, entry.Spec.DisplayName, entry.Spec.TaskId, id, deadNode);
            _ = SubmitAfterArgumentsAsync(entry);
        }
        return await rebuilt.ConfigureAwait(false);
    }

    private bool IsInStoreAt(ObjectId id, NodeId node) => _worker.MemoryStore.TryGet(id, out var obj) && obj.IsInStore && obj.StoreNode == node;

    private string PutFailure(ObjectId id)
    {
        string by = id.TaskId == _worker.DriverTaskId ? "the driver" : $"task {id.TaskId} on worker {_worker.WorkerId}";
        return $"it was put by {by} (Ray.Put, or a large by-value argument), and objects made by Ray.Put have no lineage to re-execute";
    }

    private static RayObject ReconstructionFailed(ObjectId id, string message, NodeId? node = null) =>
        RayObject.FromError(new RayErrorInfo { Kind = ErrorKind.ObjectReconstructionFailed, ObjectId = id, NodeId = node, Message = message });

    /// <summary>Submits a task run again from its lineage once the arguments it takes that are owned here exist again.</summary>
    private async Task SubmitAfterArgumentsAsync(TaskManager.Entry entry)
    {
        try
        {
            List<Task>? arguments = null;
            foreach (var a in entry.Spec.Args)
                if (a.IsRef && (a.Owner is null || a.Owner.WorkerId == _worker.WorkerId)) (arguments ??= []).Add(EnsureArgumentAsync(a.Id));
            if (arguments is not null) await Task.WhenAll(arguments).ConfigureAwait(false);
            // An actor call runs again on the actor (restarted if it was on the node that died), in its caller's order.
            if (entry.Spec.Type == TaskType.ActorTask) _worker.ActorTaskSubmitter.Submit(entry, entry.RetriesLeft);
            else _worker.NormalTaskSubmitter.Submit(entry);
        }
        catch (Exception e)
        {
            LogResubmitFailed(_logger, e, entry.Spec.DisplayName, entry.Spec.TaskId);
            _worker.TaskManager.FailTask(entry, new RayErrorInfo
            {
                Kind = ErrorKind.ObjectReconstructionFailed,
                Message = $"{entry.Spec.DisplayName} ({entry.Spec.TaskId}) could not be run again to rebuild its lost outputs: {e.Message}",
            });
        }
    }

    /// <summary>An argument of a task about to run again: when its copy is lost, recover it; when it was freed after the
    /// tasks that took it finished (its lineage kept, its value not), compute it again. The submitter's resolver then
    /// waits for it; an argument that cannot be had holds the error, which fails the task.</summary>
    private async Task EnsureArgumentAsync(ObjectId id)
    {
        if (_worker.MemoryStore.TryGet(id, out var value))
        {
            if (value.IsInStore && await _isNodeDead(value.StoreNode, CancellationToken.None).ConfigureAwait(false))
                await RecoverAsync(id, value).ConfigureAwait(false);
            return;
        }
        lock (_lock)
            if (_recovering.ContainsKey(id)) return;
        if (_worker.TaskManager.TryGetPending(id.TaskId, out _) || _worker.MemoryStore.Contains(id)) return;
        TaskManager.Entry? entry = null;
        string? failure = id.IsPut ? PutFailure(id) : _worker.TaskManager.ResubmitTask(id.TaskId, r => r == id, out entry);
        if (failure is not null)
        {
            LogNotRebuilt(_logger, id, failure);
            _worker.MemoryStore.Put(id, ReconstructionFailed(id, $"Object {id}, an argument of a task run again to rebuild a lost object, was " +
                $"released after the tasks that took it finished, and it cannot be computed again: {failure}."));
            return;
        }
        if (entry is null) return;
        Interlocked.Increment(ref _resubmissions);
        LogRecomputing(_logger, entry.Spec.DisplayName, entry.Spec.TaskId, id);
        await SubmitAfterArgumentsAsync(entry).ConfigureAwait(false);
    }

    /// <summary>
    /// A task failed because the executor could not read <paramref name="argument"/>'s copy: recover the argument (here
    /// if it is owned here, else by asking its owner), then submit the task again, resolving the argument anew. When
    /// nothing better than that copy can be had, the task fails with <paramref name="error"/>.
    /// </summary>
    public void RecoverArgumentThenResubmit(TaskManager.Entry entry, TaskArg argument, RayErrorInfo error) =>
        _ = RecoverArgumentThenResubmitAsync(entry, argument, error);

    private async Task RecoverArgumentThenResubmitAsync(TaskManager.Entry entry, TaskArg argument, RayErrorInfo error)
    {
        try
        {
            var stale = RayObject.InStore(argument.StoreNode, argument.StoreSize, argument.Value.NestedIds);
            var recovered = await _worker.RecoverObjectAsync(argument.Id, argument.Owner, stale).ConfigureAwait(false);
            if (SameCopy(recovered, stale))
            {
                _worker.TaskManager.FailTask(entry, error);
                return;
            }
            LogArgumentRecovered(_logger, argument.Id, entry.Spec.DisplayName, entry.Spec.TaskId);
            _worker.NormalTaskSubmitter.Submit(entry);
        }
        catch (Exception e)
        {
            LogRecoveryFailed(_logger, e, argument.Id);
            _worker.TaskManager.FailTask(entry, error);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Object {ObjectId}: its copy on dead node {Dead} is gone; reading the copy on node {Node}")]
    private static partial void LogCopyFound(ILogger logger, ObjectId objectId, NodeId dead, NodeId node);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Running {Task} ({TaskId}) again from its lineage to rebuild object {ObjectId} (lost with node {Node})")]
    private static partial void LogResubmitting(ILogger logger, string task, TaskId taskId, ObjectId objectId, NodeId node);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Running {Task} ({TaskId}) again from its lineage to compute object {ObjectId}, freed since, for a task being rebuilt")]
    private static partial void LogRecomputing(ILogger logger, string task, TaskId taskId, ObjectId objectId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Object {ObjectId} cannot be rebuilt: {Reason}")]
    private static partial void LogNotRebuilt(ILogger logger, ObjectId objectId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Argument {ObjectId} of {Task} ({TaskId}) was recovered; submitting the task again")]
    private static partial void LogArgumentRecovered(ILogger logger, ObjectId objectId, string task, TaskId taskId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recovering object {ObjectId} failed inside RaySharp")]
    private static partial void LogRecoveryFailed(ILogger logger, Exception e, ObjectId objectId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Submitting {Task} ({TaskId}) again from its lineage failed inside RaySharp")]
    private static partial void LogResubmitFailed(ILogger logger, Exception e, string task, TaskId taskId);
}

using RaySharp.Internal;

namespace RaySharp.Core;

/// <summary>
/// Tracks the tasks this worker owns until they finish (Ray's <c>TaskManager</c>): stores their returns in the
/// memory store, decides retries, fails them with errors, cancels them, and collects streaming items.
/// </summary>
internal sealed class TaskManager : IGeneratorItemSink
{
    internal enum Status { WaitingForDependencies, WaitingForLease, Running, Finished }

    internal sealed class Entry(TaskSpec spec, int retriesLeft)
    {
        public TaskSpec Spec { get; } = spec;
        public int RetriesLeft { get; set; } = retriesLeft;
        public Status Status { get; set; }
        public CancellationTokenSource Cancellation { get; } = new();
        public bool CancelRequested { get; set; }
        public ICoreWorkerClient? RunningOn { get; set; }
        public GeneratorStream? Stream { get; init; }
        public List<TaskId> Children { get; } = [];
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<TaskId, Entry> _pending = [];
    private readonly CoreWorker _worker;

    public TaskManager(CoreWorker worker) => _worker = worker;

    public int NumPendingTasks
    {
        get { lock (_lock) return _pending.Count; }
    }

    /// <summary>Registers a submitted task: its returns become owned objects (one local ref each, adopted by the
    /// refs handed to the caller) and its arguments are kept alive until it finishes.</summary>
    public Entry AddPendingTask(TaskSpec spec, int maxRetries, GeneratorStream? stream = null)
    {
        foreach (var id in spec.ReturnIds()) _worker.ReferenceCounter.AddOwnedObject(id, _worker.Address);
        _worker.ReferenceCounter.AddSubmittedTaskReferences(spec.ArgumentReferenceIds());
        var entry = new Entry(spec, maxRetries) { Stream = stream };
        lock (_lock)
        {
            _pending[spec.TaskId] = entry;
            if (spec.ParentTaskId is { } parent && _pending.TryGetValue(parent, out var p)) p.Children.Add(spec.TaskId);
        }
        return entry;
    }

    public bool TryGetPending(TaskId taskId, out Entry entry)
    {
        lock (_lock) return _pending.TryGetValue(taskId, out entry!);
    }

    /// <summary>Handles a worker's reply. Returns true when the task must be submitted again.</summary>
    public bool HandleReply(Entry entry, PushTaskReply reply)
    {
        if (entry.Status == Status.Finished)
        {
            // Already failed (force-cancelled, or its actor died): drop the late result.
            ReleasePins(reply.NestedPins);
            if (reply.RemoteNested is { } nested) reply.Executor?.ReleasePins(Array.ConvertAll(nested, n => n.Id));
            return false;
        }
        if (reply.Error is null)
        {
            if (reply.RemoteNested is { } nested && reply.Executor is { } executor) _worker.AdoptRemoteNested(nested, executor);
            CompleteTask(entry, reply.Returns, reply.NestedPins);
            return false;
        }
        if (entry.CancelRequested)
        {
            FailTask(entry, RayErrorInfo.Cancelled(entry.Spec.TaskId, entry.Spec.DisplayName));
            return false;
        }
        if (ShouldRetry(entry, reply))
        {
            if (entry.RetriesLeft > 0) entry.RetriesLeft--;
            return true;
        }
        FailTask(entry, reply.Error);
        return false;
    }

    private static bool ShouldRetry(Entry entry, PushTaskReply reply)
    {
        if (entry.RetriesLeft == 0 || entry.Spec.IsStreaming) return false;
        if (!reply.IsApplicationError) return reply.Error!.Kind is ErrorKind.WorkerCrashed or ErrorKind.NodeDied;
        var spec = entry.Spec;
        if (!spec.RetryExceptions) return false;
        // Only the listed types and their subclasses (the type chain names every base type of the thrown one).
        return spec.RetryExceptionTypes is not { Count: > 0 } types || types.Any(t => reply.Error!.TypeChain.Contains(t.FullName));
    }

    public void CompleteTask(Entry entry, RayObject[] returns, ObjectId[][]? nestedPins)
    {
        var spec = entry.Spec;
        if (!TryMarkFinished(entry)) return;
        // First the returns take hold of the refs nested in them, then the arguments are released, then the returns
        // become visible: whoever sees a result sees the arguments freed, and nothing a return holds was freed.
        int count = Math.Min(spec.NumReturns, returns.Length);
        var kept = new bool[count];
        for (int i = 0; i < count; i++)
        {
            var id = spec.ReturnId(i);
            kept[i] = _worker.ReferenceCounter.IsInScope(id);
            if (kept[i]) _worker.ReferenceCounter.AddNestedObjects(id, returns[i].NestedIds);
        }
        _worker.ReferenceCounter.RemoveSubmittedTaskReferences(spec.ArgumentReferenceIds());
        for (int i = 0; i < count; i++)
            if (kept[i]) _worker.MemoryStore.Put(spec.ReturnId(i), returns[i]);
        // The executor pinned refs nested in the returns; now that the returns hold them, drop the pins.
        ReleasePins(nestedPins);
        _yieldedCounts.TryRemove(spec.TaskId, out _);
        entry.Stream?.Complete();
    }

    private bool TryMarkFinished(Entry entry)
    {
        lock (_lock)
        {
            if (entry.Status == Status.Finished) return false;
            entry.Status = Status.Finished;
            _pending.Remove(entry.Spec.TaskId);
            return true;
        }
    }

    private void ReleasePins(ObjectId[][]? nestedPins)
    {
        if (nestedPins is null) return;
        foreach (var pins in nestedPins)
            foreach (var id in pins) _worker.ReferenceCounter.RemoveLocalReference(id);
    }

    public void FailTask(Entry entry, RayErrorInfo error)
    {
        if (entry.Status == Status.Finished) return;
        var obj = RayObject.FromError(error);
        var spec = entry.Spec;
        if (spec.IsStreaming)
        {
            // The stream ends with one item that raises the error.
            var id = ObjectId.ForReturn(spec.TaskId, 1 + _yieldedCounts.GetValueOrDefault(spec.TaskId));
            _worker.ReferenceCounter.AddOwnedObject(id, _worker.Address);
            _worker.MemoryStore.Put(id, obj);
            entry.Stream?.Add(id);
        }
        for (int i = 0; i < spec.NumReturns; i++) StoreOwned(spec.ReturnId(i), obj);
        Finish(entry);
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<TaskId, int> _yieldedCounts = new();

    public void ReportGeneratorItem(TaskId taskId, int index, RayObject item)
    {
        if (!TryGetPending(taskId, out var entry) || entry.Stream is null) return;
        var id = ObjectId.ForReturn(taskId, index + 1);
        _yieldedCounts[taskId] = index + 1;
        _worker.ReferenceCounter.AddOwnedObject(id, _worker.Address);
        _worker.ReferenceCounter.AddNestedObjects(id, item.NestedIds);
        _worker.MemoryStore.Put(id, item);
        entry.Stream.Add(id);
    }

    private void StoreOwned(ObjectId id, RayObject obj)
    {
        // A return nobody references any more is dropped rather than stored.
        if (!_worker.ReferenceCounter.IsInScope(id)) return;
        _worker.ReferenceCounter.AddNestedObjects(id, obj.NestedIds);
        _worker.MemoryStore.Put(id, obj);
    }

    private void Finish(Entry entry)
    {
        if (!TryMarkFinished(entry)) return;
        _yieldedCounts.TryRemove(entry.Spec.TaskId, out _);
        entry.Stream?.Complete();
        _worker.ReferenceCounter.RemoveSubmittedTaskReferences(entry.Spec.ArgumentReferenceIds());
    }

    /// <summary>Ray.Cancel: a pending task fails with TaskCancelledException at once; a running one has its token
    /// signalled (force: its result is abandoned and it fails at once). Recursive cancels the tasks it submitted.</summary>
    public void Cancel(TaskId taskId, bool force, bool recursive)
    {
        Entry? entry;
        List<TaskId> children;
        lock (_lock)
        {
            if (!_pending.TryGetValue(taskId, out entry)) return; // finished: nothing to do
            if (force && entry.Spec.Type == TaskType.ActorTask)
                throw new ArgumentException($"Actor task {entry.Spec.DisplayName} cannot be force-cancelled; use force: false, or Ray.Kill the actor.");
            // Cancelled once already (a recursive cancel reaches a task both from its parent's owner and from the worker
            // that runs the parent): do not cancel again what the task submitted since, e.g. while handling its
            // cancellation. Only escalating to force goes on.
            if (entry.CancelRequested && !force) return;
            entry.CancelRequested = true;
            children = [.. entry.Children];
        }
        if (entry.Status == Status.Running && entry.RunningOn is { } worker)
        {
            worker.CancelTask(taskId, force, recursive);
            if (force) FailTask(entry, RayErrorInfo.Cancelled(taskId, entry.Spec.DisplayName));
        }
        else
        {
            try { entry.Cancellation.Cancel(); } catch (ObjectDisposedException) { }
            FailTask(entry, RayErrorInfo.Cancelled(taskId, entry.Spec.DisplayName));
        }
        if (recursive)
            foreach (var child in children) Cancel(child, force, recursive);
    }

    /// <summary>Cancels the pending tasks this worker submitted from inside <paramref name="parent"/> (which runs here
    /// but is owned elsewhere), and theirs in turn.</summary>
    public void CancelChildren(TaskId parent, bool force)
    {
        List<TaskId> children;
        lock (_lock) children = [.. _pending.Values.Where(e => e.Spec.ParentTaskId == parent).Select(e => e.Spec.TaskId)];
        foreach (var child in children)
        {
            try
            {
                Cancel(child, force, recursive: true);
            }
            catch (ArgumentException)
            {
                // An actor call cannot be force-cancelled; the rest still are.
            }
        }
    }

    /// <summary>Fails every pending task (shutdown).</summary>
    public void FailAll(RayErrorInfo error)
    {
        List<Entry> all;
        lock (_lock) all = [.. _pending.Values];
        foreach (var e in all)
        {
            try { e.Cancellation.Cancel(); } catch (ObjectDisposedException) { }
            FailTask(e, error);
        }
    }
}

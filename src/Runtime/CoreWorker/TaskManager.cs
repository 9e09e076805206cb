using System.Diagnostics;
using RaySharp.Core.Stats;
using RaySharp.Internal;
using RaySharp.State;

namespace RaySharp.Core;

/// <summary>
/// Tracks the tasks this worker owns until they finish (Ray's <c>TaskManager</c>): stores their returns in the
/// memory store, decides retries, fails them with errors, cancels them, and collects streaming items. After a task
/// finishes it keeps the task's lineage — its spec — while the task's returns are referenced (or the lineage of a task
/// that takes them as arguments is kept), up to <see cref="RayConfig.MaxLineageBytes"/>, so that
/// <see cref="ResubmitTask"/> can run it again when every copy of a return is lost.
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
        /// <summary>Tasks it submitted while running (made when it submits its first: most tasks submit none).</summary>
        public List<TaskId>? Children { get; set; }

        /// <summary>The arguments as the submitter resolved them (refs to small objects inlined), kept as the lineage.</summary>
        public TaskArg[]? ResolvedArgs { get; set; }

        /// <summary>A finished task run again from its lineage to rebuild lost returns.</summary>
        public bool IsReconstruction { get; init; }

        /// <summary>How often the task was sent again because an argument's copy was lost under it.</summary>
        public int ArgumentRecoveries { get; set; }

        /// <summary>Which run of the task this is (Ray's attempt number): 0, then one more for each retry or re-execution.</summary>
        public int Attempt { get; set; }
        /// <summary>When the task was submitted (<see cref="Stopwatch.GetTimestamp"/>), for its latency.</summary>
        public long SubmittedAt { get; } = Stopwatch.GetTimestamp();
    }

    /// <summary>A finished task's lineage: its spec (null once evicted, or when its outputs cannot be rebuilt, with the
    /// reason), the retries left to rebuild them, and how many kept lineages take its returns as arguments.</summary>
    internal sealed class Lineage(TaskId taskId, string name, ObjectId[] returns)
    {
        public TaskId TaskId { get; } = taskId;
        public string Name { get; } = name;
        public ObjectId[] Returns { get; } = returns;
        public TaskSpec? Spec { get; set; }
        public long Bytes { get; set; }
        public int RetriesLeft { get; set; }
        public int Dependents { get; set; }
        public LinkedListNode<TaskId>? Order { get; set; }

        /// <summary>Why its outputs cannot be rebuilt (None: they can), with what the message names: kept as these fields and
        /// formatted only when asked, since most finished calls (actor methods with no retries) have such a reason and
        /// few are ever lost.</summary>
        public NotRebuiltReason Reason { get; set; }
        public int MaxRetries { get; set; }
        public ActorId ActorId { get; set; }
        public long EvictedAtBytes { get; set; }

        public string? NotRebuilt => Reason switch
        {
            NotRebuiltReason.ActorMethodNotRetryable =>
                $"it was returned by actor method {Name} ({TaskId}), which is not retryable (MaxTaskRetries is 0); give the " +
                "method or actor MaxTaskRetries > 0 (or -1) to have lost outputs re-executed on the actor",
            NotRebuiltReason.ActorMethodRetriesSpent =>
                $"its actor method {Name} ({TaskId}) spent its retries (MaxTaskRetries = {MaxRetries}) before it finished",
            NotRebuiltReason.ActorConstructor => $"it was returned by the constructor of actor {ActorId}",
            NotRebuiltReason.TaskNotRetryable =>
                $"its task {Name} ({TaskId}) has MaxRetries = 0; give the task MaxRetries > 0 (or -1) to have lost outputs re-executed",
            NotRebuiltReason.TaskRetriesSpent => $"its task {Name} ({TaskId}) spent its retries (MaxRetries = {MaxRetries}) before it finished",
            NotRebuiltReason.Evicted =>
                $"the lineage of its task {Name} ({TaskId}) was evicted: the owner keeps at most RAY_max_lineage_bytes " +
                $"({EvictedAtBytes} bytes) of finished tasks' specs, oldest evicted first; raise RAY_max_lineage_bytes to keep more",
            _ => null,
        };

        /// <summary>The attempt that produced the returns (a re-execution is the next one).</summary>
        public int Attempt { get; set; }
    }

    /// <summary>How often a task is sent again after one of its arguments was lost under it and recovered.</summary>
    internal const int MaxArgumentRecoveries = 3;

    /// <summary>What a kept spec costs besides its inline arguments (IDs, descriptor, options).</summary>
    internal const long LineageOverheadBytes = 256;

    private readonly Lock _lock = new();
    private readonly Dictionary<TaskId, Entry> _pending = [];
    private readonly Dictionary<TaskId, Lineage> _lineage = [];
    private readonly LinkedList<TaskId> _lineageOrder = new(); // kept specs, oldest first (evicted first)
    private readonly Stack<Lineage> _dropScratch = new();
    private long _lineageBytes;
    private readonly CoreWorker _worker;

    public TaskManager(CoreWorker worker) => _worker = worker;

    public int NumPendingTasks
    {
        get { lock (_lock) return _pending.Count; }
    }

    /// <summary>Finished tasks whose lineage is tracked (kept specs and those whose outputs cannot be rebuilt).</summary>
    public int NumLineageEntries
    {
        get { lock (_lock) return _lineage.Count; }
    }

    /// <summary>The estimated bytes of the specs kept as lineage (at most <see cref="RayConfig.MaxLineageBytes"/>).</summary>
    public long LineageBytes
    {
        get { lock (_lock) return _lineageBytes; }
    }

    /// <summary>The lineage of a finished task, if tracked (for tests and diagnostics).</summary>
    public bool TryGetLineage(TaskId taskId, out TaskSpec? spec, out string? notRebuilt)
    {
        lock (_lock)
        {
            if (_lineage.TryGetValue(taskId, out var l))
            {
                (spec, notRebuilt) = (l.Spec, l.NotRebuilt);
                return true;
            }
        }
        (spec, notRebuilt) = (null, null);
        return false;
    }

    /// <summary>Registers a submitted task: its returns become owned objects (one local ref each, adopted by the
    /// refs handed to the caller) and its arguments are kept alive until it finishes.</summary>
    public Entry AddPendingTask(TaskSpec spec, int maxRetries, GeneratorStream? stream = null)
    {
        for (int i = 0; i < spec.NumReturns; i++) _worker.ReferenceCounter.AddOwnedObject(spec.ReturnId(i), _worker.Address);
        _worker.ReferenceCounter.AddSubmittedTaskReferences(spec.ArgumentReferenceIds());
        var entry = new Entry(spec, maxRetries) { Stream = stream };
        RecordSubmitted(spec);
        lock (_lock)
        {
            _pending[spec.TaskId] = entry;
            if (spec.ParentTaskId is { } parent && _pending.TryGetValue(parent, out var p)) (p.Children ??= []).Add(spec.TaskId);
        }
        _worker.TaskEvents?.Record(spec, 0, RayTaskStatus.PendingArgsAvail, withInfo: true);
        return entry;
    }

    /// <summary>Records a state change of the entry's current attempt as a task event (when events are on); a new
    /// attempt's first event says what the task is.</summary>
    public void RecordEvent(Entry entry, RayTaskStatus state, NodeId nodeId = default) =>
        _worker.TaskEvents?.Record(entry.Spec, entry.Attempt, state, withInfo: entry.Attempt > 0 && state == RayTaskStatus.PendingNodeAssignment,
            nodeId: nodeId);

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
        if (LostArgument(entry, reply) is { } lost)
        {
            // The copy of an argument in an object store could not be read where the task ran: recover the argument
            // (its owner rebuilds it when every copy is gone), then resolve and send the task again. No retry is spent.
            entry.ArgumentRecoveries++;
            entry.Status = Status.WaitingForDependencies;
            _worker.Recovery.RecoverArgumentThenResubmit(entry, lost, reply.Error!);
            return false;
        }
        if (ShouldRetry(entry, reply))
        {
            RecordRetry(entry.Spec);
            if (entry.RetriesLeft > 0) entry.RetriesLeft--;
            // This attempt failed; the retry is the next one.
            _worker.TaskEvents?.Record(entry.Spec, entry.Attempt, RayTaskStatus.Failed, error: reply.Error);
            entry.Attempt++;
            return true;
        }
        FailTask(entry, reply.Error);
        return false;
    }

    /// <summary>The in-store argument whose copy the executor could not read (it fails such a task with ObjectLost naming
    /// the argument), when the task may be sent again after recovering it.</summary>
    private static TaskArg? LostArgument(Entry entry, PushTaskReply reply)
    {
        if (!reply.IsApplicationError || reply.Error is not { Kind: ErrorKind.ObjectLost, ObjectId: { } id }) return null;
        if (entry.Spec.Type != TaskType.NormalTask || entry.ArgumentRecoveries >= MaxArgumentRecoveries || entry.ResolvedArgs is not { } args) return null;
        foreach (var a in args)
            if (a.IsInStore && a.Id == id) return a;
        return null;
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
        _worker.TaskEvents?.Record(spec, entry.Attempt, RayTaskStatus.Finished);
        RecordEnd(entry, RayMetrics.Finished);
        // First the returns take hold of the refs nested in them, then the arguments are released, then the returns
        // become visible: whoever sees a result sees the arguments freed, and nothing a return holds was freed.
        int count = Math.Min(spec.NumReturns, returns.Length);
        var kept = new bool[count];
        for (int i = 0; i < count; i++)
        {
            var id = spec.ReturnId(i);
            kept[i] = _worker.ReferenceCounter.IsInScope(id);
            if (!kept[i]) continue;
            if (entry.IsReconstruction) _worker.ReferenceCounter.AddNestedObjectsOnce(id, returns[i].NestedIds);
            else _worker.ReferenceCounter.AddNestedObjects(id, returns[i].NestedIds);
        }
        // The lineage takes hold of its arguments' lineage before the arguments are released (their values may go).
        if (!entry.IsReconstruction) RecordLineage(entry, kept);
        _worker.ReferenceCounter.RemoveSubmittedTaskReferences(spec.ArgumentReferenceIds());
        for (int i = 0; i < count; i++)
        {
            if (kept[i]) _worker.MemoryStore.Put(spec.ReturnId(i), returns[i]);
            // Nobody references the return any more: its copy in the store is not kept either.
            else if (returns[i].IsInStore) _worker.FreeStoreCopy(spec.ReturnId(i), returns[i].StoreNode);
        }
        // The executor pinned refs nested in the returns; now that the returns hold them, drop the pins.
        ReleasePins(nestedPins);
        _yieldedCounts.TryRemove(spec.TaskId, out _);
        entry.Stream?.Complete();
    }

    // ---- Lineage ----

    /// <summary>Keeps the lineage of a task that finished with returns still referenced: its spec, with the arguments
    /// the submitter inlined as values (refs remain only for arguments in an object store), unless its outputs cannot be
    /// rebuilt — then only why, for the error a loss gives.</summary>
    private void RecordLineage(Entry entry, bool[] kept)
    {
        var spec = entry.Spec;
        if (spec.IsStreaming || Array.IndexOf(kept, true) < 0) return;
        var lineage = new Lineage(spec.TaskId, spec.DisplayName, spec.ReturnIds())
        {
            RetriesLeft = entry.RetriesLeft, Attempt = entry.Attempt, MaxRetries = spec.MaxRetries, ActorId = spec.ActorId,
            Reason = spec.Type switch
            {
                TaskType.ActorTask when spec.MaxRetries == 0 => NotRebuiltReason.ActorMethodNotRetryable,
                TaskType.ActorTask when entry.RetriesLeft == 0 => NotRebuiltReason.ActorMethodRetriesSpent,
                TaskType.ActorCreationTask => NotRebuiltReason.ActorConstructor,
                _ when spec.MaxRetries == 0 => NotRebuiltReason.TaskNotRetryable,
                _ when entry.RetriesLeft == 0 => NotRebuiltReason.TaskRetriesSpent,
                _ => NotRebuiltReason.None,
            },
        };
        if (lineage.Reason == NotRebuiltReason.None)
        {
            lineage.Spec = LineageSpec(spec, entry.ResolvedArgs);
            lineage.Bytes = EstimateLineageBytes(lineage.Spec);
        }
        lock (_lock)
        {
            _lineage[spec.TaskId] = lineage;
            if (lineage.Spec is { } keptSpec)
            {
                lineage.Order = _lineageOrder.AddLast(spec.TaskId);
                _lineageBytes += lineage.Bytes;
                foreach (var dep in keptSpec.ArgumentReferenceIds())
                    if (!dep.IsPut && _lineage.TryGetValue(dep.TaskId, out var d) && d != lineage) d.Dependents++;
            }
            // A return released since the check above found no lineage to drop then.
            DropIfUnusedLocked(lineage);
            EvictLocked();
        }
    }

    /// <summary>The spec as lineage: arguments the submitter inlined become values (they need no lineage of their own);
    /// arguments in an object store stay refs.</summary>
    private static TaskSpec LineageSpec(TaskSpec spec, TaskArg[]? resolved)
    {
        if (resolved is null || resolved.Length != spec.Args.Length) return spec;
        if (Array.FindIndex(resolved, a => a.IsInStore) < 0) return spec.WithArgs(resolved); // the spec itself when nothing was resolved
        var args = new TaskArg[resolved.Length];
        for (int i = 0; i < args.Length; i++)
            args[i] = resolved[i].IsInStore ? TaskArg.ByReference(resolved[i].Id, resolved[i].Owner!) : resolved[i];
        return spec.WithArgs(args);
    }

    /// <summary>A kept spec's size: its inline arguments' bytes and what the rest costs (Ray counts the serialized spec).</summary>
    internal static long EstimateLineageBytes(TaskSpec spec)
    {
        long bytes = LineageOverheadBytes;
        foreach (var a in spec.Args)
            bytes += a.IsRef || a.IsInStore ? ObjectId.Size + 64 : (a.Value.Data?.Length ?? 0) + (long)a.Value.NestedIds.Length * ObjectId.Size;
        return bytes;
    }

    /// <summary>An owned object went out of scope: when none of its task's returns is referenced and no kept lineage
    /// needs it, the task's lineage goes (and, in turn, that of its arguments).</summary>
    public void OnOwnedObjectOutOfScope(ObjectId id)
    {
        if (id.IsPut) return;
        lock (_lock)
            if (_lineage.TryGetValue(id.TaskId, out var l)) DropIfUnusedLocked(l);
    }

    private void DropIfUnusedLocked(Lineage first)
    {
        // Called under the lock for every finished task and every freed return: one stack serves them all (empty again
        // whenever this returns).
        var stack = _dropScratch;
        stack.Push(first);
        while (stack.Count > 0)
        {
            var l = stack.Pop();
            if (l.Dependents > 0 || _pending.ContainsKey(l.TaskId) || !_lineage.TryGetValue(l.TaskId, out var current) || current != l) continue;
            bool referenced = false;
            foreach (var r in l.Returns)
                if (_worker.ReferenceCounter.IsInScope(r)) { referenced = true; break; }
            if (referenced) continue;
            _lineage.Remove(l.TaskId);
            ReleaseSpecLocked(l, stack);
        }
    }

    /// <summary>Drops a lineage's spec (dropped or evicted): the lineage of its arguments is no longer needed by it.</summary>
    private void ReleaseSpecLocked(Lineage l, Stack<Lineage> maybeUnused)
    {
        if (l.Spec is not { } spec) return;
        l.Spec = null;
        _lineageBytes -= l.Bytes;
        l.Bytes = 0;
        if (l.Order is { } node) _lineageOrder.Remove(node);
        l.Order = null;
        // The objects it takes as arguments whose own lineage it needs (task returns; puts have none).
        foreach (var dep in spec.ArgumentReferenceIds())
        {
            if (dep.IsPut || !_lineage.TryGetValue(dep.TaskId, out var d) || d == l) continue;
            if (--d.Dependents <= 0) maybeUnused.Push(d);
        }
    }

    /// <summary>Evicts the oldest kept specs while they take more than <see cref="RayConfig.MaxLineageBytes"/> (Ray's
    /// lineage eviction); a loss of their outputs then fails, saying so.</summary>
    private void EvictLocked()
    {
        long max = _worker.Config.MaxLineageBytes;
        if (_lineageBytes <= max) return;
        var maybeUnused = new Stack<Lineage>();
        while (_lineageBytes > max && _lineageOrder.First is { } oldest)
        {
            var l = _lineage[oldest.Value];
            l.Reason = NotRebuiltReason.Evicted;
            l.EvictedAtBytes = max;
            ReleaseSpecLocked(l, maybeUnused);
        }
        while (maybeUnused.TryPop(out var d)) DropIfUnusedLocked(d);
    }

    /// <summary>
    /// Ray's <c>TaskManager::ResubmitTask</c>: runs a finished task again from its lineage to rebuild lost returns. The
    /// task becomes pending again with its arguments pinned, and <paramref name="reset"/> returns (those lost) are emptied
    /// so that their readers wait for the new values; one of its retries is spent. Returns null and the entry to submit
    /// once its lost arguments are recovered (null when the task is already running again: its readers just wait), or
    /// why its outputs cannot be rebuilt (then nothing changed).
    /// </summary>
    public string? ResubmitTask(TaskId taskId, Func<ObjectId, bool> reset, out Entry? resubmitted)
    {
        resubmitted = null;
        TaskSpec spec;
        lock (_lock)
        {
            if (_pending.ContainsKey(taskId))
            {
                // Emptied before the run in progress stores its returns (that happens after it leaves the pending table).
                ResetReturnsLocked(taskId, reset);
                return null;
            }
            if (!_lineage.TryGetValue(taskId, out var l))
                return $"no lineage is kept for its task {taskId} (the items of a streaming generator are not rebuilt)";
            if (l.Spec is null) return l.NotRebuilt ?? $"the lineage of its task {l.Name} ({taskId}) is not kept";
            if (l.RetriesLeft == 0)
                return $"its task {l.Name} ({taskId}) has no retries left to run again (MaxRetries = {l.Spec.MaxRetries}, counting earlier " +
                    "failures and earlier re-executions)";
            spec = l.Spec;
            if (l.RetriesLeft > 0) l.RetriesLeft--;
            resubmitted = new Entry(spec, l.RetriesLeft) { IsReconstruction = true, Attempt = ++l.Attempt };
            _pending[taskId] = resubmitted;
            ResetReturnsLocked(taskId, reset, spec);
        }
        _worker.TaskEvents?.Record(spec, resubmitted.Attempt, RayTaskStatus.PendingArgsAvail, withInfo: true);
        // Returns released since are pinned again by whoever needs them (a task rebuilt after them takes them as arguments).
        foreach (var id in spec.ReturnIds()) _worker.ReferenceCounter.MarkOwned(id, _worker.Address);
        _worker.ReferenceCounter.AddSubmittedTaskReferences(spec.ArgumentReferenceIds());
        return null;
    }

    private void ResetReturnsLocked(TaskId taskId, Func<ObjectId, bool> reset, TaskSpec? spec = null)
    {
        var returns = spec?.ReturnIds() ?? (_lineage.TryGetValue(taskId, out var l) ? l.Returns : []);
        foreach (var id in returns)
        {
            if (!reset(id)) continue;
            _worker.MemoryStore.Delete(id);
            _worker.ForgetLocations(id);
        }
    }

    private bool TryMarkFinished(Entry entry)
    {
        lock (_lock)
        {
            if (entry.Status == Status.Finished) return false;
            entry.Status = Status.Finished;
            _pending.Remove(entry.Spec.TaskId);
            if (entry.IsReconstruction && _lineage.TryGetValue(entry.Spec.TaskId, out var l))
            {
                // The retries this run spent count for the next loss; its returns may have been released meanwhile.
                l.RetriesLeft = entry.RetriesLeft;
                DropIfUnusedLocked(l);
            }
            return true;
        }
    }

    // ---- Metrics (RayMetrics: raysharp.tasks, raysharp.tasks.pending, raysharp.task.latency) ----

    private static void RecordSubmitted(TaskSpec spec)
    {
        var type = RayMetrics.TypeTag(spec.Type);
        RayMetrics.Tasks.Add(1, new KeyValuePair<string, object?>(RayMetrics.State, RayMetrics.Submitted), type);
        RayMetrics.TasksPending.Add(1, type);
    }

    /// <summary>The task is sent again after a failure (a retry spent, or a free one after a lost lease).</summary>
    internal static void RecordRetry(TaskSpec spec) =>
        RayMetrics.Tasks.Add(1, new KeyValuePair<string, object?>(RayMetrics.State, RayMetrics.Retried), RayMetrics.TypeTag(spec.Type));

    private static void RecordEnd(Entry entry, string state)
    {
        var type = RayMetrics.TypeTag(entry.Spec.Type);
        RayMetrics.Tasks.Add(1, new KeyValuePair<string, object?>(RayMetrics.State, state), type);
        RayMetrics.TasksPending.Add(-1, type);
        if (RayMetrics.TaskLatency.Enabled) RayMetrics.TaskLatency.Record(Stopwatch.GetElapsedTime(entry.SubmittedAt).TotalSeconds, type);
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
        Finish(entry, error);
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

    private void Finish(Entry entry, RayErrorInfo error)
    {
        if (!TryMarkFinished(entry)) return;
        _worker.TaskEvents?.Record(entry.Spec, entry.Attempt, RayTaskStatus.Failed, error: error);
        RecordEnd(entry, RayMetrics.Failed);
        _yieldedCounts.TryRemove(entry.Spec.TaskId, out _);
        entry.Stream?.Complete();
        _worker.ReferenceCounter.RemoveSubmittedTaskReferences(entry.Spec.ArgumentReferenceIds());
    }

    /// <summary>How long a force cancel waits for the worker to act before the task fails regardless.</summary>
    private static readonly TimeSpan ForceCancelWait = TimeSpan.FromSeconds(5);

    /// <summary>Ray.Cancel: a pending task fails with TaskCancelledException at once; a running one has its token
    /// signalled (force: its result is abandoned and it fails as soon as its worker has acted on the cancel). Recursive
    /// cancels the tasks it submitted.</summary>
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
            children = entry.Children is { } submitted ? [.. submitted] : [];
        }
        if (entry.Status == Status.Running && entry.RunningOn is { } worker)
        {
            if (!force) worker.CancelTask(taskId, force, recursive);
            else
            {
                // The task fails once its worker has acted on the cancel (at most ForceCancelWait later): a task queued
                // there behind another is dropped first, so it cannot start after its caller saw it cancelled.
                var failed = entry;
                _ = worker.CancelTaskAsync(taskId, force, recursive).WaitAsync(ForceCancelWait).ContinueWith(
                    _ => FailTask(failed, RayErrorInfo.Cancelled(taskId, failed.Spec.DisplayName)), CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
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

/// <summary>Why a finished task's outputs cannot be rebuilt from its lineage.</summary>
internal enum NotRebuiltReason : byte
{
    None,
    ActorMethodNotRetryable,
    ActorMethodRetriesSpent,
    ActorConstructor,
    TaskNotRetryable,
    TaskRetriesSpent,
    Evicted,
}

using Microsoft.Extensions.Logging;
using RaySharp.State;

namespace RaySharp.Core.Gcs;

/// <summary>
/// The GCS's task-event store (Ray's <c>GcsTaskManager</c>): every worker's batches of task events are merged here into
/// one record per task attempt (task ID and attempt number), which backs <c>ray list tasks</c> and the dashboard. It
/// holds at most <c>task_events_max_num_task_in_gcs</c> attempts; beyond that the oldest (first recorded) is evicted and
/// counted, and so are the events workers report they dropped: both counts go with every listing. When a job finishes,
/// its attempts that never reported an end are marked failed after <c>gcs_mark_task_failed_on_job_done_delay_ms</c>
/// (events still on their way get there first); when a worker dies, the attempts it was running are marked failed.
/// Either mark gives way to an end a worker reports afterwards.
/// <para>The attempts live in a ring of value-type slots, oldest first, reused once the store is full, and what a task is
/// (its name, function, parent and resources) is shared by the attempts that say the same: merging an event allocates
/// nothing. At a hundred thousand calls a second, a store of objects made one or two per call, each kept about a
/// second, would have the GC promote every one of them to its oldest generation and collect that again and again.</para>
/// </summary>
internal sealed partial class GcsTaskManager : IDisposable
{
    private static readonly int NumStates = Enum.GetValues<RayTaskStatus>().Length;
    private const int MaxStates = 16;
    private const int MaxSharedInfos = 4096;

    /// <summary>When an attempt reached each state, indexed by it (0: not reached).</summary>
    [System.Runtime.CompilerServices.InlineArray(MaxStates)]
    private struct StateTimes
    {
        private long _first;
    }

    /// <summary>One attempt, every event merged in.</summary>
    private struct Slot
    {
        public TaskId TaskId;
        public int Attempt;
        public StateTimes Times;
        public TaskInfoData? Info;
        public NodeId NodeId;
        public WorkerId WorkerId;
        public int WorkerPid;
        public string? ErrorType;
        public string? ErrorMessage;
        public bool FailureInferred;

        public readonly bool IsTerminal => Times[(int)RayTaskStatus.Finished] != 0 || Times[(int)RayTaskStatus.Failed] != 0;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<(TaskId, int), int> _index = [];
    // A ring, oldest first: _count slots from _first on. It grows (doubling) up to _maxAttempts, then the oldest slot is
    // reused for the next attempt.
    private Slot[] _slots;
    private int _first;
    private int _count;
    private readonly Dictionary<TaskInfoData, TaskInfoData> _infos = new(InfoComparer.Instance);
    private readonly int _maxAttempts;
    private readonly TimeSpan _jobDoneDelay;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private long _droppedAtWorkers;
    private long _droppedAtGcs;

    /// <param name="maxAttempts">The most attempts kept (<c>task_events_max_num_task_in_gcs</c>).</param>
    /// <param name="jobDoneDelay">How long after a job finished its unfinished attempts are marked failed.</param>
    /// <param name="logger">The manager's log.</param>
    public GcsTaskManager(int maxAttempts, TimeSpan jobDoneDelay, ILogger<GcsTaskManager> logger)
    {
        if (NumStates > MaxStates) throw new InvalidOperationException($"The task-event store keeps {MaxStates} states per attempt; RayTaskStatus has {NumStates}.");
        _maxAttempts = Math.Max(1, maxAttempts);
        _slots = new Slot[Math.Min(_maxAttempts, 1024)];
        _jobDoneDelay = jobDoneDelay;
        _logger = logger;
    }

    /// <summary>Attempts held now.</summary>
    public int Count
    {
        get { lock (_lock) return _count; }
    }

    /// <summary>Merges a worker's batch (validated by the caller: <see cref="Rpc.WireValidation.TaskEvents"/>).</summary>
    public void AddEvents(TaskEventBatch batch)
    {
        lock (_lock)
        {
            _droppedAtWorkers += batch.NumDropped;
            foreach (var e in batch.Events) MergeLocked(e);
        }
        if (batch.NumDropped > 0) LogWorkerDropped(_logger, batch.Reporter, batch.NumDropped);
    }

    private void MergeLocked(TaskEventData e)
    {
        if (!_index.TryGetValue((e.TaskId, e.Attempt), out int at))
        {
            at = NewSlotLocked();
            _index[(e.TaskId, e.Attempt)] = at;
            _slots[at] = new Slot { TaskId = e.TaskId, Attempt = e.Attempt };
        }
        ref var a = ref _slots[at];
        if (a.FailureInferred && e.State is RayTaskStatus.Finished or RayTaskStatus.Failed)
        {
            // A worker's own word on how the attempt ended replaces what the GCS guessed.
            a.Times[(int)RayTaskStatus.Failed] = 0;
            a.FailureInferred = false;
            (a.ErrorType, a.ErrorMessage) = (null, null);
        }
        if (a.Times[(int)e.State] == 0) a.Times[(int)e.State] = Math.Max(1, e.TimeMs);
        if (e.StateTimesMs is { } reached)
            for (int s = 0; s < reached.Length && s < NumStates; s++)
                if (a.Times[s] == 0 && reached[s] > 0) a.Times[s] = reached[s];
        if (e.Info is { } info) a.Info = SharedLocked(info);
        if (!e.NodeId.IsNil) a.NodeId = e.NodeId;
        if (!e.WorkerId.IsNil) a.WorkerId = e.WorkerId;
        if (e.WorkerPid > 0) a.WorkerPid = e.WorkerPid;
        if (e.ErrorType is not null) a.ErrorType = e.ErrorType;
        if (e.ErrorMessage is not null) a.ErrorMessage = e.ErrorMessage;
    }

    /// <summary>The <paramref name="i"/>-th attempt held, oldest first.</summary>
    private ref Slot SlotAtLocked(int i) => ref _slots[(_first + i) % _slots.Length];

    /// <summary>The slot for a new attempt: the next free one, or the oldest attempt's once the store is full (it is evicted).</summary>
    private int NewSlotLocked()
    {
        if (_count == _slots.Length && _slots.Length < _maxAttempts)
        {
            var bigger = new Slot[Math.Min(_maxAttempts, _slots.Length * 2)];
            for (int i = 0; i < _count; i++) bigger[i] = SlotAtLocked(i);
            _slots = bigger;
            _first = 0;
            for (int i = 0; i < _count; i++) _index[(bigger[i].TaskId, bigger[i].Attempt)] = i;
        }
        if (_count < _slots.Length) return (_first + _count++) % _slots.Length;
        int oldest = _first;
        _index.Remove((_slots[oldest].TaskId, _slots[oldest].Attempt));
        _first = (_first + 1) % _slots.Length;
        if (_droppedAtGcs++ == 0) LogFirstEviction(_logger, _maxAttempts);
        return oldest;
    }

    /// <summary>One instance for every attempt that says the same about its task (the calls of one function from one
    /// parent), so the store keeps no copy per attempt.</summary>
    private TaskInfoData SharedLocked(TaskInfoData info)
    {
        if (_infos.TryGetValue(info, out var shared)) return shared;
        if (_infos.Count >= MaxSharedInfos) _infos.Clear();
        _infos[info] = info;
        return info;
    }

    private static TaskAttemptData ToData(in Slot a)
    {
        var times = new long[NumStates];
        for (int s = 0; s < times.Length; s++) times[s] = a.Times[s];
        return new TaskAttemptData
        {
            TaskId = a.TaskId, Attempt = a.Attempt, StateTimesMs = times, Info = a.Info, NodeId = a.NodeId, WorkerId = a.WorkerId,
            WorkerPid = a.WorkerPid, ErrorType = a.ErrorType, ErrorMessage = a.ErrorMessage, FailureInferred = a.FailureInferred,
        };
    }

    /// <summary>Task infos equal by what they say (their resources by content, not by dictionary).</summary>
    private sealed class InfoComparer : IEqualityComparer<TaskInfoData>
    {
        public static readonly InfoComparer Instance = new();

        public bool Equals(TaskInfoData? x, TaskInfoData? y)
        {
            if (ReferenceEquals(x, y)) return true;
            if (x is null || y is null) return false;
            if (x.Type != y.Type || x.JobId != y.JobId || x.ActorId != y.ActorId || x.ParentTaskId != y.ParentTaskId
                || !string.Equals(x.Name, y.Name, StringComparison.Ordinal) || !string.Equals(x.FuncOrClassName, y.FuncOrClassName, StringComparison.Ordinal))
                return false;
            var (a, b) = (x.RequiredResources, y.RequiredResources);
            if (a is null || b is null) return a is null && b is null;
            if (a.Count != b.Count) return false;
            foreach (var (name, amount) in a)
                if (!b.TryGetValue(name, out double other) || other != amount) return false;
            return true;
        }

        public int GetHashCode(TaskInfoData info) =>
            HashCode.Combine(info.Name, info.FuncOrClassName, info.Type, info.ActorId, info.ParentTaskId, info.RequiredResources?.Count ?? -1);
    }

    /// <summary>Attempts passing <paramref name="filters"/>, oldest first, at most <paramref name="limit"/>; with how
    /// many passed and what was dropped.</summary>
    public (TaskAttemptData[] Attempts, int Total, long DroppedAtWorkers, long DroppedAtGcs) List(int limit, IReadOnlyList<StateFilter> filters)
    {
        TaskAttemptData[] all;
        long droppedAtWorkers, droppedAtGcs;
        lock (_lock)
        {
            all = new TaskAttemptData[_count];
            for (int i = 0; i < _count; i++) all[i] = ToData(SlotAtLocked(i));
            (droppedAtWorkers, droppedAtGcs) = (_droppedAtWorkers, _droppedAtGcs);
        }
        // The records are copies: filtering and the reply's serialization happen outside the lock.
        var matching = filters.Count == 0 ? all : [.. StateFilter.Apply(all, a => a.ToTaskState(), filters, "tasks")];
        return (matching.Length <= limit ? matching : matching[..limit], matching.Length, droppedAtWorkers, droppedAtGcs);
    }

    /// <summary>A job finished: after the delay, its attempts that did not report an end are marked failed.</summary>
    public void OnJobFinished(JobId jobId) => _ = MarkJobTasksFailedLaterAsync(jobId);

    private async Task MarkJobTasksFailedLaterAsync(JobId jobId)
    {
        try
        {
            if (_jobDoneDelay > TimeSpan.Zero) await Task.Delay(_jobDoneDelay, _stopping.Token).ConfigureAwait(false);
            int marked = MarkFailed((task, _) => task.JobId == jobId, "WORKER_DIED",
                $"Job {jobId} finished before this task reported that it finished (its driver exited, or its worker was stopped with the job).");
            if (marked > 0) LogJobTasksFailed(_logger, marked, jobId);
        }
        catch (OperationCanceledException)
        {
            // The GCS is stopping.
        }
        catch (Exception e)
        {
            LogMarkFailed(_logger, e, $"job {jobId}");
        }
    }

    /// <summary>A worker died: the attempts it was running (that did not report an end) failed with it.</summary>
    public void OnWorkerDead(WorkerId workerId, string reason)
    {
        try
        {
            MarkFailed((_, worker) => worker == workerId, "WORKER_DIED", $"The worker running this task died: {reason}");
        }
        catch (Exception e)
        {
            LogMarkFailed(_logger, e, $"worker {workerId}");
        }
    }

    /// <summary>Marks failed, as the GCS's own inference, the unfinished attempts <paramref name="which"/> picks (by task and worker).</summary>
    private int MarkFailed(Func<TaskId, WorkerId, bool> which, string errorType, string message)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        int marked = 0;
        lock (_lock)
        {
            for (int i = 0; i < _count; i++)
            {
                ref var a = ref SlotAtLocked(i);
                if (a.IsTerminal || !which(a.TaskId, a.WorkerId)) continue;
                a.Times[(int)RayTaskStatus.Failed] = now;
                (a.ErrorType, a.ErrorMessage, a.FailureInferred) = (errorType, message, true);
                marked++;
            }
        }
        return marked;
    }

    public void Dispose() => _stopping.Cancel();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Worker {WorkerId} dropped {Count} task events (its buffer was full or a report failed)")]
    private static partial void LogWorkerDropped(ILogger logger, WorkerId workerId, long count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The task-event store holds its maximum of {Max} task attempts: the oldest are evicted from now on " +
        "(raise RAY_task_events_max_num_task_in_gcs to keep more)")]
    private static partial void LogFirstEviction(ILogger logger, int max);

    [LoggerMessage(Level = LogLevel.Information, Message = "Marked {Count} unfinished task attempts of job {JobId} failed: the job finished")]
    private static partial void LogJobTasksFailed(ILogger logger, int count, JobId jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Marking the unfinished tasks of {What} failed inside RaySharp")]
    private static partial void LogMarkFailed(ILogger logger, Exception e, string what);
}

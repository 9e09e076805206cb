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
/// </summary>
internal sealed partial class GcsTaskManager : IDisposable
{
    private static readonly int NumStates = Enum.GetValues<RayTaskStatus>().Length;

    private readonly Lock _lock = new();
    private readonly Dictionary<(TaskId, int), LinkedListNode<TaskAttemptData>> _attempts = [];
    private readonly LinkedList<TaskAttemptData> _order = new(); // oldest first: evicted first
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
        _maxAttempts = Math.Max(1, maxAttempts);
        _jobDoneDelay = jobDoneDelay;
        _logger = logger;
    }

    /// <summary>Attempts held now.</summary>
    public int Count
    {
        get { lock (_lock) return _attempts.Count; }
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
        var key = (e.TaskId, e.Attempt);
        if (!_attempts.TryGetValue(key, out var node))
        {
            if (_attempts.Count >= _maxAttempts && _order.First is { } oldest)
            {
                _order.RemoveFirst();
                _attempts.Remove((oldest.Value.TaskId, oldest.Value.Attempt));
                if (_droppedAtGcs++ == 0) LogFirstEviction(_logger, _maxAttempts);
            }
            _attempts[key] = _order.AddLast(Merge(null, e));
            return;
        }
        node.Value = Merge(node.Value, e);
    }

    /// <summary>The attempt with <paramref name="e"/> merged in (null: the attempt's first event): the first time each
    /// state was reached is kept; what the task is, where it ran and why it failed are taken from whichever event says.</summary>
    internal static TaskAttemptData Merge(TaskAttemptData? a, TaskEventData e)
    {
        var times = a is null ? new long[NumStates] : (long[])a.StateTimesMs.Clone();
        bool inferred = a is { FailureInferred: true };
        string? errorType = a?.ErrorType, errorMessage = a?.ErrorMessage;
        if (inferred && e.State is RayTaskStatus.Finished or RayTaskStatus.Failed)
        {
            // A worker's own word on how the attempt ended replaces what the GCS guessed.
            times[(int)RayTaskStatus.Failed] = 0;
            inferred = false;
            (errorType, errorMessage) = (null, null);
        }
        if (times[(int)e.State] == 0) times[(int)e.State] = Math.Max(1, e.TimeMs);
        if (e.StateTimesMs is { } reached)
            for (int s = 0; s < reached.Length && s < times.Length; s++)
                if (times[s] == 0 && reached[s] > 0) times[s] = reached[s];
        // A new record each time (never one changed in place): replies read records outside the store's lock.
        return new TaskAttemptData
        {
            TaskId = e.TaskId,
            Attempt = e.Attempt,
            StateTimesMs = times,
            Info = e.Info ?? a?.Info,
            NodeId = e.NodeId.IsNil && a is not null ? a.NodeId : e.NodeId,
            WorkerId = e.WorkerId.IsNil && a is not null ? a.WorkerId : e.WorkerId,
            WorkerPid = e.WorkerPid > 0 ? e.WorkerPid : a?.WorkerPid ?? 0,
            ErrorType = e.ErrorType ?? errorType,
            ErrorMessage = e.ErrorMessage ?? errorMessage,
            FailureInferred = inferred,
        };
    }

    /// <summary>Attempts passing <paramref name="filters"/>, oldest first, at most <paramref name="limit"/>; with how
    /// many passed and what was dropped.</summary>
    public (TaskAttemptData[] Attempts, int Total, long DroppedAtWorkers, long DroppedAtGcs) List(int limit, IReadOnlyList<StateFilter> filters)
    {
        TaskAttemptData[] all;
        long droppedAtWorkers, droppedAtGcs;
        lock (_lock)
        {
            all = [.. _order];
            (droppedAtWorkers, droppedAtGcs) = (_droppedAtWorkers, _droppedAtGcs);
        }
        // Records are immutable: filtering and the reply's serialization happen outside the lock.
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
            int marked = MarkFailed(a => a.TaskId.JobId == jobId, "WORKER_DIED",
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
            MarkFailed(a => a.WorkerId == workerId, "WORKER_DIED", $"The worker running this task died: {reason}");
        }
        catch (Exception e)
        {
            LogMarkFailed(_logger, e, $"worker {workerId}");
        }
    }

    private int MarkFailed(Func<TaskAttemptData, bool> which, string errorType, string message)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        int marked = 0;
        lock (_lock)
        {
            for (var node = _order.First; node is not null; node = node.Next)
            {
                var a = node.Value;
                if (a.IsTerminal || !which(a)) continue;
                var times = (long[])a.StateTimesMs.Clone();
                times[(int)RayTaskStatus.Failed] = now;
                node.Value = a with { StateTimesMs = times, ErrorType = errorType, ErrorMessage = message, FailureInferred = true };
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

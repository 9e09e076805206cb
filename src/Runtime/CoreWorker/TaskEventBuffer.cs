using Microsoft.Extensions.Logging;
using RaySharp.State;

namespace RaySharp.Core;

/// <summary>Where a worker's task events go (the GCS's <c>AddTaskEventData</c>).</summary>
internal interface ITaskEventSink
{
    Task SendAsync(TaskEventBatch batch, CancellationToken ct);
}

/// <summary>
/// A process's task events (Ray's <c>TaskEventBuffer</c>): the submit and execute paths record each state change of a
/// task attempt here — a struct copied into a ring under a short lock, no I/O, no allocation once the ring has grown —
/// and a loop sends them to the GCS in batches of at most <c>task_events_send_batch_size</c> every
/// <c>task_events_report_interval_ms</c>. The ring holds at most <c>task_events_max_buffer_size</c> events; when it is
/// full the oldest is overwritten and counted as dropped, and so are the events of a batch the GCS did not take: the
/// next batch reports the count, and the GCS adds it to what the state API says was lost.
/// </summary>
internal sealed partial class TaskEventBuffer : IAsyncDisposable
{
    /// <summary>One recorded state change. It holds what the event says, copied from the spec, and never the spec: a
    /// spec held here until the next report (a second) would keep the call's arguments alive that long, and at tens of
    /// thousands of calls a second every one of them would survive into the oldest GC generation. Recording allocates
    /// nothing: the fields are values or shared by the task's calls (its name, function and resources).</summary>
    internal readonly record struct Recorded(TaskId TaskId, int Attempt, RayTaskStatus State, long TimeMs, NodeId NodeId, WorkerId WorkerId, int Pid,
        RayErrorInfo? Error, RecordedInfo Info)
    {
        public bool WithInfo => Info.IsSet;
    }

    /// <summary>What the task is, for the event that carries it (an attempt's first at its owner, Running at the executor);
    /// default for the others.</summary>
    internal readonly record struct RecordedInfo(string? Name, string FuncOrClassName, RayTaskType Type, ActorId ActorId, TaskId ParentTaskId,
        ResourceSet? Resources)
    {
        /// <summary>The event carries what the task is (default: it does not).</summary>
        public bool IsSet => Name is not null;

        public static RecordedInfo Of(TaskSpec spec) => new(
            spec.DisplayName,
            spec.ActorCreation?.Class.Name ?? spec.Function.Name,
            spec.Type switch
            {
                TaskType.ActorCreationTask => RayTaskType.ActorCreationTask,
                TaskType.ActorTask => RayTaskType.ActorTask,
                _ => RayTaskType.NormalTask,
            },
            spec.ActorId,
            spec.ParentTaskId ?? default,
            spec.Resources);

        public TaskInfoData ToData(TaskId taskId) => new(Name!, FuncOrClassName, Type, taskId.JobId, ActorId, ParentTaskId,
            Resources is null || Resources.IsEmpty ? null : Resources.SharedWireDictionary); // none for an actor call
    }

    private const int InitialCapacity = 256;

    private readonly Lock _lock = new();
    private Recorded[] _ring;
    private Recorded[] _taken = [];
    private int _head;
    private int _count;
    private long _dropped;
    private readonly ITaskEventSink _sink;
    private readonly WorkerId _reporter;
    private readonly int _maxBuffered;
    private readonly int _batchSize;
    private readonly ILogger _logger;
    /// <summary>Stops the loop's wait for its next tick.</summary>
    private readonly CancellationTokenSource _stop = new();
    /// <summary>Cancels sends: only when the shutdown deadline passes, so a batch in flight when the process stops is
    /// still delivered rather than cut off and lost.</summary>
    private readonly CancellationTokenSource _sendDeadline = new();
    private readonly Task _loop;
    private readonly SemaphoreSlim _flushing = new(1, 1);
    // Set while the loop waits for an event (the ring was empty); the next Record completes it.
    private TaskCompletionSource? _quiet;

    /// <param name="sink">Takes the batches (the GCS).</param>
    /// <param name="reporter">This process's worker ID, named in each batch.</param>
    /// <param name="interval">How often a batch is sent (positive; events are disabled by not building a buffer).</param>
    /// <param name="maxBuffered">The most events held; beyond it the oldest are dropped.</param>
    /// <param name="batchSize">The most events in one batch.</param>
    /// <param name="logger">Where failed sends are reported.</param>
    public TaskEventBuffer(ITaskEventSink sink, WorkerId reporter, TimeSpan interval, int maxBuffered, int batchSize, ILogger<TaskEventBuffer> logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _sink = sink;
        _reporter = reporter;
        _maxBuffered = Math.Max(1, maxBuffered);
        _ring = new Recorded[Math.Min(InitialCapacity, _maxBuffered)];
        _batchSize = Math.Max(1, batchSize);
        _logger = logger;
        _loop = RunAsync(interval);
    }

    /// <summary>Events held now (for tests and diagnostics).</summary>
    public int Count
    {
        get { lock (_lock) return _count; }
    }

    /// <summary>Records that an attempt of <paramref name="spec"/> reached <paramref name="state"/> now.</summary>
    /// <param name="spec">The task.</param>
    /// <param name="attempt">Which attempt.</param>
    /// <param name="state">The state it reached.</param>
    /// <param name="nodeId">Where it was sent or runs, when the recorder knows.</param>
    /// <param name="workerId">The worker that runs it (the executor knows).</param>
    /// <param name="pid">That worker's process.</param>
    /// <param name="error">Why it failed.</param>
    /// <param name="withInfo">Send what the task is (name, function, job, actor, parent, resources) with the event: its
    /// owner does for an attempt's first event, the executor for Running.</param>
    public void Record(TaskSpec spec, int attempt, RayTaskStatus state, bool withInfo = false, NodeId nodeId = default, WorkerId workerId = default,
        int pid = 0, RayErrorInfo? error = null)
    {
        if (!spec.EnableTaskEvents) return;
        var e = new Recorded(spec.TaskId, attempt, state, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), nodeId, workerId, pid, error,
            withInfo ? RecordedInfo.Of(spec) : default);
        lock (_lock)
        {
            if (_count == _ring.Length)
            {
                if (_ring.Length < _maxBuffered) GrowLocked();
                else
                {
                    // Full: the oldest event makes room (Ray's buffer drops its oldest too).
                    _ring[_head] = e;
                    _head = (_head + 1) % _ring.Length;
                    _dropped++;
                    return;
                }
            }
            _ring[(_head + _count) % _ring.Length] = e;
            _count++;
            // The first event after a quiet spell wakes the loop, which sleeps while there is nothing to send.
            if (_quiet is { } quiet)
            {
                _quiet = null;
                quiet.TrySetResult();
            }
        }
    }

    private void GrowLocked()
    {
        var bigger = new Recorded[Math.Min(_maxBuffered, _ring.Length * 2)];
        for (int i = 0; i < _count; i++) bigger[i] = _ring[(_head + i) % _ring.Length];
        _ring = bigger;
        _head = 0;
    }

    /// <summary>Sends what is held now, a batch at a time (the loop does this every interval; shutdown does it once more).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        await _flushing.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (true)
            {
                int taken;
                long dropped;
                lock (_lock)
                {
                    taken = Math.Min(_count, _batchSize);
                    // One flush at a time (_flushing), so the events taken are copied into one array kept for the purpose.
                    if (_taken.Length < taken) _taken = new Recorded[Math.Min(_batchSize, Math.Max(taken, _taken.Length * 2))];
                    for (int i = 0; i < taken; i++)
                    {
                        _taken[i] = _ring[_head];
                        _ring[_head] = default;
                        _head = (_head + 1) % _ring.Length;
                    }
                    _count -= taken;
                    dropped = _dropped;
                    _dropped = 0;
                }
                if (taken == 0 && dropped == 0) return;
                try
                {
                    TaskEventData[] events;
                    try
                    {
                        events = Coalesce(_taken.AsSpan(0, taken));
                    }
                    finally
                    {
                        Array.Clear(_taken, 0, taken);
                    }
                    await _sink.SendAsync(new TaskEventBatch(_reporter, events, dropped), ct).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    // Lost with the batch; the next one says how many.
                    lock (_lock) _dropped += dropped + taken;
                    if (e is OperationCanceledException && ct.IsCancellationRequested) throw;
                    LogSendFailed(_logger, e, taken);
                    return;
                }
                if (taken < _batchSize) return;
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>Sends a batch every interval while there are events; with none, waits for the next one instead of
    /// waking every interval (an idle worker, of which a node may hold hundreds, then costs no wake-ups here).</summary>
    private async Task RunAsync(TimeSpan interval)
    {
        try
        {
            while (true)
            {
                Task? nextEvent = null;
                lock (_lock)
                {
                    if (_count == 0 && _dropped == 0)
                    {
                        _quiet = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        nextEvent = _quiet.Task;
                    }
                }
                if (nextEvent is not null) await nextEvent.WaitAsync(_stop.Token).ConfigureAwait(false);
                await Task.Delay(interval, _stop.Token).ConfigureAwait(false);
                try
                {
                    await FlushAsync(_sendDeadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_sendDeadline.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    // One bad batch must not stop the reports.
                    LogFlushFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    private static readonly int s_numStates = Enum.GetValues<RayTaskStatus>().Length;

    /// <summary>The batch's events with those of one attempt merged into one record (its owner records up to four state
    /// changes of a task within a report interval): the GCS merges a record per attempt instead of one per change.</summary>
    internal static TaskEventData[] Coalesce(ReadOnlySpan<Recorded> taken)
    {
        if (taken.Length == 0) return [];
        if (taken.Length == 1) return [ToData(taken[0])];
        var index = new Dictionary<(TaskId, int), Merged>(taken.Length);
        var order = new List<Merged>(taken.Length);
        foreach (var e in taken)
        {
            if (!index.TryGetValue((e.TaskId, e.Attempt), out var m))
            {
                index[(e.TaskId, e.Attempt)] = m = new Merged(e);
                order.Add(m);
            }
            else m.Add(e);
        }
        var events = new TaskEventData[order.Count];
        for (int i = 0; i < events.Length; i++) events[i] = order[i].ToData();
        return events;
    }

    /// <summary>The events of one attempt within a batch: the latest state and time, when it reached each, and what any of
    /// them said about the task, its worker and its error.</summary>
    private sealed class Merged(Recorded first)
    {
        private Recorded _latest = first;
        private long[]? _times;
        private RecordedInfo _info = first.Info;
        private NodeId _node = first.NodeId;
        private WorkerId _worker = first.WorkerId;
        private int _pid = first.Pid;
        private RayErrorInfo? _error = first.Error;

        public void Add(Recorded e)
        {
            if (_times is null)
            {
                _times = new long[s_numStates];
                _times[(int)_latest.State] = Math.Max(1, _latest.TimeMs);
            }
            if (_times[(int)e.State] == 0) _times[(int)e.State] = Math.Max(1, e.TimeMs);
            _latest = e;
            if (e.WithInfo && !_info.IsSet) _info = e.Info;
            if (!e.NodeId.IsNil) _node = e.NodeId;
            if (!e.WorkerId.IsNil) _worker = e.WorkerId;
            if (e.Pid > 0) _pid = e.Pid;
            if (e.Error is not null) _error = e.Error;
        }

        public TaskEventData ToData() => _times is null ? TaskEventBuffer.ToData(_latest) : new TaskEventData
        {
            TaskId = _latest.TaskId,
            Attempt = _latest.Attempt,
            State = _latest.State,
            TimeMs = _latest.TimeMs,
            StateTimesMs = _times,
            Info = _info.IsSet ? _info.ToData(_latest.TaskId) : null,
            NodeId = _node,
            WorkerId = _worker,
            WorkerPid = _pid,
            ErrorType = _error is not null ? ErrorTypeOf(_error.Kind) : null,
            ErrorMessage = _error is not null ? MessageOf(_error) : null,
        };
    }

    private static TaskEventData ToData(Recorded e) => new()
    {
        TaskId = e.TaskId,
        Attempt = e.Attempt,
        State = e.State,
        TimeMs = e.TimeMs,
        Info = e.WithInfo ? e.Info.ToData(e.TaskId) : null,
        NodeId = e.NodeId,
        WorkerId = e.WorkerId,
        WorkerPid = e.Pid,
        ErrorType = e.Error is { } error ? ErrorTypeOf(error.Kind) : null,
        ErrorMessage = e.Error is { } err ? MessageOf(err) : null,
    };

    /// <summary>Longest error message an event carries; longer ones are cut (the GCS refuses longer).</summary>
    internal const int MaxErrorMessageLength = 16 * 1024;

    private static string MessageOf(RayErrorInfo error)
    {
        string message = error.Kind == ErrorKind.TaskException && error.TypeChain.Length > 0 ? $"{error.TypeChain[0]}: {error.Message}" : error.Message;
        return message.Length <= MaxErrorMessageLength ? message : message[..(MaxErrorMessageLength - 1)] + "…";
    }

    /// <summary>Ray's name of the error type (<c>common.proto: ErrorType</c>) for a failure kind.</summary>
    internal static string ErrorTypeOf(ErrorKind kind) => kind switch
    {
        ErrorKind.TaskException => "TASK_EXECUTION_EXCEPTION",
        ErrorKind.ActorDied => "ACTOR_DIED",
        ErrorKind.ActorUnavailable => "ACTOR_UNAVAILABLE",
        ErrorKind.TaskCancelled => "TASK_CANCELLED",
        ErrorKind.WorkerCrashed => "WORKER_DIED",
        ErrorKind.NodeDied => "NODE_DIED",
        ErrorKind.ObjectLost => "OBJECT_LOST",
        ErrorKind.OwnerDied => "OWNER_DIED",
        ErrorKind.ObjectReconstructionFailed => "OBJECT_UNRECONSTRUCTABLE",
        ErrorKind.ObjectStoreFull => "OBJECT_STORE_FULL",
        ErrorKind.RuntimeEnvSetupFailed => "RUNTIME_ENV_SETUP_FAILED",
        ErrorKind.TaskUnschedulable => "TASK_UNSCHEDULABLE_ERROR",
        ErrorKind.ActorUnschedulable => "ACTOR_UNSCHEDULABLE_ERROR",
        ErrorKind.PlacementGroupFailed => "TASK_PLACEMENT_GROUP_REMOVED",
        _ => kind.ToString().ToUpperInvariant(),
    };

    /// <summary>Stops the loop and sends what is left, waiting at most <paramref name="timeout"/> in all (a shutting-down
    /// process must not hang on a GCS that is gone). A batch the loop is sending at that moment is let finish, not
    /// cancelled: its events would otherwise be lost.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_stop.IsCancellationRequested) return;
        _sendDeadline.CancelAfter(timeout);
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        try
        {
            await FlushAsync(_sendDeadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The GCS did not take the last events in time.
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending {Count} task events to the GCS failed; they are counted as dropped")]
    private static partial void LogSendFailed(ILogger logger, Exception e, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reporting task events failed inside RaySharp; the next report runs at the next interval")]
    private static partial void LogFlushFailed(ILogger logger, Exception e);
}

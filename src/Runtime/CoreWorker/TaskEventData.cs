using MemoryPack;
using RaySharp.State;

namespace RaySharp.Core;

// The task events a worker sends to the GCS and the GCS's merged record of an attempt (Ray's TaskEvents,
// TaskStateUpdate and TaskInfoEntry of export_task_event.proto / gcs.proto). Defined here because the core worker
// produces them; the GCS stores them and the state API reads them.

/// <summary>What a task is, sent with the first events of an attempt (Ray's <c>TaskInfoEntry</c>).</summary>
[MemoryPackable]
internal sealed partial record TaskInfoData(string Name, string FuncOrClassName, RayTaskType Type, JobId JobId, ActorId ActorId, TaskId ParentTaskId,
    Dictionary<string, double>? RequiredResources);

/// <summary>One state change of one attempt, with where it ran (set by the executor and at submission to a worker) and
/// why it failed.</summary>
[MemoryPackable]
internal sealed partial record TaskEventData
{
    public required TaskId TaskId { get; init; }
    public int Attempt { get; init; }
    public RayTaskStatus State { get; init; }

    /// <summary>Milliseconds since the Unix epoch.</summary>
    public long TimeMs { get; init; }

    /// <summary>When the attempt reached each state this record reports (indexed by <see cref="RayTaskStatus"/>; 0: not in
    /// this record), when a worker sends several state changes of one attempt as one record; <see cref="State"/> and
    /// <see cref="TimeMs"/> are then the latest of them. Null: the record is the one state change.</summary>
    public long[]? StateTimesMs { get; init; }
    public TaskInfoData? Info { get; init; }
    public NodeId NodeId { get; init; }
    public WorkerId WorkerId { get; init; }
    public int WorkerPid { get; init; }
    public string? ErrorType { get; init; }
    public string? ErrorMessage { get; init; }
}

/// <summary>A worker's batch of events, with how many it dropped since its last batch (its buffer was full, or a send failed).</summary>
[MemoryPackable]
internal sealed partial record TaskEventBatch(WorkerId Reporter, TaskEventData[] Events, long NumDropped);

/// <summary>
/// One attempt as the GCS's task-event store holds it, every event merged in (Ray's <c>TaskEvents</c> in the
/// <c>GcsTaskManager</c>): a copy made for a listing, so the reply is filtered and serialized outside the store's lock.
/// </summary>
[MemoryPackable]
internal sealed partial record TaskAttemptData
{
    public required TaskId TaskId { get; init; }
    public int Attempt { get; init; }
    public TaskInfoData? Info { get; init; }

    /// <summary>When the attempt reached each <see cref="RayTaskStatus"/> (indexed by it; 0: not reached).</summary>
    public required long[] StateTimesMs { get; init; }
    public NodeId NodeId { get; init; }
    public WorkerId WorkerId { get; init; }
    public int WorkerPid { get; init; }
    public string? ErrorType { get; init; }
    public string? ErrorMessage { get; init; }

    /// <summary>The GCS marked the attempt failed itself (its job finished, its worker died) rather than hearing it from a
    /// worker: an event from a worker that says how it ended takes precedence.</summary>
    public bool FailureInferred { get; init; }

    /// <summary>The latest state reached: Finished or Failed when either is, else the furthest along.</summary>
    [MemoryPackIgnore]
    public RayTaskStatus State
    {
        get
        {
            for (int s = StateTimesMs.Length - 1; s >= 0; s--)
                if (StateTimesMs[s] != 0) return (RayTaskStatus)s;
            return RayTaskStatus.PendingArgsAvail;
        }
    }

    [MemoryPackIgnore]
    public bool IsTerminal => StateTimesMs[(int)RayTaskStatus.Finished] != 0 || StateTimesMs[(int)RayTaskStatus.Failed] != 0;
}

/// <summary>One object reference in a core worker's reference table (Ray's <c>ObjectRefInfo</c> of
/// <c>GetCoreWorkerStats</c>).</summary>
[MemoryPackable]
internal sealed partial record ObjectRefData
{
    public required ObjectId ObjectId { get; init; }
    public long Size { get; init; } = -1;
    public ReferenceType ReferenceType { get; init; }
    public bool Owned { get; init; }
    public WorkerId Owner { get; init; }
    public int Local { get; init; }
    public int Submitted { get; init; }
    public int ContainedIn { get; init; }
    public int Borrowers { get; init; }

    /// <summary>The owner's state of the creating task; null for a put or where unknown.</summary>
    public RayTaskStatus? TaskStatus { get; init; }
    public int Attempt { get; init; }
    public NodeId StoreNode { get; init; }
    public bool Spilled { get; init; }
}

/// <summary>A core worker's references: who it is (<see cref="IsDriver"/>, pid, node, endpoint) and up to the limit asked
/// of its table (<see cref="Total"/> counts them all).</summary>
[MemoryPackable]
internal sealed partial record CoreWorkerObjects(WorkerId WorkerId, bool IsDriver, int Pid, NodeId NodeId, string Endpoint, ObjectRefData[] Objects, int Total);

/// <summary>The state API's rows made from what the GCS and the core workers report (one projection, used by the GCS to
/// filter and by the client to answer, so a filter sees exactly the fields a caller gets).</summary>
internal static class StateRows
{
    private static string? Id<T>(T id, bool isNil) where T : struct => isNil ? null : id.ToString();

    public static TaskState ToTaskState(this TaskAttemptData a)
    {
        var events = new List<TaskStateEvent>(a.StateTimesMs.Length);
        for (int s = 0; s < a.StateTimesMs.Length; s++)
            if (a.StateTimesMs[s] != 0) events.Add(new TaskStateEvent((RayTaskStatus)s, a.StateTimesMs[s]));
        events.Sort((x, y) => x.CreatedMs != y.CreatedMs ? x.CreatedMs.CompareTo(y.CreatedMs) : x.State.CompareTo(y.State));
        long Time(RayTaskStatus s) => a.StateTimesMs[(int)s];
        long end = Math.Max(Time(RayTaskStatus.Finished), Time(RayTaskStatus.Failed));
        var info = a.Info;
        return new TaskState
        {
            TaskId = a.TaskId.ToString(),
            AttemptNumber = a.Attempt,
            Name = info?.Name ?? "",
            State = a.State,
            JobId = a.TaskId.JobId.ToString(),
            ActorId = info is { ActorId.IsNil: false } ? info.ActorId.ToString() : null,
            Type = info?.Type ?? RayTaskType.NormalTask,
            FuncOrClassName = info?.FuncOrClassName ?? "",
            ParentTaskId = info is null ? null : Id(info.ParentTaskId, info.ParentTaskId.IsNil),
            NodeId = Id(a.NodeId, a.NodeId.IsNil),
            WorkerId = Id(a.WorkerId, a.WorkerId.IsNil),
            WorkerPid = a.WorkerPid > 0 ? a.WorkerPid : null,
            ErrorType = a.ErrorType,
            ErrorMessage = a.ErrorMessage,
            RequiredResources = info?.RequiredResources ?? [],
            Events = events,
            CreationTimeMs = events.Count > 0 ? events[0].CreatedMs : null,
            StartTimeMs = Time(RayTaskStatus.Running) is > 0 and var start ? start : null,
            EndTimeMs = end > 0 ? end : null,
        };
    }

    public static ObjectState ToObjectState(this ObjectRefData o, CoreWorkerObjects holder) => new()
    {
        ObjectId = o.ObjectId.ToString(),
        ObjectSize = o.Size >= 0 ? o.Size : null,
        TaskStatus = o.TaskStatus,
        ReferenceType = o.ReferenceType,
        Type = holder.IsDriver ? "DRIVER" : "WORKER",
        Pid = holder.Pid,
        Ip = HostOf(holder.Endpoint),
        NodeId = holder.NodeId.ToString(),
        WorkerId = holder.WorkerId.ToString(),
        IsOwner = o.Owned,
        OwnerWorkerId = Id(o.Owner, o.Owner.IsNil),
        LocalRefCount = o.Local,
        SubmittedTaskRefCount = o.Submitted,
        ContainedInCount = o.ContainedIn,
        BorrowerCount = o.Borrowers,
        InObjectStore = !o.StoreNode.IsNil,
        StoreNodeId = Id(o.StoreNode, o.StoreNode.IsNil),
        Spilled = o.Spilled,
    };

    /// <summary>The host of a <c>host:port</c> endpoint; null for a socket or in-process endpoint.</summary>
    public static string? HostOf(string endpoint)
    {
        if (endpoint.StartsWith("unix:", StringComparison.Ordinal) || endpoint.StartsWith("inproc:", StringComparison.Ordinal)) return null;
        int colon = endpoint.LastIndexOf(':');
        return colon > 0 ? endpoint[..colon] : endpoint;
    }
}

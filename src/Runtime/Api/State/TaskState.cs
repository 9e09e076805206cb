namespace RaySharp.State;

/// <summary>A task attempt's state (Ray's <c>TaskStatus</c>), in the order an attempt goes through them.</summary>
public enum RayTaskStatus
{
    /// <summary>Submitted; its owner waits for its arguments to exist.</summary>
    PendingArgsAvail,

    /// <summary>Its arguments are ready; its owner waits for a worker lease.</summary>
    PendingNodeAssignment,

    /// <summary>Pushed to a leased worker (or, for an actor call, sent to the actor).</summary>
    SubmittedToWorker,

    /// <summary>The worker runs it.</summary>
    Running,

    /// <summary>It returned.</summary>
    Finished,

    /// <summary>It threw, was cancelled, or its worker, node or actor died.</summary>
    Failed,
}

/// <summary>What kind of task (Ray's <c>TaskType</c>).</summary>
public enum RayTaskType
{
    /// <summary>A remote function's call.</summary>
    NormalTask,

    /// <summary>An actor's constructor.</summary>
    ActorCreationTask,

    /// <summary>A call of an actor's method.</summary>
    ActorTask,
}

/// <summary>When an attempt reached one of its states (Ray's <c>events</c> of a task).</summary>
/// <param name="State">The state.</param>
/// <param name="CreatedMs">When, in milliseconds since the Unix epoch.</param>
public sealed record TaskStateEvent(RayTaskStatus State, long CreatedMs);

/// <summary>
/// One attempt of a task, as the GCS's task-event store knows it (Ray's <c>TaskState</c> of <c>ray list tasks</c>). IDs are
/// lowercase hex; an ID the task does not have (no actor, no parent) is null. Serialized with
/// <see cref="StateApi.JsonOptions"/> the properties carry Ray's field names (<c>task_id</c>, <c>attempt_number</c>, ...).
/// </summary>
public sealed record TaskState
{
    /// <summary>The task (lowercase hex).</summary>
    public required string TaskId { get; init; }
    /// <summary>Which attempt: 0, then one more per retry or re-execution.</summary>
    public int AttemptNumber { get; init; }

    /// <summary>The task's name: its <c>TaskOptions.Name</c>, else its function's.</summary>
    public required string Name { get; init; }

    /// <summary>The latest state the attempt reached.</summary>
    public RayTaskStatus State { get; init; }
    /// <summary>The job (lowercase hex).</summary>
    public required string JobId { get; init; }
    /// <summary>The actor (lowercase hex).</summary>
    public string? ActorId { get; init; }
    /// <summary>What kind of task.</summary>
    public RayTaskType Type { get; init; }

    /// <summary>The remote function or actor method (<c>Class.Method</c>).</summary>
    public required string FuncOrClassName { get; init; }
    /// <summary>The task that submitted it (null for the driver's).</summary>
    public string? ParentTaskId { get; init; }

    /// <summary>The node the attempt ran on (null before it was given a worker).</summary>
    public string? NodeId { get; init; }
    /// <summary>The worker that ran it.</summary>
    public string? WorkerId { get; init; }
    /// <summary>The process of that worker.</summary>
    public int? WorkerPid { get; init; }

    /// <summary>Ray's error type of a failed attempt: <c>TASK_EXECUTION_EXCEPTION</c>, <c>WORKER_DIED</c>,
    /// <c>ACTOR_DIED</c>, <c>TASK_CANCELLED</c>, <c>NODE_DIED</c>, ...</summary>
    public string? ErrorType { get; init; }
    /// <summary>What went wrong, for a failed attempt.</summary>
    public string? ErrorMessage { get; init; }
    /// <summary>The resources the task asked for.</summary>
    public IReadOnlyDictionary<string, double> RequiredResources { get; init; } = new Dictionary<string, double>();

    /// <summary>Each state the attempt reached, with when, oldest first.</summary>
    public IReadOnlyList<TaskStateEvent> Events { get; init; } = [];

    /// <summary>When the task was submitted (ms since the Unix epoch).</summary>
    public long? CreationTimeMs { get; init; }

    /// <summary>When it started running.</summary>
    public long? StartTimeMs { get; init; }

    /// <summary>When it finished or failed.</summary>
    public long? EndTimeMs { get; init; }
}

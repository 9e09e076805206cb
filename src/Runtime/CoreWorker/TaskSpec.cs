using RaySharp.Internal;

namespace RaySharp.Core;

internal enum TaskType : byte { NormalTask, ActorCreationTask, ActorTask }

/// <summary>One argument of a task: an inline value, a ref the owner resolves before the task runs, or — once resolved —
/// an object in the shared-memory store of <see cref="StoreNode"/>, which the executor maps (never inlined).</summary>
internal readonly struct TaskArg
{
    private TaskArg(SerializedObject value, ObjectId id, Address? owner, bool isRef, NodeId storeNode = default, long storeSize = 0)
    {
        Value = value;
        Id = id;
        Owner = owner;
        IsRef = isRef;
        StoreNode = storeNode;
        StoreSize = storeSize;
    }

    public bool IsRef { get; }
    public ObjectId Id { get; }
    public Address? Owner { get; }
    public SerializedObject Value { get; }

    /// <summary>The node holding the argument's primary copy, for an in-store argument (nil otherwise).</summary>
    public NodeId StoreNode { get; }
    public long StoreSize { get; }
    public bool IsInStore => !StoreNode.IsNil;

    public static TaskArg ByReference(ObjectId id, Address owner) => new(default, id, owner, true);

    public static TaskArg ByValue(SerializedObject value) => new(value, default, null, false);

    /// <summary>A resolved ref whose object is in the store of <paramref name="node"/>: passed by reference.</summary>
    public static TaskArg InStore(ObjectId id, Address owner, NodeId node, long size, ObjectId[] nestedIds) =>
        new(new SerializedObject([], nestedIds), id, owner, false, node, size);
}

/// <summary>What an actor creation task additionally carries.</summary>
internal sealed record ActorCreationSpec
{
    public required ActorId ActorId { get; init; }
    public required ActorClassDescriptor Class { get; init; }
    public string? Name { get; init; }
    public required string Namespace { get; init; }
    public ActorLifetime Lifetime { get; init; }
    public int MaxRestarts { get; init; }
    public int MaxTaskRetries { get; init; }
    public int MaxConcurrency { get; init; } = 1;
    public int MaxPendingCalls { get; init; } = -1;

    /// <summary>The actor's creation and calls record task events (ActorOptions.EnableTaskEvents).</summary>
    public bool EnableTaskEvents { get; init; } = true;

    /// <summary>NumCpus was not set: the actor needs 1 CPU to be placed and holds 0 while it runs (as in Ray).</summary>
    public bool UsesDefaultCpus { get; init; }
}

/// <summary>Ray's <c>TaskSpecification</c>: everything needed to run a task anywhere and to retry it.</summary>
internal sealed class TaskSpec
{
    public required TaskId TaskId { get; init; }
    public required TaskType Type { get; init; }
    public required RemoteFunctionDescriptor Function { get; init; }
    public required TaskArg[] Args { get; init; }
    public required Address Owner { get; init; }
    public TaskId? ParentTaskId { get; init; }
    public ResourceSet Resources { get; init; } = ResourceSet.Empty;
    public SchedulingStrategy Strategy { get; init; } = SchedulingStrategy.Default;
    public RuntimeEnv? RuntimeEnv { get; init; }
    public int MaxRetries { get; init; }
    public bool RetryExceptions { get; init; }
    public IReadOnlyList<Type>? RetryExceptionTypes { get; init; }
    public string? Name { get; init; }

    /// <summary>The submitter and the executor record this task's events (Ray's <c>enable_task_events</c>).</summary>
    public bool EnableTaskEvents { get; init; } = true;

    // Actor tasks
    public ActorId ActorId { get; init; }
    public long SequenceNumber { get; init; }

    /// <summary>0 for the first run; for actor creation, how often the actor was restarted.</summary>
    public int AttemptNumber { get; init; }

    // Actor creation
    public ActorCreationSpec? ActorCreation { get; init; }

    /// <summary>The submitter's W3C trace context: the executing worker's span is its child (null: not traced).</summary>
    public string? TraceParent { get; init; }
    public string? TraceState { get; init; }

    public string DisplayName => Name ?? Function.Name;

    /// <summary>This spec with resolved <paramref name="args"/> (and, for an actor restart, its attempt number).</summary>
    public TaskSpec WithArgs(TaskArg[] args, int? attemptNumber = null) =>
        ReferenceEquals(args, Args) && attemptNumber is null ? this : new TaskSpec
        {
            TaskId = TaskId, Type = Type, Function = Function, Args = args, Owner = Owner, ParentTaskId = ParentTaskId,
            Resources = Resources, Strategy = Strategy, RuntimeEnv = RuntimeEnv, MaxRetries = MaxRetries,
            RetryExceptions = RetryExceptions, RetryExceptionTypes = RetryExceptionTypes, Name = Name, ActorId = ActorId,
            EnableTaskEvents = EnableTaskEvents,
            SequenceNumber = SequenceNumber, AttemptNumber = attemptNumber ?? AttemptNumber, ActorCreation = ActorCreation,
            TraceParent = TraceParent, TraceState = TraceState,
        };

    public int NumReturns => Function.ReturnKind == ReturnKind.Streaming ? 0 : Function.NumReturns;

    public bool IsStreaming => Function.ReturnKind == ReturnKind.Streaming;

    public ObjectId ReturnId(int index) => ObjectId.ForReturn(TaskId, index + 1);

    public ObjectId[] ReturnIds()
    {
        var ids = new ObjectId[NumReturns];
        for (int i = 0; i < ids.Length; i++) ids[i] = ReturnId(i);
        return ids;
    }

    private ObjectId[]? _argumentReferenceIds;

    /// <summary>IDs this task keeps alive while pending: ref arguments and refs nested in inline arguments (computed once:
    /// they are pinned at submission and released when the task finishes).</summary>
    public ObjectId[] ArgumentReferenceIds() => _argumentReferenceIds ??= ComputeArgumentReferenceIds();

    private ObjectId[] ComputeArgumentReferenceIds()
    {
        // A pending call keeps its actor alive (Ray: a non-detached actor exits only once its calls are done).
        int count = Type == TaskType.ActorTask ? 1 : 0;
        foreach (var a in Args) count += a.IsRef || a.IsInStore ? 1 : a.Value.NestedIds.Length;
        if (count == 0) return [];
        var ids = new ObjectId[count];
        int i = 0;
        if (Type == TaskType.ActorTask) ids[i++] = ActorManager.HandleObjectId(ActorId);
        foreach (var a in Args)
        {
            if (a.IsRef || a.IsInStore) ids[i++] = a.Id;
            else foreach (var n in a.Value.NestedIds) ids[i++] = n;
        }
        return ids;
    }

    /// <summary>Workers are reused only for the same job and runtime environment (Ray's worker pool key).</summary>
    public string RuntimeEnvKey => RuntimeEnv is null || RuntimeEnv.IsEmpty
        ? ""
        : string.Join(";", (RuntimeEnv.EnvVars ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => kv.Key + "=" + kv.Value)) + "|" + RuntimeEnv.WorkingDir;
}

using MemoryPack;

namespace RaySharp.Core;

/// <summary>What kind of failure an error object records; decides the exception a reader sees.</summary>
internal enum ErrorKind : byte
{
    TaskException = 0,
    ActorDied = 1,
    ActorUnavailable = 2,
    TaskCancelled = 3,
    WorkerCrashed = 4,
    NodeDied = 5,
    ObjectLost = 6,
    OwnerDied = 7,
    ObjectReconstructionFailed = 8,
    ObjectStoreFull = 9,
    RuntimeEnvSetupFailed = 10,
    TaskUnschedulable = 11,
    ActorUnschedulable = 12,
    PlacementGroupFailed = 13,
}

/// <summary>
/// A failure stored in place of an object's value (Ray stores errors as objects too), so every reader of the
/// object, however far downstream, raises the same error. Travels on the wire; exceptions themselves do not.
/// </summary>
[MemoryPackable]
internal sealed partial record RayErrorInfo
{
    public required ErrorKind Kind { get; init; }
    public required string Message { get; init; }
    public string? FunctionName { get; init; }
    public string[] TypeChain { get; init; } = [];
    public string? RemoteMessage { get; init; }
    public string? RemoteStackTrace { get; init; }
    public ActorId? ActorId { get; init; }
    public TaskId? TaskId { get; init; }
    public ObjectId? ObjectId { get; init; }
    public NodeId? NodeId { get; init; }

    /// <summary>The error of user code that threw <paramref name="exception"/> while running <paramref name="functionName"/>.
    /// A RaySharp error escaping user code (e.g. from a nested Get) keeps its own identity: callers see the upstream failure.</summary>
    public static RayErrorInfo FromUserException(Exception exception, string functionName)
    {
        if (exception is RayException ray && FromRayException(ray) is { } upstream) return upstream;
        var chain = new List<string>();
        for (var t = exception.GetType(); t is not null; t = t.BaseType) chain.Add(t.FullName ?? t.Name);
        return new RayErrorInfo
        {
            Kind = ErrorKind.TaskException,
            Message = exception.Message,
            FunctionName = functionName,
            TypeChain = [.. chain],
            RemoteMessage = exception.Message,
            RemoteStackTrace = exception.StackTrace,
        };
    }

    /// <summary>The error info a RaySharp exception was made from, so rethrowing it downstream keeps its kind.</summary>
    public static RayErrorInfo? FromRayException(RayException exception) => exception switch
    {
        RayTaskException t => new RayErrorInfo
        {
            Kind = ErrorKind.TaskException, Message = t.RemoteMessage, FunctionName = t.FunctionName,
            TypeChain = [.. t.RemoteExceptionTypeChain], RemoteMessage = t.RemoteMessage, RemoteStackTrace = t.RemoteStackTrace,
        },
        ActorDiedException a => new RayErrorInfo { Kind = ErrorKind.ActorDied, Message = a.Cause, ActorId = a.ActorId },
        ActorUnavailableException a => new RayErrorInfo { Kind = ErrorKind.ActorUnavailable, Message = a.Message, ActorId = a.ActorId },
        TaskCancelledException c => new RayErrorInfo { Kind = ErrorKind.TaskCancelled, Message = c.Message, TaskId = c.TaskId },
        WorkerCrashedException w => new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = w.Message },
        NodeDiedException n => new RayErrorInfo { Kind = ErrorKind.NodeDied, Message = n.Message, NodeId = n.NodeId },
        OwnerDiedException o => new RayErrorInfo { Kind = ErrorKind.OwnerDied, Message = o.Message, ObjectId = o.ObjectId },
        ObjectReconstructionFailedException o => new RayErrorInfo { Kind = ErrorKind.ObjectReconstructionFailed, Message = o.Message, ObjectId = o.ObjectId },
        ObjectLostException o => new RayErrorInfo { Kind = ErrorKind.ObjectLost, Message = o.Message, ObjectId = o.ObjectId },
        ObjectStoreFullException s => new RayErrorInfo { Kind = ErrorKind.ObjectStoreFull, Message = s.Message },
        RuntimeEnvSetupException r => new RayErrorInfo { Kind = ErrorKind.RuntimeEnvSetupFailed, Message = r.Message },
        TaskUnschedulableException u => new RayErrorInfo { Kind = ErrorKind.TaskUnschedulable, Message = u.Message },
        ActorUnschedulableException u => new RayErrorInfo { Kind = ErrorKind.ActorUnschedulable, Message = u.Message },
        PlacementGroupSchedulingException p => new RayErrorInfo { Kind = ErrorKind.PlacementGroupFailed, Message = p.Message },
        _ => null,
    };

    public static RayErrorInfo ActorDied(ActorId actorId, string cause) =>
        new() { Kind = ErrorKind.ActorDied, Message = cause, ActorId = actorId };

    public static RayErrorInfo Cancelled(TaskId taskId, string functionName) => new()
    {
        Kind = ErrorKind.TaskCancelled, TaskId = taskId, FunctionName = functionName,
        Message = $"Task {functionName} ({taskId}) was cancelled.",
    };

    /// <summary>A fresh exception for this error: each reader gets its own instance and stack.</summary>
    public RayException ToException() => Kind switch
    {
        ErrorKind.TaskException => new RayTaskException(FunctionName ?? "<unknown>", TypeChain, RemoteMessage ?? Message, RemoteStackTrace),
        ErrorKind.ActorDied => new ActorDiedException(FormatActorDied()) { ActorId = ActorId, Cause = Message },
        ErrorKind.ActorUnavailable => new ActorUnavailableException(Message) { ActorId = ActorId },
        ErrorKind.TaskCancelled => new TaskCancelledException(Message) { TaskId = TaskId },
        ErrorKind.WorkerCrashed => new WorkerCrashedException(Message),
        ErrorKind.NodeDied => new NodeDiedException(Message) { NodeId = NodeId },
        ErrorKind.ObjectLost => new ObjectLostException(Message) { ObjectId = ObjectId },
        ErrorKind.OwnerDied => new OwnerDiedException(Message) { ObjectId = ObjectId },
        ErrorKind.ObjectReconstructionFailed => new ObjectReconstructionFailedException(Message) { ObjectId = ObjectId },
        ErrorKind.ObjectStoreFull => new ObjectStoreFullException(Message),
        ErrorKind.RuntimeEnvSetupFailed => new RuntimeEnvSetupException(Message),
        ErrorKind.TaskUnschedulable => new TaskUnschedulableException(Message),
        ErrorKind.ActorUnschedulable => new ActorUnschedulableException(Message),
        ErrorKind.PlacementGroupFailed => new PlacementGroupSchedulingException(Message),
        _ => new RayException(Message),
    };

    private string FormatActorDied() => ActorId is { } id ? $"Actor {id} is dead: {Message}" : $"The actor is dead: {Message}";
}

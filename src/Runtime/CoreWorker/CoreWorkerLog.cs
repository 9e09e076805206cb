using Microsoft.Extensions.Logging;

namespace RaySharp.Core;

/// <summary>The core worker's log messages that have no class of their own to live in: source-generated, so nothing is
/// formatted or boxed unless the level is on.</summary>
internal static partial class CoreWorkerLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell the owner of {ObjectId} that this worker stopped borrowing it")]
    public static partial void BorrowEndNotSent(this ILogger logger, Exception e, ObjectId objectId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not ask the object store to free {ObjectId} on node {NodeId}")]
    public static partial void StoreCopyNotFreed(this ILogger logger, Exception e, ObjectId objectId, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Node {NodeId} has no copy of {ObjectId} to read")]
    public static partial void NoCopyOnNode(this ILogger logger, Exception e, NodeId nodeId, ObjectId objectId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not ask the object store to free {ObjectId}")]
    public static partial void ObjectNotFreed(this ILogger logger, Exception e, ObjectId objectId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Fetching {ObjectId} to this node for Wait failed")]
    public static partial void WaitFetchFailed(this ILogger logger, Exception e, ObjectId objectId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending the last task events at shutdown failed")]
    public static partial void LastTaskEventsNotSent(this ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Debug, Message = "CoreWorker {WorkerId} of job {JobId} shut down")]
    public static partial void ShutDown(this ILogger logger, WorkerId workerId, JobId jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending calls to actor {ActorId} failed inside RaySharp")]
    public static partial void ActorPumpFailed(this ILogger logger, Exception e, ActorId actorId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Resolving the arguments of {Task} failed inside RaySharp")]
    public static partial void ResolvingArgumentsFailed(this ILogger logger, Exception e, string task);

    [LoggerMessage(Level = LogLevel.Error, Message = "Releasing a reference to {ObjectId} failed")]
    public static partial void ReleaseFailed(this ILogger logger, Exception e, ObjectId objectId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Submitting {Task} failed inside RaySharp")]
    public static partial void SubmitFailed(this ILogger logger, Exception e, string task);
}

using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>The raylet's log messages: source-generated, so nothing is formatted or boxed unless the level is on.</summary>
internal static partial class RayletLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Raylet {NodeId} started at {Endpoint} (head: {IsHead}, resources: {Resources}, GCS at {Gcs})")]
    public static partial void Started(this ILogger logger, NodeId nodeId, string endpoint, bool isHead, ResourceSet resources, string gcs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The GCS at {Gcs} does not know raylet {NodeId} (it restarted): registering again")]
    public static partial void RegisteringAgain(this ILogger logger, string gcs, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Raylet {NodeId} reaches the GCS at {Gcs} again")]
    public static partial void GcsReachedAgain(this ILogger logger, NodeId nodeId, string gcs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Raylet {NodeId} cannot reach the GCS: {Message}")]
    public static partial void GcsUnreachable(this ILogger logger, NodeId nodeId, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Raylet {NodeId} failed to apply the cluster view")]
    public static partial void ClusterViewFailed(this ILogger logger, Exception e, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} finished: canceling {Queued} queued lease requests and stopping {Leased} leased workers")]
    public static partial void JobFinished(this ILogger logger, JobId jobId, int queued, int leased);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} finished: freed {Count} objects its driver owned")]
    public static partial void JobObjectsFreed(this ILogger logger, JobId jobId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not free the objects of finished job {JobId}")]
    public static partial void JobObjectsNotFreed(this ILogger logger, Exception e, JobId jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Released {Count} actor workers leased by an earlier GCS that no actor uses")]
    public static partial void UnusedActorWorkersReleased(this ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} died: {Reason}")]
    public static partial void WorkerDied(this ILogger logger, WorkerId workerId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement group {Group} removed: stopped {Count} workers running in it")]
    public static partial void GroupWorkersStopped(this ILogger logger, PlacementGroupId group, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} is draining ({Reason}: {Message}): it takes no new work")]
    public static partial void Draining(this ILogger logger, NodeId nodeId, DrainReason reason, string message);
}

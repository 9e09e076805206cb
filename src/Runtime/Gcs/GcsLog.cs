using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>The GCS's log messages: source-generated, so nothing is formatted or boxed unless the level is on.</summary>
internal static partial class GcsLog
{
    // GcsServer

    [LoggerMessage(Level = LogLevel.Information, Message = "The GCS loaded its tables from {Storage}: {Nodes} nodes, {Jobs} jobs, {Actors} actors, {Groups} placement groups")]
    public static partial void TablesLoaded(this ILogger logger, IGcsTableStorage storage, int nodes, int jobs, int actors, int groups);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} registered at {Endpoint} (head: {IsHead}, resources: {Resources})")]
    public static partial void NodeRegistered(this ILogger logger, NodeId nodeId, string endpoint, bool isHead, string resources);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the registration of node {NodeId} failed")]
    public static partial void NodeRegistrationFailed(this ILogger logger, Exception e, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} is dead: {Reason}")]
    public static partial void NodeDead(this ILogger logger, NodeId nodeId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the death of node {NodeId} failed")]
    public static partial void NodeDeathHandlingFailed(this ILogger logger, Exception e, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Error, Message = "The GCS health check failed; it runs again in {Period}")]
    public static partial void HealthCheckFailed(this ILogger logger, Exception e, TimeSpan period);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the end of job {JobId} failed")]
    public static partial void JobEndHandlingFailed(this ILogger logger, Exception e, JobId jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The driver of job {JobId} disconnected without finishing its job (it exited or was killed): marking the job finished, killing its non-detached actors and freeing its leases")]
    public static partial void DriverDisconnected(this ILogger logger, JobId jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The driver of job {JobId} did not reconnect to the restarted GCS: marking the job finished")]
    public static partial void DriverDidNotReconnect(this ILogger logger, JobId jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A subscriber of cluster events failed to take {Kind} of {NodeId}")]
    public static partial void ClusterEventSubscriberFailed(this ILogger logger, Exception e, ClusterEventKind kind, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A log subscriber of job {JobId} failed to take a batch")]
    public static partial void LogSubscriberFailed(this ILogger logger, Exception e, JobId jobId);

    // GcsActorManager

    [LoggerMessage(Level = LogLevel.Information, Message = "Actor {ActorId} ({Class}): its worker died before the constructor ran ({Reason}); scheduling it again")]
    public static partial void ActorWorkerDiedBeforeConstructor(this ILogger logger, ActorId actorId, string @class, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduling actor {ActorId} ({Class}): {Reason}; asking again in {Backoff} ms")]
    public static partial void ActorSchedulingRetry(this ILogger logger, ActorId actorId, string @class, string reason, double backoff);

    [LoggerMessage(Level = LogLevel.Error, Message = "A subscriber of actor {ActorId} failed to take its update")]
    public static partial void ActorSubscriberFailed(this ILogger logger, Exception e, ActorId actorId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} stopped {Count} actor workers an earlier GCS had leased and no actor uses")]
    public static partial void UnusedActorWorkersStopped(this ILogger logger, NodeId nodeId, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Node {NodeId} did not take the list of actor workers in use yet; trying again")]
    public static partial void ActorWorkerListNotTakenYet(this ILogger logger, Exception e, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} did not take the list of actor workers in use within a minute; workers an earlier GCS leased for actors may stay")]
    public static partial void ActorWorkerListNotTaken(this ILogger logger, Exception e, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Actor {ActorId}'s worker did not exit cleanly")]
    public static partial void ActorWorkerExitUnclean(this ILogger logger, Exception e, ActorId actorId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Actor {ActorId} died: {Cause}")]
    public static partial void ActorDied(this ILogger logger, ActorId actorId, string cause);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the death of actor {ActorId} failed")]
    public static partial void ActorDeathHandlingFailed(this ILogger logger, Exception e, ActorId actorId);

    // GcsPlacementGroupManager

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement group {Id} ({Strategy}, bundles: {Count}{Name}) of job {JobId} queued")]
    public static partial void PlacementGroupQueued(this ILogger logger, PlacementGroupId id, PlacementStrategy strategy, int count, string name, JobId jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A placement-group scheduling pass failed")]
    public static partial void PlacementPassFailed(this ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement group {Id} ({Strategy}, bundles: {Count}) is infeasible on the current nodes: it waits for a node that fits")]
    public static partial void PlacementGroupInfeasible(this ILogger logger, PlacementGroupId id, PlacementStrategy strategy, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Preparing bundles of placement group {Id} on node {NodeId} failed")]
    public static partial void PrepareBundlesFailed(this ILogger logger, Exception e, PlacementGroupId id, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Committing the bundles of placement group {Id} failed; it is placed again")]
    public static partial void CommitBundlesFailed(this ILogger logger, Exception e, PlacementGroupId id);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement group {Id} created on {Nodes} node(s)")]
    public static partial void PlacementGroupCreated(this ILogger logger, PlacementGroupId id, int nodes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Returning the bundles of placement group {Id} on node {NodeId} failed")]
    public static partial void ReturnBundlesFailed(this ILogger logger, Exception e, PlacementGroupId id, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement group {Id} removed{Why}")]
    public static partial void PlacementGroupRemoved(this ILogger logger, PlacementGroupId id, string why);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stopping the actors of removed placement group {Id} failed")]
    public static partial void StoppingGroupActorsFailed(this ILogger logger, Exception e, PlacementGroupId id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement group {Id} lost bundles with node {NodeId}: placing them again")]
    public static partial void BundlesLost(this ILogger logger, PlacementGroupId id, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{What} failed")]
    public static partial void BackgroundWorkFailed(this ILogger logger, Exception e, string what);

    // GcsAutoscalerStateManager

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} is draining ({Reason}: {Message})")]
    public static partial void NodeDraining(this ILogger logger, NodeId nodeId, DrainReason reason, string message);
}

using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Rpc;

/// <summary>The RPC clients' log messages: source-generated, so nothing is formatted or boxed unless the level is on.</summary>
internal static partial class RpcLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Releasing the refs of finished tasks failed")]
    public static partial void FinishedRefsNotReleased(this ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell whether node {NodeId} died (the GCS did not answer): {Detail}")]
    public static partial void NodeDeathUnknown(this ILogger logger, NodeId nodeId, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the node table for a locality-aware lease; asking the local raylet: {Detail}")]
    public static partial void NodeTableUnreadable(this ILogger logger, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The raylet at {Raylet} refused a blocked/unblocked notice: {Reason}")]
    public static partial void BlockedNoticeRefused(this ILogger logger, string raylet, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Following actor {ActorId}'s state failed")]
    public static partial void ActorStateLost(this ILogger logger, Exception e, ActorId actorId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a {What} from the GCS failed; subscribing again")]
    public static partial void SubscriptionItemFailed(this ILogger logger, Exception e, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    public static partial void RefusedCall(this ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The notice {Method} failed: {Message}")]
    public static partial void NoticeFailed(this ILogger logger, Exception e, string method, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The GCS at {Endpoint} did not answer {Method} ({Status}): retrying for up to {Timeout} s while it restarts")]
    public static partial void GcsUnanswered(this ILogger logger, string endpoint, string method, StatusCode status, double timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The GCS at {Endpoint} did not take {Method}: {Reason}")]
    public static partial void GcsRefused(this ILogger logger, string endpoint, string method, string reason);
}

using Grpc.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Raylet;

namespace RaySharp.Core.Rpc;

/// <summary>Calls to raylets by endpoint: the lease protocol, following spillbacks to the node a raylet names. Each call
/// takes the caller's <see cref="RayConfig"/> (spillback limit, channel keepalive).</summary>
internal static class RayletRpc
{
    /// <summary>Asks the raylet at <paramref name="endpoint"/> for a lease, following Reschedule replies. Returns
    /// the granting raylet's endpoint with the reply; throws the unschedulable exception on Canceled,
    /// <see cref="LeaseRejectedException"/> on Rejected (the caller asks again).</summary>
    /// <param name="config">The caller's configuration (spillback limit, channel keepalive).</param>
    /// <param name="endpoint">The raylet asked first.</param>
    /// <param name="request">The lease request.</param>
    /// <param name="ct">Cancels the request.</param>
    /// <param name="nodeDeath">The token that fires when a node is declared dead (none: not watched). A request sent on
    /// to a node that dies (or is dead already) stops waiting for it: a raylet that froze or was cut off never answers.</param>
    /// <param name="endpointNode">The node of <paramref name="endpoint"/> when it is another node than the caller's own
    /// (a locality choice): watched for death and named, as a spillback target is.</param>
    /// <param name="onHop">Told the raylet the request goes to next (a spillback), so that a cancel reaches it.</param>
    /// <param name="canceled">The requester canceled the request (<see cref="CancelWorkerLease"/> was sent): a spillback is
    /// not followed, and a Canceled reply saying so throws <see cref="OperationCanceledException"/>.</param>
    public static async Task<(WireLeaseReply Reply, string RayletEndpoint)> RequestLeaseAsync(RayConfig config, string endpoint,
        WireLeaseRequest request, CancellationToken ct, Func<NodeId, CancellationToken>? nodeDeath = null, NodeId? endpointNode = null,
        Action<string>? onHop = null, CancellationToken canceled = default)
    {
        NodeId? node = endpointNode; // else known once a raylet names the node it sends the request to
        for (int hop = 0; ; hop++)
        {
            WireLeaseReply reply;
            var death = node is { } target && nodeDeath is not null ? nodeDeath(target) : CancellationToken.None;
            using var call = CancellationTokenSource.CreateLinkedTokenSource(ct, death);
            try
            {
                if (death.IsCancellationRequested) throw new RpcException(new Status(StatusCode.Unavailable, "the node was declared dead"));
                reply = await RpcChannels.Invoker(endpoint, config)
                    .AsyncUnaryCall(NodeManagerService.RequestWorkerLeaseMethod, null, new CallOptions(cancellationToken: call.Token), request)
                    .ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException) when (ct.IsCancellationRequested)
            {
                throw new OperationCanceledException(ct);
            }
            catch (RpcException e) when (death.IsCancellationRequested)
            {
                throw new RayletUnreachableException($"Requesting a worker lease for {request.Description} failed: node {node} at {endpoint}, which " +
                    "a raylet had sent it on to, was declared dead by the GCS.", e) { RemoteNode = node };
            }
            catch (RpcException e)
            {
                // The caller asks again (or the GCS marks the actor dead with this cause): say which raylet is gone and why.
                string which = node is { } n ? $"the raylet of node {n} at {endpoint}" : $"the raylet at {endpoint}";
                throw new RayletUnreachableException($"Requesting a worker lease for {request.Description} failed: {which} is " +
                    $"{RpcErrors.Describe(e, endpoint)}.", e) { RemoteNode = node };
            }
            switch (reply.Kind)
            {
                case LeaseReplyKind.Granted:
                    return (reply, endpoint);
                case LeaseReplyKind.Spillback:
                    canceled.ThrowIfCancellationRequested();
                    endpoint = reply.SpillbackEndpoint!;
                    node = reply.NodeId;
                    onHop?.Invoke(endpoint);
                    // After a few hops, make the chosen node queue the request instead of passing it on again.
                    request = request with { GrantOrReject = hop + 1 >= Math.Max(1, config.MaxSpillbacks / 2), Spilled = true };
                    continue;
                case LeaseReplyKind.Canceled when reply.CanceledByOwner:
                    throw new OperationCanceledException(canceled);
                case LeaseReplyKind.Rejected:
                    throw new LeaseRejectedException(reply.CancelMessage ?? $"The raylet at {endpoint} rejected the lease request of {request.Description}.");
                case LeaseReplyKind.Canceled when reply.PlacementGroupRemoved:
                    throw new PlacementGroupSchedulingException(reply.CancelMessage ?? $"The placement group of {request.Description} was removed.");
                default:
                    string message = reply.CancelMessage ?? $"{request.Description} cannot be scheduled.";
                    throw request.IsActorCreation ? new ActorUnschedulableException(message) : new TaskUnschedulableException(message);
            }
        }
    }

    /// <summary>A started worker tells its raylet where it serves; false when the raylet did not start it.</summary>
    public static async Task<bool> RegisterWorkerAsync(RayConfig config, string rayletEndpoint, RegisterWorkerRequest request,
        CancellationToken ct = default) =>
        (await RpcChannels.Invoker(rayletEndpoint, config).AsyncUnaryCall(NodeManagerService.RegisterWorkerMethod, null,
            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(60), cancellationToken: ct), request).ResponseAsync.ConfigureAwait(false)).Value;

    /// <summary>Returns a lease without waiting; a failure other than the raylet being gone is logged to <paramref name="logger"/>.</summary>
    public static void ReturnWorker(RayConfig config, string rayletEndpoint, long leaseId, bool disconnect, ILogger logger) =>
        RpcChannels.Fire(RpcChannels.Invoker(rayletEndpoint, config), NodeManagerService.ReturnWorkerMethod, new ReturnWorkerRequest(leaseId, disconnect),
            logger);

    /// <summary>Cancels a numbered lease request waiting at the raylet, without waiting (Ray's <c>CancelWorkerLease</c>).</summary>
    public static void CancelWorkerLease(RayConfig config, string rayletEndpoint, long leaseRequestId, ILogger logger) =>
        RpcChannels.Fire(RpcChannels.Invoker(rayletEndpoint, config), NodeManagerService.CancelWorkerLeaseMethod,
            new CancelWorkerLeaseRequest(leaseRequestId), logger);

    /// <summary>Returns several leases granted by one raylet in one message, without waiting.</summary>
    public static void ReturnWorkers(RayConfig config, string rayletEndpoint, ReturnWorkerRequest[] leases, ILogger logger) =>
        RpcChannels.Fire(RpcChannels.Invoker(rayletEndpoint, config), NodeManagerService.ReturnWorkersMethod, new ReturnWorkersRequest(leases), logger);

    /// <summary>The GCS reserves placement-group bundles on a raylet: phase one.</summary>
    public static Task<BundlesReply> PrepareBundlesAsync(RayConfig config, string endpoint, PrepareBundlesRequest request, TimeSpan deadline,
        CancellationToken ct) => UnaryAsync(config, endpoint, NodeManagerService.PrepareBundleResourcesMethod, request, deadline, ct);

    /// <summary>Phase two: the prepared bundles become bundle resources.</summary>
    public static Task<BundlesReply> CommitBundlesAsync(RayConfig config, string endpoint, BundlesRequest request, TimeSpan deadline, CancellationToken ct) =>
        UnaryAsync(config, endpoint, NodeManagerService.CommitBundleResourcesMethod, request, deadline, ct);

    /// <summary>Returns prepared or committed bundles (an aborted reservation, or a removed group).</summary>
    public static Task<BundlesReply> CancelBundlesAsync(RayConfig config, string endpoint, BundlesRequest request, TimeSpan deadline, CancellationToken ct) =>
        UnaryAsync(config, endpoint, NodeManagerService.CancelResourceReserveMethod, request, deadline, ct);

    public static Task<ReleaseUnusedActorWorkersReply> ReleaseUnusedActorWorkersAsync(RayConfig config, string endpoint,
        ReleaseUnusedActorWorkersRequest request, TimeSpan deadline, CancellationToken ct) =>
        UnaryAsync(config, endpoint, NodeManagerService.ReleaseUnusedActorWorkersMethod, request, deadline, ct);

    /// <summary>The GCS drains a raylet for the autoscaler.</summary>
    public static Task<DrainNodeReply> DrainAsync(RayConfig config, string endpoint, DrainNodeRequest request, TimeSpan deadline, CancellationToken ct) =>
        UnaryAsync(config, endpoint, NodeManagerService.DrainRayletMethod, request, deadline, ct);

    private static async Task<TResponse> UnaryAsync<TRequest, TResponse>(RayConfig config, string endpoint, Method<TRequest, TResponse> method,
        TRequest request, TimeSpan deadline, CancellationToken ct) where TRequest : class where TResponse : class
    {
        try
        {
            return await RpcChannels.Invoker(endpoint, config).AsyncUnaryCall(method, null,
                new CallOptions(deadline: DateTime.UtcNow + deadline, cancellationToken: ct), request).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            throw new RayletUnreachableException($"{method.Name} on the raylet at {endpoint} failed: {RpcErrors.Describe(e, endpoint)}.", e);
        }
    }

    public static Task<TResponse?> CallAsync<TRequest, TResponse>(RayConfig config, string endpoint, Method<TRequest, TResponse> method,
        TRequest request, CancellationToken ct = default) where TRequest : class where TResponse : class =>
        RpcChannels.TryCallAsync(RpcChannels.Invoker(endpoint, config), method, request, ct);
}

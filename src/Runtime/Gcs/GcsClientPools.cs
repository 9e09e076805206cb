using Grpc.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>The raylets as the GCS calls them (Ray's <c>RayletClientPool</c>): leasing workers for actors.</summary>
internal interface IRayletClientPool
{
    /// <summary>Asks the raylet at <paramref name="endpoint"/> for a worker lease, following spillbacks to the node that
    /// grants it. Returns the grant with the granting raylet's endpoint; throws
    /// <see cref="ActorUnschedulableException"/> when a raylet cancels the request as never satisfiable.</summary>
    Task<(WireLeaseReply Reply, string RayletEndpoint)> RequestWorkerLeaseAsync(string endpoint, WireLeaseRequest request, CancellationToken ct);

    /// <summary>Returns a lease; with <paramref name="disconnect"/> the raylet stops the worker.</summary>
    void ReturnWorker(string rayletEndpoint, long leaseId, bool disconnect);
}

/// <summary>The workers as the GCS calls them (Ray's <c>CoreWorkerClientPool</c>): actor creation and exit.</summary>
internal interface ICoreWorkerClientPool
{
    /// <summary>Runs an actor's creation task on its leased worker; a worker that dies replies WorkerCrashed.</summary>
    Task<PushTaskResponse> PushCreationTaskAsync(Address worker, WireTaskSpec task, long leaseId, Dictionary<string, double> leaseResources);

    /// <summary>Asks the worker to exit once the calls queued before are done; completes when it has (or is gone).</summary>
    Task ExitAsync(Address worker, string reason);
}

/// <summary>The raylets over gRPC (or the in-process transport in local mode).</summary>
internal sealed class RayletRpcClientPool(RayConfig config, Microsoft.Extensions.Logging.ILogger logger) : IRayletClientPool
{
    public Task<(WireLeaseReply Reply, string RayletEndpoint)> RequestWorkerLeaseAsync(string endpoint, WireLeaseRequest request, CancellationToken ct) =>
        RayletRpc.RequestLeaseAsync(config, endpoint, request, ct);

    public void ReturnWorker(string rayletEndpoint, long leaseId, bool disconnect) => RayletRpc.ReturnWorker(config, rayletEndpoint, leaseId, disconnect, logger);
}

/// <summary>The workers over their long-lived task streams.</summary>
internal sealed class CoreWorkerRpcClientPool(RayConfig config, Microsoft.Extensions.Logging.ILogger? logger = null) : ICoreWorkerClientPool
{
    public Task<PushTaskResponse> PushCreationTaskAsync(Address worker, WireTaskSpec task, long leaseId, Dictionary<string, double> leaseResources) =>
        CoreWorkerConnection.For(worker, NodeId.Nil, config, logger).PushAsync(task, leaseId, leaseResources);

    public Task ExitAsync(Address worker, string reason) =>
        CoreWorkerConnection.For(worker, NodeId.Nil, config, logger).CallAsync(CoreWorkerService.ExitMethod, new ExitRequest(false, reason));
}

/// <summary>The two phases of reserving bundles, over the raylets' RPCs. Each reply carries the node's resources after
/// the change, which go into the GCS's view at once (the next pass must not place on what was just reserved).</summary>
internal sealed class RayletBundleReservationClient(GcsNodeManager nodes, RayConfig config) : IBundleReservationClient
{
    public async Task<bool> PrepareBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<(int Index, ResourceSet Resources)> bundles,
        CancellationToken ct)
    {
        var reply = await CallAsync(node, NodeManagerService.PrepareBundleResourcesMethod,
            new PrepareBundlesRequest(group, [.. bundles.Select(b => new WireBundle(b.Index, b.Resources.ToWire()))]), ct).ConfigureAwait(false);
        return reply?.Ok ?? false;
    }

    public async Task CommitBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, CancellationToken ct)
    {
        if (await CallAsync(node, NodeManagerService.CommitBundleResourcesMethod, new BundlesRequest(group, [.. indices]), ct).ConfigureAwait(false) is null)
            throw new InvalidOperationException($"Node {node} is no longer alive: the bundles of placement group {group} prepared there cannot be committed.");
    }

    public Task CancelBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, bool groupRemoved, CancellationToken ct) =>
        CallAsync(node, NodeManagerService.CancelResourceReserveMethod, new BundlesRequest(group, [.. indices], groupRemoved), ct);

    /// <summary>The call's reply, or null when the node is dead (its reservations went with it).</summary>
    private async Task<BundlesReply?> CallAsync<TRequest>(NodeId node, Method<TRequest, BundlesReply> method, TRequest request, CancellationToken ct)
        where TRequest : class
    {
        if (nodes.RayletOf(node) is not { } endpoint) return null;
        try
        {
            var reply = await RpcChannels.Invoker(endpoint, config).AsyncUnaryCall(method, null,
                new CallOptions(deadline: DateTime.UtcNow + config.GcsRequestTimeout, cancellationToken: ct), request).ResponseAsync.ConfigureAwait(false);
            nodes.UpdateResources(node, reply.Total, reply.Available);
            return reply;
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            throw new RayletUnreachableException($"{method.Name} on node {node} at {endpoint} failed: {RpcErrors.Describe(e, endpoint)}.", e);
        }
    }
}

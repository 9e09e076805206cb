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

    /// <summary>Has the raylet stop the actor workers another GCS incarnation leased that are not in use; returns how many.</summary>
    Task<int> ReleaseUnusedActorWorkersAsync(string rayletEndpoint, ReleaseUnusedActorWorkersRequest request, CancellationToken ct);
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
/// <param name="config">Deadlines, keepalive and the cluster token.</param>
/// <param name="logger">Where failed notices are logged.</param>
/// <param name="nodeDeath">Fires when a node is declared dead: a lease request sent on to it stops waiting.</param>
internal sealed class RayletRpcClientPool(RayConfig config, Microsoft.Extensions.Logging.ILogger logger, Func<NodeId, CancellationToken>? nodeDeath = null)
    : IRayletClientPool
{
    public Task<(WireLeaseReply Reply, string RayletEndpoint)> RequestWorkerLeaseAsync(string endpoint, WireLeaseRequest request, CancellationToken ct) =>
        RayletRpc.RequestLeaseAsync(config, endpoint, request, ct, nodeDeath);

    public void ReturnWorker(string rayletEndpoint, long leaseId, bool disconnect) => RayletRpc.ReturnWorker(config, rayletEndpoint, leaseId, disconnect, logger);

    public async Task<int> ReleaseUnusedActorWorkersAsync(string rayletEndpoint, ReleaseUnusedActorWorkersRequest request, CancellationToken ct) =>
        (await RayletRpc.ReleaseUnusedActorWorkersAsync(config, rayletEndpoint, request, config.GcsRequestTimeout, ct).ConfigureAwait(false)).Released;
}

/// <summary>The workers over their long-lived task streams.</summary>
internal sealed class CoreWorkerRpcClientPool(RayConfig config, Microsoft.Extensions.Logging.ILogger? logger = null) : ICoreWorkerClientPool
{
    public Task<PushTaskResponse> PushCreationTaskAsync(Address worker, WireTaskSpec task, long leaseId, Dictionary<string, double> leaseResources) =>
        CoreWorkerConnection.For(worker, NodeId.Nil, config, logger).PushAsync(task, leaseId, leaseResources);

    public Task ExitAsync(Address worker, string reason) =>
        CoreWorkerConnection.For(worker, NodeId.Nil, config, logger).CallAsync(CoreWorkerService.ExitMethod, new ExitRequest(false, reason));
}

/// <summary>The two phases of reserving bundles, over the raylets' RPCs. Each reply carries the node's own resources
/// after the change, which go into the GCS's view at once (the next pass must not place on what was just reserved).</summary>
internal sealed class RayletBundleReservationClient(GcsNodeManager nodes, RayConfig config) : IBundleReservationClient
{
    public async Task<bool> PrepareBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<(int Index, ResourceSet Resources)> bundles,
        CancellationToken ct)
    {
        if (nodes.RayletOf(node) is not { } endpoint) return false;
        var reply = await RayletRpc.PrepareBundlesAsync(config, endpoint,
            new PrepareBundlesRequest(group, [.. bundles.Select(b => new WireBundle(b.Index, b.Resources.ToWire()))]), config.GcsRequestTimeout, ct)
            .ConfigureAwait(false);
        nodes.UpdateResources(node, reply.Total, reply.Available);
        return reply.Ok;
    }

    public async Task CommitBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, CancellationToken ct)
    {
        string endpoint = nodes.RayletOf(node)
            ?? throw new InvalidOperationException($"Node {node} is no longer alive: the bundles of placement group {group} prepared there cannot be committed.");
        var reply = await RayletRpc.CommitBundlesAsync(config, endpoint, new BundlesRequest(group, [.. indices]), config.GcsRequestTimeout, ct)
            .ConfigureAwait(false);
        nodes.UpdateResources(node, reply.Total, reply.Available);
    }

    public async Task CancelBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, bool groupRemoved, CancellationToken ct)
    {
        // A dead node's reservations went with it.
        if (nodes.RayletOf(node) is not { } endpoint) return;
        var reply = await RayletRpc.CancelBundlesAsync(config, endpoint, new BundlesRequest(group, [.. indices], groupRemoved), config.GcsRequestTimeout, ct)
            .ConfigureAwait(false);
        nodes.UpdateResources(node, reply.Total, reply.Available);
    }
}

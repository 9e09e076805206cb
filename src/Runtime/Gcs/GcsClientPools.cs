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

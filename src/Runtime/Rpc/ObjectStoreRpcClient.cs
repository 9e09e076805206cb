using Grpc.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Raylet;

namespace RaySharp.Core.Rpc;

/// <summary>The node's object store over its raylet's local endpoint (the Unix socket, or in process in local mode).</summary>
internal sealed class ObjectStoreRpcClient : IObjectStoreClient
{
    private readonly CallInvoker _raylet;
    private readonly string _endpoint;
    private readonly WorkerId _client;
    private readonly ILogger _logger;

    /// <param name="raylet">The local raylet's endpoint.</param>
    /// <param name="nodeId">This node.</param>
    /// <param name="client">The worker or driver this client reads and writes for (the store counts its reads).</param>
    /// <param name="config">The process's configuration (its token).</param>
    /// <param name="logger">Where refused notices (release, free, abort) are logged.</param>
    public ObjectStoreRpcClient(string raylet, NodeId nodeId, WorkerId client, RayConfig config, ILogger<ObjectStoreRpcClient> logger)
    {
        _logger = logger;
        _endpoint = raylet;
        _raylet = RpcChannels.Invoker(raylet, config);
        NodeId = nodeId;
        _client = client;
    }

    public NodeId NodeId { get; }

    public async Task<string?> CreateAsync(ObjectId id, long size, Address owner, CancellationToken ct)
    {
        var reply = await Call(NodeManagerService.StoreCreateMethod, new StoreCreateRequest(_client, id, size, owner), ct).ConfigureAwait(false);
        if (reply.Error is { } error) throw new ObjectStoreFullException(error);
        return reply.Created ? reply.Path : null;
    }

    public Task SealAsync(ObjectId id, CancellationToken ct) => Call(NodeManagerService.StoreSealMethod, new StoreObjectRequest(_client, id), ct);

    public void Abort(ObjectId id) => RpcChannels.Fire(_raylet, NodeManagerService.StoreAbortMethod, new StoreObjectRequest(_client, id), _logger);

    public async Task<StoreMapping?> GetAsync(ObjectId id, NodeId from, CancellationToken ct)
    {
        var reply = await Call(NodeManagerService.StoreGetMethod, new StoreGetRequest(_client, id, from), ct).ConfigureAwait(false);
        if (!reply.Found)
        {
            if (reply.Error is { } error) throw new ObjectLostException($"Object {id} could not be fetched from node {from}: {error}");
            return null;
        }
        try
        {
            return StoreMapping.Open(reply.Path, reply.Size, writable: false);
        }
        catch
        {
            Release(id);
            throw;
        }
    }

    public void Release(ObjectId id) => RpcChannels.Fire(_raylet, NodeManagerService.StoreReleaseMethod, new StoreObjectRequest(_client, id), _logger);

    public void Free(ObjectId[] ids, NodeId[] nodes)
    {
        if (ids.Length > 0) RpcChannels.Fire(_raylet, NodeManagerService.FreeObjectsMethod, new FreeObjectsRequest(ids, AllNodes: false, nodes), _logger);
    }

    public async Task<ObjectStoreStats> GetStatsAsync(CancellationToken ct)
    {
        var r = await Call(NodeManagerService.GetStoreStatsMethod, Empty.Instance, ct).ConfigureAwait(false);
        return new ObjectStoreStats(r.NodeId, r.Capacity, r.Used, r.Objects.Length, r.SpilledBytes,
            r.SpilledObjects, r.RestoredBytes, r.EvictedBytes, r.FallbackBytes, r.Objects.Count(o => o.Readers > 0));
    }

    private async Task<TResponse> Call<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CancellationToken ct)
        where TRequest : class where TResponse : class
    {
        try
        {
            return await _raylet.AsyncUnaryCall(method, null, new CallOptions(cancellationToken: ct), request).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            throw new RayException($"The object store of node {NodeId} (raylet at {_endpoint}) failed a {method.Name} call: " +
                $"{e.StatusCode} ({e.Status.Detail}).", e);
        }
    }
}

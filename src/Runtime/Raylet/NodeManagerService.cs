using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>The raylet's gRPC surface (Ray's <c>NodeManagerService</c>).</summary>
[BindServiceMethod(typeof(NodeManagerService), nameof(BindService))]
// Not sealed: ASP.NET Core gRPC binds handlers to virtual methods of the type that declares BindService.
internal class NodeManagerService : IRpcService
{
    public const string Name = "raysharp.NodeManagerService";
    public static readonly Method<WireLeaseRequest, WireLeaseReply> RequestWorkerLeaseMethod = RpcMarshaller.Unary<WireLeaseRequest, WireLeaseReply>(Name, nameof(RequestWorkerLease));
    public static readonly Method<ReturnWorkerRequest, Empty> ReturnWorkerMethod = RpcMarshaller.Unary<ReturnWorkerRequest, Empty>(Name, nameof(ReturnWorker));
    public static readonly Method<CancelWorkerLeaseRequest, BoolReply> CancelWorkerLeaseMethod = RpcMarshaller.Unary<CancelWorkerLeaseRequest, BoolReply>(Name, nameof(CancelWorkerLease));
    public static readonly Method<ReturnWorkersRequest, Empty> ReturnWorkersMethod = RpcMarshaller.Unary<ReturnWorkersRequest, Empty>(Name, nameof(ReturnWorkers));
    public static readonly Method<LeaseIdRequest, Empty> NotifyBlockedMethod = RpcMarshaller.Unary<LeaseIdRequest, Empty>(Name, nameof(NotifyBlocked));
    public static readonly Method<LeaseIdRequest, Empty> NotifyUnblockedMethod = RpcMarshaller.Unary<LeaseIdRequest, Empty>(Name, nameof(NotifyUnblocked));
    public static readonly Method<RegisterWorkerRequest, BoolReply> RegisterWorkerMethod = RpcMarshaller.Unary<RegisterWorkerRequest, BoolReply>(Name, nameof(RegisterWorker));
    public static readonly Method<Empty, NodeStatsReply> GetNodeStatsMethod = RpcMarshaller.Unary<Empty, NodeStatsReply>(Name, nameof(GetNodeStats));
    public static readonly Method<StoreCreateRequest, StoreCreateReply> StoreCreateMethod = RpcMarshaller.Unary<StoreCreateRequest, StoreCreateReply>(Name, nameof(StoreCreate));
    public static readonly Method<StoreObjectRequest, Empty> StoreSealMethod = RpcMarshaller.Unary<StoreObjectRequest, Empty>(Name, nameof(StoreSeal));
    public static readonly Method<StoreObjectRequest, Empty> StoreAbortMethod = RpcMarshaller.Unary<StoreObjectRequest, Empty>(Name, nameof(StoreAbort));
    public static readonly Method<StoreObjectRequest, Empty> StoreReleaseMethod = RpcMarshaller.Unary<StoreObjectRequest, Empty>(Name, nameof(StoreRelease));
    public static readonly Method<StoreGetRequest, StoreGetReply> StoreGetMethod = RpcMarshaller.Unary<StoreGetRequest, StoreGetReply>(Name, nameof(StoreGet));
    public static readonly Method<FreeObjectsRequest, Empty> FreeObjectsMethod = RpcMarshaller.Unary<FreeObjectsRequest, Empty>(Name, nameof(FreeObjects));
    public static readonly Method<ReadObjectRequest, ObjectChunk> ReadObjectMethod = RpcMarshaller.ServerStreaming<ReadObjectRequest, ObjectChunk>(Name, nameof(ReadObject));
    public static readonly Method<PrepareBundlesRequest, BundlesReply> PrepareBundleResourcesMethod = RpcMarshaller.Unary<PrepareBundlesRequest, BundlesReply>(Name, nameof(PrepareBundleResources));
    public static readonly Method<BundlesRequest, BundlesReply> CommitBundleResourcesMethod = RpcMarshaller.Unary<BundlesRequest, BundlesReply>(Name, nameof(CommitBundleResources));
    public static readonly Method<BundlesRequest, BundlesReply> CancelResourceReserveMethod = RpcMarshaller.Unary<BundlesRequest, BundlesReply>(Name, nameof(CancelResourceReserve));
    public static readonly Method<Empty, StoreStatsReply> GetStoreStatsMethod = RpcMarshaller.Unary<Empty, StoreStatsReply>(Name, nameof(GetStoreStats));
    public static readonly Method<ReleaseUnusedActorWorkersRequest, ReleaseUnusedActorWorkersReply> ReleaseUnusedActorWorkersMethod =
        RpcMarshaller.Unary<ReleaseUnusedActorWorkersRequest, ReleaseUnusedActorWorkersReply>(Name, nameof(ReleaseUnusedActorWorkers));
    public static readonly Method<GetObjectRefsRequest, NodeObjectRefsReply> GetObjectRefsMethod = RpcMarshaller.Unary<GetObjectRefsRequest, NodeObjectRefsReply>(Name, nameof(GetObjectRefs));
    public static readonly Method<MetricsReport, Empty> ReportMetricsMethod = RpcMarshaller.Unary<MetricsReport, Empty>(Name, nameof(ReportMetrics));
    public static readonly Method<Empty, LogFileList> ListLogsMethod = RpcMarshaller.Unary<Empty, LogFileList>(Name, nameof(ListLogs));
    public static readonly Method<ReadLogRequest, ReadLogReply> ReadLogMethod = RpcMarshaller.Unary<ReadLogRequest, ReadLogReply>(Name, nameof(ReadLog));
    public static readonly Method<DrainNodeRequest, DrainNodeReply> DrainRayletMethod = RpcMarshaller.Unary<DrainNodeRequest, DrainNodeReply>(Name, nameof(DrainRaylet));

    private readonly NodeManager _raylet;

    public NodeManagerService(NodeManager raylet) => _raylet = raylet;

    public void Map(IEndpointRouteBuilder app) => app.MapGrpcService<NodeManagerService>();

    public void Bind(ServiceBinderBase binder) => BindService(binder, this);

    public void Configure(Grpc.AspNetCore.Server.IGrpcServerBuilder grpc, RayConfig config) =>
        Microsoft.Extensions.DependencyInjection.GrpcServicesExtensions.AddServiceOptions<NodeManagerService>(grpc, o => o.MaxReceiveMessageSize = config.RayletGrpcMaxReceiveMessageSize);

    public static void BindService(ServiceBinderBase b, NodeManagerService? s)
    {
        b.AddMethod(RequestWorkerLeaseMethod, s is null ? null : s.RequestWorkerLease);
        b.AddMethod(ReturnWorkerMethod, s is null ? null : s.ReturnWorker);
        b.AddMethod(ReturnWorkersMethod, s is null ? null : s.ReturnWorkers);
        b.AddMethod(CancelWorkerLeaseMethod, s is null ? null : s.CancelWorkerLease);
        b.AddMethod(NotifyBlockedMethod, s is null ? null : s.NotifyBlocked);
        b.AddMethod(NotifyUnblockedMethod, s is null ? null : s.NotifyUnblocked);
        b.AddMethod(RegisterWorkerMethod, s is null ? null : s.RegisterWorker);
        b.AddMethod(GetNodeStatsMethod, s is null ? null : s.GetNodeStats);
        b.AddMethod(StoreCreateMethod, s is null ? null : s.StoreCreate);
        b.AddMethod(StoreSealMethod, s is null ? null : s.StoreSeal);
        b.AddMethod(StoreAbortMethod, s is null ? null : s.StoreAbort);
        b.AddMethod(StoreReleaseMethod, s is null ? null : s.StoreRelease);
        b.AddMethod(StoreGetMethod, s is null ? null : s.StoreGet);
        b.AddMethod(FreeObjectsMethod, s is null ? null : s.FreeObjects);
        b.AddMethod(ReadObjectMethod, s is null ? null : s.ReadObject);
        b.AddMethod(GetStoreStatsMethod, s is null ? null : s.GetStoreStats);
        b.AddMethod(PrepareBundleResourcesMethod, s is null ? null : s.PrepareBundleResources);
        b.AddMethod(CommitBundleResourcesMethod, s is null ? null : s.CommitBundleResources);
        b.AddMethod(CancelResourceReserveMethod, s is null ? null : s.CancelResourceReserve);
        b.AddMethod(GetObjectRefsMethod, s is null ? null : s.GetObjectRefs);
        b.AddMethod(ReleaseUnusedActorWorkersMethod, s is null ? null : s.ReleaseUnusedActorWorkers);
        b.AddMethod(ReportMetricsMethod, s is null ? null : s.ReportMetrics);
        b.AddMethod(ListLogsMethod, s is null ? null : s.ListLogs);
        b.AddMethod(ReadLogMethod, s is null ? null : s.ReadLog);
        b.AddMethod(DrainRayletMethod, s is null ? null : s.DrainRaylet);
    }

    /// <summary>The reference tables of the workers registered here, for the state API (Ray's <c>GetObjectsInfo</c>); a
    /// worker that does not answer within <see cref="StateRpc.WorkerTimeout"/> is named in the reply instead.</summary>
    public virtual async Task<NodeObjectRefsReply> GetObjectRefs(GetObjectRefsRequest request, ServerCallContext context)
    {
        WireValidation.Limit(request.Limit, StateRpc.MaxObjectsPerWorker, "GetObjectRefs");
        var workers = _raylet.Pool.WorkerAddresses();
        var calls = workers.Select(a => StateRpc.FromWorkerAsync(RpcChannels.EndpointFor(a, _raylet.NodeId), _raylet.Config, request.Limit,
            StateRpc.WorkerTimeout, context.CancellationToken)).ToList();
        var replies = new List<CoreWorkerObjects>(calls.Count);
        var unreachable = new List<string>();
        for (int i = 0; i < calls.Count; i++)
        {
            if (await calls[i].ConfigureAwait(false) is { } reply) replies.Add(reply);
            else unreachable.Add($"worker {workers[i].WorkerId} did not answer within {StateRpc.WorkerTimeout.TotalSeconds:0} s");
        }
        return new NodeObjectRefsReply([.. replies], [.. unreachable]);
    }

    /// <summary>A worker's or driver's metrics for the node's export (validated by <see cref="Stats.NodeMetrics"/>).</summary>
    public virtual Task<Empty> ReportMetrics(MetricsReport request, ServerCallContext context)
    {
        _raylet.Metrics.Report(request);
        return Task.FromResult(Empty.Instance);
    }

    /// <summary>The node's log files (<c>raysharp logs</c>).</summary>
    public virtual Task<LogFileList> ListLogs(Empty request, ServerCallContext context) =>
        Task.FromResult(new LogFileList(_raylet.NodeId, _raylet.Logs?.ListFiles() ?? []));

    /// <summary>Part of one of the node's log files; only names <see cref="ListLogs"/> lists can be read.</summary>
    public virtual Task<ReadLogReply> ReadLog(ReadLogRequest request, ServerCallContext context) =>
        Task.FromResult(_raylet.Logs?.Read(request) ?? new ReadLogReply(false, [], 0, 0));

    /// <summary>The GCS drains this node for the autoscaler (Ray's <c>DrainRaylet</c>).</summary>
    public virtual Task<DrainNodeReply> DrainRaylet(DrainNodeRequest request, ServerCallContext context)
    {
        WireValidation.Drain(request, _raylet.NodeId);
        return Task.FromResult(_raylet.Drain(request.Reason, request.Message));
    }

    public virtual Task<WireLeaseReply> RequestWorkerLease(WireLeaseRequest request, ServerCallContext context)
    {
        WireValidation.Lease(request);
        return _raylet.RequestWorkerLeaseAsync(request, context.CancellationToken);
    }

    public virtual Task<ReleaseUnusedActorWorkersReply> ReleaseUnusedActorWorkers(ReleaseUnusedActorWorkersRequest request, ServerCallContext context)
    {
        WireValidation.ReleaseUnusedActorWorkers(request);
        return Task.FromResult(new ReleaseUnusedActorWorkersReply(_raylet.ReleaseUnusedActorWorkers(request.GcsIncarnation, request.InUse)));
    }

    public virtual Task<Empty> ReturnWorker(ReturnWorkerRequest request, ServerCallContext context)
    {
        _raylet.ReturnWorker(request.LeaseId, request.Disconnect);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<BoolReply> CancelWorkerLease(CancelWorkerLeaseRequest request, ServerCallContext context)
    {
        if (request.LeaseRequestId == 0) throw WireValidation.Invalid("CancelWorkerLease: the request ID is 0.");
        return Task.FromResult(new BoolReply(_raylet.CancelWorkerLease(request.LeaseRequestId)));
    }

    /// <summary>Most leases one <see cref="ReturnWorkers"/> call returns (a submitter holds at most a few per class).</summary>
    internal const int MaxLeasesPerReturn = 100_000;

    public virtual Task<Empty> ReturnWorkers(ReturnWorkersRequest request, ServerCallContext context)
    {
        // Checked whole before any lease is touched: a bad entry returns none of them.
        if (request.Leases is not { } leases) throw WireValidation.Invalid("ReturnWorkers: no leases.");
        if (leases.Length > MaxLeasesPerReturn)
            throw WireValidation.Invalid($"ReturnWorkers: {leases.Length} leases (at most {MaxLeasesPerReturn}).");
        foreach (var lease in leases)
            if (lease is null || lease.LeaseId <= 0)
                throw WireValidation.Invalid("ReturnWorkers: a lease ID is missing or not positive.");
        foreach (var lease in leases) _raylet.ReturnWorker(lease.LeaseId, lease.Disconnect);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> NotifyBlocked(LeaseIdRequest request, ServerCallContext context)
    {
        _raylet.NotifyBlocked(request.LeaseId, blocked: true);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> NotifyUnblocked(LeaseIdRequest request, ServerCallContext context)
    {
        _raylet.NotifyBlocked(request.LeaseId, blocked: false);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<BoolReply> RegisterWorker(RegisterWorkerRequest request, ServerCallContext context) =>
        Task.FromResult(new BoolReply(_raylet.RegisterWorker(request)));

    public virtual Task<NodeStatsReply> GetNodeStats(Empty request, ServerCallContext context) => Task.FromResult(_raylet.Stats());

    // ---- Placement-group bundles (the GCS reserves them in two phases) ----

    public virtual Task<BundlesReply> PrepareBundleResources(PrepareBundlesRequest request, ServerCallContext context)
    {
        WireValidation.Bundles(request);
        bool ok = _raylet.PrepareBundles(request.Group, [.. request.Bundles.Select(b => (b.Index, b.Resources.FromWire()))]);
        return Task.FromResult(BundlesReply(ok));
    }

    public virtual Task<BundlesReply> CommitBundleResources(BundlesRequest request, ServerCallContext context)
    {
        WireValidation.Bundles(request, "CommitBundleResources");
        try
        {
            _raylet.CommitBundles(request.Group, request.Indices);
        }
        catch (InvalidOperationException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
        return Task.FromResult(BundlesReply(true));
    }

    public virtual Task<BundlesReply> CancelResourceReserve(BundlesRequest request, ServerCallContext context)
    {
        WireValidation.Bundles(request, "CancelResourceReserve");
        _raylet.CancelBundles(request.Group, request.Indices, request.GroupRemoved);
        return Task.FromResult(BundlesReply(true));
    }

    /// <summary>The node's own resources after the change (bundle resources, which every committed bundle adds four
    /// of, reach the GCS with the next report).</summary>
    private BundlesReply BundlesReply(bool ok)
    {
        var (total, available) = _raylet.OwnResources();
        return new BundlesReply(ok, total, available);
    }

    // ---- The object store (its clients are the node's workers and drivers) and the object manager ----

    private ObjectManager Objects => _raylet.Objects ?? throw new RpcException(new Status(StatusCode.FailedPrecondition,
        $"node {_raylet.NodeId} has no object store"));

    public virtual async Task<StoreCreateReply> StoreCreate(StoreCreateRequest request, ServerCallContext context)
    {
        if (request.Size <= 0 || request.Size > StoreMapping.MaxObjectSize)
            throw WireValidation.Invalid($"object size {request.Size} is outside 1..{StoreMapping.MaxObjectSize}");
        try
        {
            var (status, location) = await Objects.Store.CreateAsync(request.ObjectId, request.Size, primary: true, request.Owner,
                request.Client.ToString(), context.CancellationToken).ConfigureAwait(false);
            return new StoreCreateReply(status == PlasmaCreateStatus.Created, location.Path, null);
        }
        catch (ObjectStoreFullException e)
        {
            return new StoreCreateReply(false, "", e.Message);
        }
    }

    public virtual Task<Empty> StoreSeal(StoreObjectRequest request, ServerCallContext context)
    {
        try
        {
            Objects.Store.Seal(request.ObjectId);
        }
        catch (InvalidOperationException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> StoreAbort(StoreObjectRequest request, ServerCallContext context)
    {
        Objects.Store.Abort(request.ObjectId, request.Client.ToString());
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> StoreRelease(StoreObjectRequest request, ServerCallContext context)
    {
        Objects.Store.Release(request.ObjectId, request.Client.ToString());
        return Task.FromResult(Empty.Instance);
    }

    public virtual async Task<StoreGetReply> StoreGet(StoreGetRequest request, ServerCallContext context)
    {
        try
        {
            var location = await Objects.GetAsync(request.ObjectId, request.Client.ToString(), request.PullFrom, context.CancellationToken)
                .ConfigureAwait(false);
            return location is { } l ? new StoreGetReply(true, l.Path, l.Size, null) : new StoreGetReply(false, "", 0, null);
        }
        catch (Exception e) when (e is RayException or IOException or InvalidDataException or RpcException)
        {
            return new StoreGetReply(false, "", 0, e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : e.Message);
        }
    }

    public virtual Task<Empty> FreeObjects(FreeObjectsRequest request, ServerCallContext context)
    {
        if (request.ObjectIds.Length > 1_000_000 || request.Nodes is { Length: > 100_000 })
            throw WireValidation.Invalid($"{request.ObjectIds.Length} objects in one free request");
        if (_raylet.Objects is { } objects)
            foreach (var id in request.ObjectIds) objects.Store.Free(id);
        var targets = request.AllNodes ? _raylet.OtherNodeEndpoints() : _raylet.EndpointsOf(request.Nodes ?? []);
        if (targets.Count > 0)
        {
            var forward = request with { AllNodes = false, Nodes = null };
            foreach (var endpoint in targets)
                RpcChannels.Fire(RpcChannels.Invoker(endpoint, _raylet.Config), FreeObjectsMethod, forward, _raylet.Logger);
        }
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task ReadObject(ReadObjectRequest request, IServerStreamWriter<ObjectChunk> responseStream, ServerCallContext context) =>
        Objects.ServeAsync(request.ObjectId, request.Requester, responseStream, context.CancellationToken);

    public virtual Task<StoreStatsReply> GetStoreStats(Empty request, ServerCallContext context)
    {
        var store = Objects.Store;
        var stats = store.Stats();
        var objects = store.List().Select(o => new StoreObjectInfo(o.ObjectId, o.Size, o.IsPrimary, o.IsSealed, o.Readers, o.IsSpilled, o.Owner,
            o.OnFallback)).ToArray();
        return Task.FromResult(new StoreStatsReply(_raylet.NodeId, stats.Capacity, stats.Used, stats.SpilledBytes, stats.SpilledObjects,
            stats.RestoredBytes, stats.EvictedBytes, stats.FallbackBytes, objects));
    }
}

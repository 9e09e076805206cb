using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>The GCS's gRPC surface (Ray's node, job, actor, KV and pub/sub services in one).</summary>
[BindServiceMethod(typeof(GcsService), nameof(BindService))]
// Not sealed: ASP.NET Core gRPC binds handlers to virtual methods of the type that declares BindService.
internal class GcsService : IRpcService
{
    public const string Name = "raysharp.GcsService";
    public static readonly Method<NodeRecord, Empty> RegisterNodeMethod = RpcMarshaller.Unary<NodeRecord, Empty>(Name, nameof(RegisterNode));
    public static readonly Method<ResourceReport, ClusterView> ReportResourcesMethod = RpcMarshaller.Unary<ResourceReport, ClusterView>(Name, nameof(ReportResources));
    public static readonly Method<Empty, ClusterView> GetAllNodesMethod = RpcMarshaller.Unary<Empty, ClusterView>(Name, nameof(GetAllNodes));
    public static readonly Method<NodeIdRequest, Empty> UnregisterNodeMethod = RpcMarshaller.Unary<NodeIdRequest, Empty>(Name, nameof(UnregisterNode));
    public static readonly Method<Empty, JobIdRequest> GetNextJobIdMethod = RpcMarshaller.Unary<Empty, JobIdRequest>(Name, nameof(GetNextJobId));
    public static readonly Method<JobRecord, Empty> AddJobMethod = RpcMarshaller.Unary<JobRecord, Empty>(Name, nameof(AddJob));
    public static readonly Method<JobIdRequest, Empty> MarkJobFinishedMethod = RpcMarshaller.Unary<JobIdRequest, Empty>(Name, nameof(MarkJobFinished));
    public static readonly Method<JobIdRequest, JobList> GetJobMethod = RpcMarshaller.Unary<JobIdRequest, JobList>(Name, nameof(GetJob));
    public static readonly Method<Empty, JobList> GetAllJobsMethod = RpcMarshaller.Unary<Empty, JobList>(Name, nameof(GetAllJobs));
    public static readonly Method<RegisterActorRequest, RegisterActorReply> RegisterActorMethod = RpcMarshaller.Unary<RegisterActorRequest, RegisterActorReply>(Name, nameof(RegisterActor));
    public static readonly Method<WireTaskSpec, Empty> CreateActorMethod = RpcMarshaller.Unary<WireTaskSpec, Empty>(Name, nameof(CreateActor));
    public static readonly Method<NamedActorRequest, ActorInfoReply> GetNamedActorMethod = RpcMarshaller.Unary<NamedActorRequest, ActorInfoReply>(Name, nameof(GetNamedActor));
    public static readonly Method<ActorIdRequest, ActorInfoReply> GetActorInfoMethod = RpcMarshaller.Unary<ActorIdRequest, ActorInfoReply>(Name, nameof(GetActorInfo));
    public static readonly Method<Empty, ActorList> GetAllActorsMethod = RpcMarshaller.Unary<Empty, ActorList>(Name, nameof(GetAllActors));
    public static readonly Method<KillActorRequest, Empty> KillActorMethod = RpcMarshaller.Unary<KillActorRequest, Empty>(Name, nameof(KillActor));
    public static readonly Method<ActorIdRequest, Empty> ReportActorOutOfScopeMethod = RpcMarshaller.Unary<ActorIdRequest, Empty>(Name, nameof(ReportActorOutOfScope));
    public static readonly Method<ActorExitedRequest, Empty> ReportActorExitedMethod = RpcMarshaller.Unary<ActorExitedRequest, Empty>(Name, nameof(ReportActorExited));
    public static readonly Method<WorkerFailureRequest, Empty> ReportWorkerFailureMethod = RpcMarshaller.Unary<WorkerFailureRequest, Empty>(Name, nameof(ReportWorkerFailure));
    public static readonly Method<ActorIdRequest, ActorInfo> SubscribeActorMethod = RpcMarshaller.ServerStreaming<ActorIdRequest, ActorInfo>(Name, nameof(SubscribeActor));
    public static readonly Method<KvRequest, BoolReply> KvPutMethod = RpcMarshaller.Unary<KvRequest, BoolReply>(Name, nameof(KvPut));
    public static readonly Method<KvRequest, KvReply> KvGetMethod = RpcMarshaller.Unary<KvRequest, KvReply>(Name, nameof(KvGet));
    public static readonly Method<KvRequest, BoolReply> KvDelMethod = RpcMarshaller.Unary<KvRequest, BoolReply>(Name, nameof(KvDel));
    public static readonly Method<KvRequest, KvKeysReply> KvKeysMethod = RpcMarshaller.Unary<KvRequest, KvKeysReply>(Name, nameof(KvKeys));
    public static readonly Method<LogBatch, Empty> PublishLogsMethod = RpcMarshaller.Unary<LogBatch, Empty>(Name, nameof(PublishLogs));
    public static readonly Method<JobIdRequest, Empty> WatchDriverMethod = RpcMarshaller.ServerStreaming<JobIdRequest, Empty>(Name, nameof(WatchDriver));
    public static readonly Method<WirePlacementGroupSpec, CreatePlacementGroupReply> CreatePlacementGroupMethod = RpcMarshaller.Unary<WirePlacementGroupSpec, CreatePlacementGroupReply>(Name, nameof(CreatePlacementGroup));
    public static readonly Method<PlacementGroupIdRequest, BoolReply> RemovePlacementGroupMethod = RpcMarshaller.Unary<PlacementGroupIdRequest, BoolReply>(Name, nameof(RemovePlacementGroup));
    public static readonly Method<PlacementGroupIdRequest, PlacementGroupReply> GetPlacementGroupMethod = RpcMarshaller.Unary<PlacementGroupIdRequest, PlacementGroupReply>(Name, nameof(GetPlacementGroup));
    public static readonly Method<NamedPlacementGroupRequest, PlacementGroupReply> GetNamedPlacementGroupMethod = RpcMarshaller.Unary<NamedPlacementGroupRequest, PlacementGroupReply>(Name, nameof(GetNamedPlacementGroup));
    public static readonly Method<Empty, PlacementGroupList> GetAllPlacementGroupsMethod = RpcMarshaller.Unary<Empty, PlacementGroupList>(Name, nameof(GetAllPlacementGroups));
    public static readonly Method<WaitPlacementGroupRequest, WaitPlacementGroupReply> WaitPlacementGroupUntilReadyMethod = RpcMarshaller.Unary<WaitPlacementGroupRequest, WaitPlacementGroupReply>(Name, nameof(WaitPlacementGroupUntilReady));
    public static readonly Method<Empty, ClusterEvent> SubscribeClusterEventsMethod = RpcMarshaller.ServerStreaming<Empty, ClusterEvent>(Name, nameof(SubscribeClusterEvents));
    public static readonly Method<JobIdRequest, LogBatch> SubscribeLogsMethod = RpcMarshaller.ServerStreaming<JobIdRequest, LogBatch>(Name, nameof(SubscribeLogs));
    public static readonly Method<TaskEventBatch, Empty> AddTaskEventDataMethod = RpcMarshaller.Unary<TaskEventBatch, Empty>(Name, nameof(AddTaskEventData));
    public static readonly Method<ListTasksRequest, ListTasksReply> ListTasksMethod = RpcMarshaller.Unary<ListTasksRequest, ListTasksReply>(Name, nameof(ListTasks));
    public static readonly Method<ListObjectsRequest, ListObjectsReply> ListObjectsMethod = RpcMarshaller.Unary<ListObjectsRequest, ListObjectsReply>(Name, nameof(ListObjects));
    public static readonly Method<Empty, ClusterResourceState> GetClusterResourceStateMethod = RpcMarshaller.Unary<Empty, ClusterResourceState>(Name, nameof(GetClusterResourceState));
    public static readonly Method<AutoscalingState, Empty> ReportAutoscalingStateMethod = RpcMarshaller.Unary<AutoscalingState, Empty>(Name, nameof(ReportAutoscalingState));
    public static readonly Method<DrainNodeRequest, DrainNodeReply> DrainNodeMethod = RpcMarshaller.Unary<DrainNodeRequest, DrainNodeReply>(Name, nameof(DrainNode));

    private readonly GcsServer _gcs;

    public GcsService(GcsServer gcs) => _gcs = gcs;

    public void Map(IEndpointRouteBuilder app) => app.MapGrpcService<GcsService>();

    public void Bind(ServiceBinderBase binder) => BindService(binder, this);

    public void Configure(Grpc.AspNetCore.Server.IGrpcServerBuilder grpc, RayConfig config) =>
        Microsoft.Extensions.DependencyInjection.GrpcServicesExtensions.AddServiceOptions<GcsService>(grpc, o => o.MaxReceiveMessageSize = config.GcsGrpcMaxReceiveMessageSize);

    public static void BindService(ServiceBinderBase b, GcsService? s)
    {
        b.AddMethod(RegisterNodeMethod, s is null ? null : s.RegisterNode);
        b.AddMethod(ReportResourcesMethod, s is null ? null : s.ReportResources);
        b.AddMethod(GetAllNodesMethod, s is null ? null : s.GetAllNodes);
        b.AddMethod(UnregisterNodeMethod, s is null ? null : s.UnregisterNode);
        b.AddMethod(GetNextJobIdMethod, s is null ? null : s.GetNextJobId);
        b.AddMethod(AddJobMethod, s is null ? null : s.AddJob);
        b.AddMethod(MarkJobFinishedMethod, s is null ? null : s.MarkJobFinished);
        b.AddMethod(GetJobMethod, s is null ? null : s.GetJob);
        b.AddMethod(GetAllJobsMethod, s is null ? null : s.GetAllJobs);
        b.AddMethod(RegisterActorMethod, s is null ? null : s.RegisterActor);
        b.AddMethod(CreateActorMethod, s is null ? null : s.CreateActor);
        b.AddMethod(GetNamedActorMethod, s is null ? null : s.GetNamedActor);
        b.AddMethod(GetActorInfoMethod, s is null ? null : s.GetActorInfo);
        b.AddMethod(GetAllActorsMethod, s is null ? null : s.GetAllActors);
        b.AddMethod(KillActorMethod, s is null ? null : s.KillActor);
        b.AddMethod(ReportActorOutOfScopeMethod, s is null ? null : s.ReportActorOutOfScope);
        b.AddMethod(ReportActorExitedMethod, s is null ? null : s.ReportActorExited);
        b.AddMethod(ReportWorkerFailureMethod, s is null ? null : s.ReportWorkerFailure);
        b.AddMethod(SubscribeActorMethod, s is null ? null : s.SubscribeActor);
        b.AddMethod(KvPutMethod, s is null ? null : s.KvPut);
        b.AddMethod(KvGetMethod, s is null ? null : s.KvGet);
        b.AddMethod(KvDelMethod, s is null ? null : s.KvDel);
        b.AddMethod(KvKeysMethod, s is null ? null : s.KvKeys);
        b.AddMethod(PublishLogsMethod, s is null ? null : s.PublishLogs);
        b.AddMethod(SubscribeLogsMethod, s is null ? null : s.SubscribeLogs);
        b.AddMethod(WatchDriverMethod, s is null ? null : s.WatchDriver);
        b.AddMethod(SubscribeClusterEventsMethod, s is null ? null : s.SubscribeClusterEvents);
        b.AddMethod(CreatePlacementGroupMethod, s is null ? null : s.CreatePlacementGroup);
        b.AddMethod(RemovePlacementGroupMethod, s is null ? null : s.RemovePlacementGroup);
        b.AddMethod(GetPlacementGroupMethod, s is null ? null : s.GetPlacementGroup);
        b.AddMethod(GetNamedPlacementGroupMethod, s is null ? null : s.GetNamedPlacementGroup);
        b.AddMethod(GetAllPlacementGroupsMethod, s is null ? null : s.GetAllPlacementGroups);
        b.AddMethod(WaitPlacementGroupUntilReadyMethod, s is null ? null : s.WaitPlacementGroupUntilReady);
        b.AddMethod(AddTaskEventDataMethod, s is null ? null : s.AddTaskEventData);
        b.AddMethod(ListTasksMethod, s is null ? null : s.ListTasks);
        b.AddMethod(ListObjectsMethod, s is null ? null : s.ListObjects);
        b.AddMethod(GetClusterResourceStateMethod, s is null ? null : s.GetClusterResourceState);
        b.AddMethod(ReportAutoscalingStateMethod, s is null ? null : s.ReportAutoscalingState);
        b.AddMethod(DrainNodeMethod, s is null ? null : s.DrainNode);
    }

    private static readonly Task<Empty> s_empty = Task.FromResult(Empty.Instance);

    public virtual Task<Empty> RegisterNode(NodeRecord r, ServerCallContext c) { WireValidation.Node(r); _gcs.Nodes.Register(r); return s_empty; }
    public virtual Task<ClusterView> ReportResources(ResourceReport r, ServerCallContext c)
    {
        WireValidation.Report(r);
        _gcs.Autoscaler.OnReport(r);
        var (removed, seq) = _gcs.PlacementGroups.RemovedSince(r.RemovalsSeen);
        var view = _gcs.Nodes.Report(r) with { FinishedJobs = _gcs.Jobs.RecentlyFinished(), RemovedPlacementGroups = removed, RemovalsSeq = seq };
        // Resources may have been freed: groups that wait get another try.
        if (_gcs.PlacementGroups.HasPending) _gcs.PlacementGroups.Kick();
        return Task.FromResult(view);
    }
    public virtual Task<ClusterView> GetAllNodes(Empty r, ServerCallContext c) => Task.FromResult(_gcs.Nodes.View());
    public virtual Task<Empty> UnregisterNode(NodeIdRequest r, ServerCallContext c)
    {
        if (r.NodeId.IsNil) throw WireValidation.Invalid("UnregisterNode: the node ID is nil.");
        _gcs.Nodes.MarkDead(r.NodeId, r.Reason ?? "the node was stopped");
        return s_empty;
    }
    public virtual Task<JobIdRequest> GetNextJobId(Empty r, ServerCallContext c) => Task.FromResult(new JobIdRequest(_gcs.Jobs.NextJobId()));
    public virtual Task<Empty> AddJob(JobRecord r, ServerCallContext c)
    {
        if (r.JobId.IsNil) throw WireValidation.Invalid("AddJob: the job ID is nil.");
        WireValidation.Text(r.Namespace, "AddJob: the namespace", allowEmpty: true);
        if (r.EnvVars is { Count: > WireValidation.MaxResourceKinds }) throw WireValidation.Invalid($"AddJob {r.JobId}: {r.EnvVars.Count} env vars.");
        _gcs.Jobs.Add(r);
        return s_empty;
    }
    public virtual Task<Empty> MarkJobFinished(JobIdRequest r, ServerCallContext c) { _gcs.Jobs.MarkFinished(r.JobId); return s_empty; }
    public virtual Task<JobList> GetJob(JobIdRequest r, ServerCallContext c) => Task.FromResult(new JobList(_gcs.Jobs.Get(r.JobId) is { } j ? [j] : []));
    public virtual Task<JobList> GetAllJobs(Empty r, ServerCallContext c) => Task.FromResult(new JobList([.. _gcs.Jobs.All()]));
    public virtual Task<RegisterActorReply> RegisterActor(RegisterActorRequest r, ServerCallContext c)
    {
        WireValidation.TaskSpec(r.CreationTask, "RegisterActor");
        if (r.CreationTask.ActorCreation is null) throw WireValidation.Invalid("RegisterActor: the task creates no actor.");
        return Task.FromResult(_gcs.Actors.Register(r.CreationTask, r.GetIfExists));
    }
    public virtual Task<Empty> CreateActor(WireTaskSpec r, ServerCallContext c)
    {
        WireValidation.TaskSpec(r, "CreateActor");
        if (r.ActorCreation is null) throw WireValidation.Invalid("CreateActor: the task creates no actor.");
        _gcs.Actors.Create(r);
        return s_empty;
    }
    public virtual Task<ActorInfoReply> GetNamedActor(NamedActorRequest r, ServerCallContext c)
    {
        WireValidation.Text(r.Name, "GetNamedActor: the name");
        WireValidation.Text(r.Namespace, "GetNamedActor: the namespace", allowEmpty: true);
        return Task.FromResult(new ActorInfoReply(_gcs.Actors.GetNamed(r.Name, r.Namespace)));
    }
    public virtual Task<ActorInfoReply> GetActorInfo(ActorIdRequest r, ServerCallContext c) => Task.FromResult(new ActorInfoReply(_gcs.Actors.Get(r.ActorId)));
    public virtual Task<ActorList> GetAllActors(Empty r, ServerCallContext c) => Task.FromResult(new ActorList([.. _gcs.Actors.All()]));
    public virtual Task<Empty> KillActor(KillActorRequest r, ServerCallContext c) { _gcs.Actors.Kill(r.ActorId, r.NoRestart, r.Reason); return s_empty; }
    public virtual Task<Empty> ReportActorOutOfScope(ActorIdRequest r, ServerCallContext c) { _gcs.Actors.OnOutOfScope(r.ActorId); return s_empty; }
    public virtual Task<Empty> ReportActorExited(ActorExitedRequest r, ServerCallContext c) { _gcs.Actors.OnActorExited(r.ActorId, r.Reason); return s_empty; }
    public virtual Task<Empty> ReportWorkerFailure(WorkerFailureRequest r, ServerCallContext c) { _gcs.OnWorkerFailure(r.WorkerId, r.NodeId, r.Reason); return s_empty; }
    public virtual Task<BoolReply> KvPut(KvRequest r, ServerCallContext c)
    {
        _gcs.Kv.CheckPut(r.Namespace, r.Key, r.Value ?? []);
        return Task.FromResult(new BoolReply(_gcs.Kv.Put(r.Namespace, r.Key, r.Value ?? [], r.Overwrite)));
    }
    public virtual Task<KvReply> KvGet(KvRequest r, ServerCallContext c) => Task.FromResult(_gcs.Storage.KvGet(r.Namespace, r.Key) is { } v ? new KvReply(true, v) : new KvReply(false, null));
    public virtual Task<BoolReply> KvDel(KvRequest r, ServerCallContext c) => Task.FromResult(new BoolReply(_gcs.Kv.Delete(r.Namespace, r.Key)));
    public virtual Task<KvKeysReply> KvKeys(KvRequest r, ServerCallContext c) => Task.FromResult(new KvKeysReply([.. _gcs.Storage.KvKeys(r.Namespace, r.Key)]));
    public virtual Task<Empty> PublishLogs(LogBatch r, ServerCallContext c) { _gcs.Logs.Publish(r); return s_empty; }

    // ---- The autoscaler (Ray's autoscaler state service) ----

    public virtual Task<ClusterResourceState> GetClusterResourceState(Empty r, ServerCallContext c) => Task.FromResult(_gcs.Autoscaler.GetClusterResourceState());

    public virtual Task<Empty> ReportAutoscalingState(AutoscalingState r, ServerCallContext c)
    {
        WireValidation.AutoscalingState(r);
        _gcs.Autoscaler.OnAutoscalingState(r);
        return s_empty;
    }

    public virtual Task<DrainNodeReply> DrainNode(DrainNodeRequest r, ServerCallContext c)
    {
        WireValidation.Drain(r);
        return _gcs.Autoscaler.DrainAsync(r, c.CancellationToken);
    }

    // ---- Task events and the state API ----

    public virtual Task<Empty> AddTaskEventData(TaskEventBatch r, ServerCallContext c)
    {
        WireValidation.TaskEvents(r);
        _gcs.Tasks.AddEvents(r);
        return s_empty;
    }

    public virtual Task<ListTasksReply> ListTasks(ListTasksRequest r, ServerCallContext c)
    {
        WireValidation.Limit(r.Limit, State.StateApi.MaxLimit, "ListTasks");
        WireValidation.Filters(r.Filters, "ListTasks");
        var (tasks, total, droppedAtWorkers, droppedAtGcs) = Refused(() => _gcs.Tasks.List(r.Limit, FromWire(r.Filters)));
        return Task.FromResult(new ListTasksReply(tasks, total, droppedAtWorkers, droppedAtGcs));
    }

    public virtual async Task<ListObjectsReply> ListObjects(ListObjectsRequest r, ServerCallContext c)
    {
        WireValidation.Limit(r.Limit, State.StateApi.MaxLimit, "ListObjects");
        WireValidation.Filters(r.Filters, "ListObjects");
        var nodes = _gcs.Nodes.View().Nodes.Where(n => n.Alive).Select(n => (n.NodeId, n.RayletEndpoint)).ToList();
        var drivers = _gcs.Jobs.All().Where(j => !j.IsDead && j.Driver is not null).Select(j => j.Driver!).ToList();
        try
        {
            return await StateRpc.ListObjectsAsync(nodes, drivers, _gcs.Config, r.Limit, FromWire(r.Filters), c.CancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    private static State.StateFilter[] FromWire(WireStateFilter[] filters) => [.. filters.Select(f => new State.StateFilter(f.Key, f.Value, f.Equal))];

    /// <summary>A filter naming no field of the rows is the caller's mistake: refused with its message.</summary>
    private static T Refused<T>(Func<T> list)
    {
        try
        {
            return list();
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    // ---- Placement groups ----

    public virtual Task<CreatePlacementGroupReply> CreatePlacementGroup(WirePlacementGroupSpec r, ServerCallContext c)
    {
        WireValidation.PlacementGroup(r);
        try
        {
            _gcs.PlacementGroups.Create(new PlacementGroupSpec(r.Id, [.. r.Bundles.Select(b => b.FromWire())], r.Strategy, r.Name, r.Namespace, r.JobId,
                r.Lifetime, r.CreatorActor));
            return Task.FromResult(new CreatePlacementGroupReply(null));
        }
        catch (ArgumentException e)
        {
            return Task.FromResult(new CreatePlacementGroupReply(e.Message));
        }
    }

    // The reply waits until the raylets have stopped the group's work and returned its bundles: when
    // Ray.RemovePlacementGroup returns, nothing runs in the group any more and its resources are free.
    public virtual async Task<BoolReply> RemovePlacementGroup(PlacementGroupIdRequest r, ServerCallContext c) =>
        new(await _gcs.PlacementGroups.RemoveAsync(r.Id, c.CancellationToken, "removed by Ray.RemovePlacementGroup").ConfigureAwait(false));

    public virtual Task<PlacementGroupReply> GetPlacementGroup(PlacementGroupIdRequest r, ServerCallContext c) =>
        Task.FromResult(new PlacementGroupReply(_gcs.PlacementGroups.Get(r.Id)?.ToWire()));

    public virtual Task<PlacementGroupReply> GetNamedPlacementGroup(NamedPlacementGroupRequest r, ServerCallContext c)
    {
        WireValidation.Text(r.Name, "GetNamedPlacementGroup: the name");
        WireValidation.Text(r.Namespace, "GetNamedPlacementGroup: the namespace", allowEmpty: true);
        return Task.FromResult(new PlacementGroupReply(_gcs.PlacementGroups.GetNamed(r.Name, r.Namespace)?.ToWire()));
    }

    public virtual Task<PlacementGroupList> GetAllPlacementGroups(Empty r, ServerCallContext c) =>
        Task.FromResult(new PlacementGroupList([.. _gcs.PlacementGroups.List().Select(g => g.ToWire())]));

    public virtual async Task<WaitPlacementGroupReply> WaitPlacementGroupUntilReady(WaitPlacementGroupRequest r, ServerCallContext c)
    {
        var ready = _gcs.PlacementGroups.WhenReady(r.Id);
        try
        {
            await ready.WaitAsync(TimeSpan.FromMilliseconds(Math.Clamp(r.TimeoutMs, 0, (long)TimeSpan.FromMinutes(10).TotalMilliseconds)), c.CancellationToken)
                .ConfigureAwait(false);
            return new WaitPlacementGroupReply(true, null);
        }
        catch (TimeoutException)
        {
            return new WaitPlacementGroupReply(false, null);
        }
        catch (PlacementGroupSchedulingException e)
        {
            return new WaitPlacementGroupReply(false, e.Message);
        }
    }

    public virtual async Task SubscribeActor(ActorIdRequest request, IServerStreamWriter<ActorInfo> stream, ServerCallContext context)
    {
        var updates = Channel.CreateUnbounded<ActorInfo>(new UnboundedChannelOptions { SingleReader = true });
        using var subscription = _gcs.Actors.Subscribe(request.ActorId, info => updates.Writer.TryWrite(info));
        await DrainAsync(updates.Reader, stream, context.CancellationToken, i => i.State == ActorLifecycleState.Dead).ConfigureAwait(false);
    }

    /// <summary>Every node and worker death from now on, after the nodes already dead (a subscriber that joins late or
    /// comes back after a GCS restart learns them too).</summary>
    public virtual async Task SubscribeClusterEvents(Empty request, IServerStreamWriter<ClusterEvent> stream, ServerCallContext context)
    {
        var events = Channel.CreateUnbounded<ClusterEvent>(new UnboundedChannelOptions { SingleReader = true });
        using var subscription = _gcs.Events.Subscribe(e => events.Writer.TryWrite(e));
        foreach (var dead in _gcs.Nodes.View().Nodes.Where(n => !n.Alive))
            events.Writer.TryWrite(new ClusterEvent(ClusterEventKind.NodeDead, dead.NodeId, default, dead.DeathReason ?? "the node died"));
        await DrainAsync(events.Reader, stream, context.CancellationToken, _ => false).ConfigureAwait(false);
    }

    public virtual async Task SubscribeLogs(JobIdRequest request, IServerStreamWriter<LogBatch> stream, ServerCallContext context)
    {
        var lines = Channel.CreateUnbounded<LogBatch>(new UnboundedChannelOptions { SingleReader = true });
        using var subscription = _gcs.Logs.Subscribe(request.JobId, b => lines.Writer.TryWrite(b));
        await DrainAsync(lines.Reader, stream, context.CancellationToken, _ => false).ConfigureAwait(false);
    }

    /// <summary>A driver's lifeline to the GCS: nothing is sent; the stream ending tells the GCS the driver is gone.</summary>
    public virtual Task WatchDriver(JobIdRequest request, IServerStreamWriter<Empty> stream, ServerCallContext context) =>
        _gcs.Jobs.WatchDriverAsync(request.JobId, context.CancellationToken);

    private static async Task DrainAsync<T>(ChannelReader<T> reader, IServerStreamWriter<T> stream, CancellationToken ct, Func<T, bool> isLast)
    {
        try
        {
            await foreach (var item in reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                await stream.WriteAsync(item, ct).ConfigureAwait(false);
                if (isLast(item)) return;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The subscriber went away.
        }
    }
}

using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace RaySharp.Core.Rpc;

/// <summary>
/// The gRPC endpoint of a driver or worker (Ray's <c>CoreWorkerService</c>): task pushes on a long-lived
/// bidirectional stream, and the ownership protocol — objects served to borrowers, borrower registration,
/// streaming-generator items, cancellation and exit.
/// </summary>
[BindServiceMethod(typeof(CoreWorkerService), nameof(BindService))]
// Not sealed: ASP.NET Core gRPC binds handlers to virtual methods of the type that declares BindService.
internal class CoreWorkerService : IRpcService
{
    public const string Name = "raysharp.CoreWorkerService";
    public static readonly Method<PushBatch, ReplyBatch> PushTasksMethod = RpcMarshaller.Duplex<PushBatch, ReplyBatch>(Name, nameof(PushTasks));
    public static readonly Method<CancelTaskRequest, BoolReply> CancelTaskMethod = RpcMarshaller.Unary<CancelTaskRequest, BoolReply>(Name, nameof(CancelTask));
    public static readonly Method<GetObjectRequest, WireObject> GetObjectMethod = RpcMarshaller.Unary<GetObjectRequest, WireObject>(Name, nameof(GetObject));
    public static readonly Method<BorrowerRequest, Empty> AddBorrowerMethod = RpcMarshaller.Unary<BorrowerRequest, Empty>(Name, nameof(AddBorrower));
    public static readonly Method<BorrowerRequest, Empty> RemoveBorrowerMethod = RpcMarshaller.Unary<BorrowerRequest, Empty>(Name, nameof(RemoveBorrower));
    public static readonly Method<ReleasePinsRequest, Empty> ReleasePinsMethod = RpcMarshaller.Unary<ReleasePinsRequest, Empty>(Name, nameof(ReleasePins));
    public static readonly Method<GeneratorItemRequest, Empty> ReportGeneratorItemMethod = RpcMarshaller.Unary<GeneratorItemRequest, Empty>(Name, nameof(ReportGeneratorItem));
    public static readonly Method<ExitRequest, Empty> ExitMethod = RpcMarshaller.Unary<ExitRequest, Empty>(Name, nameof(Exit));
    public static readonly Method<Empty, Empty> CollectGarbageMethod = RpcMarshaller.Unary<Empty, Empty>(Name, nameof(CollectGarbage));
    public static readonly Method<ObjectLocationRequest, BoolReply> AddObjectLocationMethod = RpcMarshaller.Unary<ObjectLocationRequest, BoolReply>(Name, nameof(AddObjectLocation));
    public static readonly Method<ReturnIdleLeasesRequest, Empty> ReturnIdleLeasesMethod = RpcMarshaller.Unary<ReturnIdleLeasesRequest, Empty>(Name, nameof(ReturnIdleLeases));
    public static readonly Method<GetObjectRefsRequest, CoreWorkerObjects> GetObjectRefsMethod = RpcMarshaller.Unary<GetObjectRefsRequest, CoreWorkerObjects>(Name, nameof(GetObjectRefs));

    private readonly ICoreWorkerServiceHandler _handler;
    private readonly RayConfig _config;

    /// <param name="handler">Runs what the service receives.</param>
    /// <param name="config">The process's configuration (reply batch size); the defaults when null.</param>
    public CoreWorkerService(ICoreWorkerServiceHandler handler, RayConfig? config = null)
    {
        _handler = handler;
        _config = config ?? RayConfig.Default;
    }

    public void Map(IEndpointRouteBuilder app) => app.MapGrpcService<CoreWorkerService>();

    public void Bind(ServiceBinderBase binder) => BindService(binder, this);

    public void Configure(Grpc.AspNetCore.Server.IGrpcServerBuilder grpc, RayConfig config) =>
        Microsoft.Extensions.DependencyInjection.GrpcServicesExtensions.AddServiceOptions<CoreWorkerService>(grpc, o => o.MaxReceiveMessageSize = config.CoreWorkerGrpcMaxReceiveMessageSize);

    public static void BindService(ServiceBinderBase binder, CoreWorkerService? service)
    {
        binder.AddMethod(PushTasksMethod, service is null ? null : service.PushTasks);
        binder.AddMethod(CancelTaskMethod, service is null ? null : service.CancelTask);
        binder.AddMethod(GetObjectMethod, service is null ? null : service.GetObject);
        binder.AddMethod(AddBorrowerMethod, service is null ? null : service.AddBorrower);
        binder.AddMethod(RemoveBorrowerMethod, service is null ? null : service.RemoveBorrower);
        binder.AddMethod(ReleasePinsMethod, service is null ? null : service.ReleasePins);
        binder.AddMethod(ReportGeneratorItemMethod, service is null ? null : service.ReportGeneratorItem);
        binder.AddMethod(ExitMethod, service is null ? null : service.Exit);
        binder.AddMethod(CollectGarbageMethod, service is null ? null : service.CollectGarbage);
        binder.AddMethod(ReturnIdleLeasesMethod, service is null ? null : service.ReturnIdleLeases);
        binder.AddMethod(AddObjectLocationMethod, service is null ? null : service.AddObjectLocation);
        binder.AddMethod(GetObjectRefsMethod, service is null ? null : service.GetObjectRefs);
    }

    /// <summary>Runs each pushed task as it arrives and streams the replies back, batching those that are ready together.</summary>
    public virtual async Task PushTasks(IAsyncStreamReader<PushBatch> requests, IServerStreamWriter<ReplyBatch> responses, ServerCallContext context)
    {
        var outbox = Channel.CreateUnbounded<PushTaskResponse>(new UnboundedChannelOptions { SingleReader = true });
        var writer = BatchWriter.RunAsync(outbox.Reader, async items =>
        {
            await responses.WriteAsync(new ReplyBatch(items)).ConfigureAwait(false);
            _handler.OnRepliesWritten();
        }, _config.RpcMaxBatchSize, context.CancellationToken);
        try
        {
            while (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
                foreach (var item in requests.Current.Items)
                    _handler.HandlePushTask(item, reply => outbox.Writer.TryWrite(reply));
        }
        catch (OperationCanceledException)
        {
            // The caller went away.
        }
        catch (IOException)
        {
        }
        finally
        {
            outbox.Writer.TryComplete();
        }
        await writer.ConfigureAwait(false);
    }

    public virtual Task<BoolReply> CancelTask(CancelTaskRequest request, ServerCallContext context) =>
        Task.FromResult(new BoolReply(_handler.HandleCancelTask(request.TaskId, request.Force, request.Recursive)));

    public virtual Task<WireObject> GetObject(GetObjectRequest request, ServerCallContext context) =>
        _handler.HandleGetObjectAsync(request.ObjectId, request.LostAt, context.CancellationToken);

    public virtual Task<Empty> AddBorrower(BorrowerRequest request, ServerCallContext context)
    {
        _handler.HandleAddBorrower(request.ObjectId, request.Borrower);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> RemoveBorrower(BorrowerRequest request, ServerCallContext context)
    {
        _handler.HandleRemoveBorrower(request.ObjectId, request.Borrower);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> ReleasePins(ReleasePinsRequest request, ServerCallContext context)
    {
        _handler.HandleReleasePins(request.Ids);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> ReturnIdleLeases(ReturnIdleLeasesRequest request, ServerCallContext context)
    {
        if (request.NodeId.IsNil) throw WireValidation.Invalid("ReturnIdleLeases: the node ID is nil.");
        _handler.HandleReturnIdleLeases(request.NodeId);
        return Task.FromResult(Empty.Instance);
    }

    public virtual Task<Empty> ReportGeneratorItem(GeneratorItemRequest request, ServerCallContext context)
    {
        if (request.Index < 0) throw WireValidation.Invalid($"ReportGeneratorItem of task {request.TaskId}: item index {request.Index}.");
        _handler.HandleGeneratorItem(request.TaskId, request.Index, request.Item.FromWire());
        return Task.FromResult(Empty.Instance);
    }

    /// <summary>The node's object store is under pressure: refs this process dropped without disposing them are
    /// finalized now, which frees their objects (Ray's global GC). Requests that arrive while a collection runs share
    /// it: a burst of them costs one collection, not one blocking collection each.</summary>
    public virtual async Task<Empty> CollectGarbage(Empty request, ServerCallContext context)
    {
        Task collection;
        lock (_collectionLock)
        {
            if (_collection is not { IsCompleted: false })
                _collection = Task.Run(static () =>
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                });
            collection = _collection;
        }
        await collection.ConfigureAwait(false);
        return Empty.Instance;
    }

    private readonly Lock _collectionLock = new();
    private Task? _collection;

    /// <summary>A node made a copy of an object this worker owns; false when the owner no longer has the object (the
    /// node then frees its copy).</summary>
    public virtual Task<BoolReply> AddObjectLocation(ObjectLocationRequest request, ServerCallContext context)
    {
        if (request.NodeId.IsNil) throw new RpcException(new Status(StatusCode.InvalidArgument, "AddObjectLocation: the node ID is nil"));
        if (request.SpilledUrl is not null) WireValidation.Text(request.SpilledUrl, "AddObjectLocation: the spilled URL");
        return Task.FromResult(new BoolReply(_handler.HandleAddObjectLocation(request.ObjectId, request.NodeId, request.SpilledUrl)));
    }

    /// <summary>This process's reference table, for the state API's object listing.</summary>
    public virtual Task<CoreWorkerObjects> GetObjectRefs(GetObjectRefsRequest request, ServerCallContext context)
    {
        WireValidation.Limit(request.Limit, StateRpc.MaxObjectsPerWorker, "GetObjectRefs");
        return Task.FromResult(_handler.HandleGetObjectRefs(request.Limit));
    }

    public virtual async Task<Empty> Exit(ExitRequest request, ServerCallContext context)
    {
        await _handler.HandleExitAsync(request.Force, request.Reason).ConfigureAwait(false);
        return Empty.Instance;
    }
}

/// <summary>What a <see cref="CoreWorkerService"/> delegates to: the process's core worker.</summary>
internal interface ICoreWorkerServiceHandler
{
    /// <summary>Starts the task; calls <paramref name="reply"/> once when it is done.</summary>
    void HandlePushTask(PushTaskRequest request, Action<PushTaskResponse> reply);

    /// <summary>A batch of replies reached the caller's stream.</summary>
    void OnRepliesWritten();

    bool HandleCancelTask(TaskId taskId, bool force, bool recursive);
    Task<WireObject> HandleGetObjectAsync(ObjectId id, NodeId lostAt, CancellationToken ct);
    void HandleAddBorrower(ObjectId id, Address borrower);
    void HandleRemoveBorrower(ObjectId id, Address borrower);
    void HandleReleasePins(ObjectId[] ids);

    /// <summary>Other owners wait for resources on <paramref name="node"/>: the leases held there go back once idle.</summary>
    void HandleReturnIdleLeases(NodeId node);

    /// <summary>A node holds a copy of an object this worker owns; false when the object is no longer owned here.</summary>
    bool HandleAddObjectLocation(ObjectId id, NodeId node, string? spilledUrl);
    void HandleGeneratorItem(TaskId taskId, int index, RayObject item);
    Task HandleExitAsync(bool force, string reason);

    /// <summary>Up to <paramref name="limit"/> references of this process's table.</summary>
    CoreWorkerObjects HandleGetObjectRefs(int limit);
}

/// <summary>Drains a channel into a stream, writing whatever is ready in one message (batching under load).</summary>
internal static class BatchWriter
{
    /// <param name="reader">What to send.</param>
    /// <param name="write">Writes one message.</param>
    /// <param name="maxBatch">Most items in one message (<c>rpc_max_batch_size</c>).</param>
    /// <param name="ct">Stops the writer.</param>
    public static async Task RunAsync<T>(ChannelReader<T> reader, Func<T[], Task> write, int maxBatch, CancellationToken ct)
    {
        int max = Math.Max(1, maxBatch);
        var batch = new List<T>(16);
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                while (batch.Count < max && reader.TryRead(out var item)) batch.Add(item);
                if (batch.Count == 0) continue;
                await write([.. batch]).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or RpcException or InvalidOperationException)
        {
            // The stream closed: whoever waits on unsent items learns it from the stream's end.
        }
    }
}

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
    public static readonly Method<LeaseIdRequest, Empty> NotifyBlockedMethod = RpcMarshaller.Unary<LeaseIdRequest, Empty>(Name, nameof(NotifyBlocked));
    public static readonly Method<LeaseIdRequest, Empty> NotifyUnblockedMethod = RpcMarshaller.Unary<LeaseIdRequest, Empty>(Name, nameof(NotifyUnblocked));
    public static readonly Method<RegisterWorkerRequest, BoolReply> RegisterWorkerMethod = RpcMarshaller.Unary<RegisterWorkerRequest, BoolReply>(Name, nameof(RegisterWorker));
    public static readonly Method<Empty, NodeStatsReply> GetNodeStatsMethod = RpcMarshaller.Unary<Empty, NodeStatsReply>(Name, nameof(GetNodeStats));

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
        b.AddMethod(NotifyBlockedMethod, s is null ? null : s.NotifyBlocked);
        b.AddMethod(NotifyUnblockedMethod, s is null ? null : s.NotifyUnblocked);
        b.AddMethod(RegisterWorkerMethod, s is null ? null : s.RegisterWorker);
        b.AddMethod(GetNodeStatsMethod, s is null ? null : s.GetNodeStats);
    }

    public virtual Task<WireLeaseReply> RequestWorkerLease(WireLeaseRequest request, ServerCallContext context)
    {
        WireValidation.Lease(request);
        return _raylet.RequestWorkerLeaseAsync(request, context.CancellationToken);
    }

    public virtual Task<Empty> ReturnWorker(ReturnWorkerRequest request, ServerCallContext context)
    {
        _raylet.ReturnWorker(request.LeaseId, request.Disconnect);
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
}

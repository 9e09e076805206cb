using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The GCS's autoscaler state (Ray's GcsAutoscalerStateManager): demand reported by raylets summed by shape,
/// idle nodes, placement groups waiting for nodes, the autoscaler's reported state, validation at the door, and drains.</summary>
public sealed class GcsAutoscalerStateTests : IDisposable
{
    private readonly GcsServer _gcs = new(new RayConfig(), NullLoggerFactory.Instance);

    public void Dispose() => _gcs.Dispose();

    private NodeRecord Register(bool head, string? instance = null, string? type = null)
    {
        var node = new NodeRecord
        {
            NodeId = NodeId.FromRandom(), RayletEndpoint = "raylet-" + Guid.NewGuid().ToString("N")[..6], IsHead = head,
            Total = new() { ["CPU"] = 2 }, InstanceId = instance, NodeTypeName = type,
        };
        _gcs.Service.RegisterNode(node, null!);
        return node;
    }

    private static ResourceDemand Demand(int count, bool infeasible, params (string Name, double Amount)[] shape) =>
        new(shape.ToDictionary(s => s.Name, s => s.Amount), count, DemandKind.Task, infeasible);

    [Fact]
    public async Task Demand_is_summed_over_raylets_and_idle_nodes_and_waiting_groups_are_listed()
    {
        var head = Register(head: true);
        var worker = Register(head: false, "local-cpu-1", "cpu_worker");
        await _gcs.Service.ReportResources(new ResourceReport(head.NodeId, new() { ["CPU"] = 0 }, Demand: [Demand(2, true, ("accel", 1))]), null!);
        await _gcs.Service.ReportResources(new ResourceReport(worker.NodeId, new() { ["CPU"] = 2 }, Demand: [Demand(1, true, ("accel", 1))], IdleMs: 5000), null!);
        var group = PlacementGroupId.Of(new JobId(7));
        await _gcs.Service.CreatePlacementGroup(new WirePlacementGroupSpec
        {
            Id = group, Bundles = [new() { ["CPU"] = 8 }], Strategy = PlacementStrategy.Pack, Namespace = "ns", JobId = new JobId(7),
            Lifetime = PlacementGroupLifetime.NonDetached,
        }, null!);

        var state = await _gcs.Service.GetClusterResourceState(Empty.Instance, null!);
        var demand = Assert.Single(state.Demand);
        Assert.Equal((3, true), (demand.Count, demand.Infeasible));
        var w = state.Nodes.Single(n => n.NodeId == worker.NodeId);
        Assert.Equal((NodeActivity.Idle, "local-cpu-1", "cpu_worker"), (w.Activity, w.InstanceId, w.NodeTypeName));
        Assert.True(w.IdleMs >= 5000);
        Assert.Equal(NodeActivity.Running, state.Nodes.Single(n => n.NodeId == head.NodeId).Activity);
        var pending = Assert.Single(state.PendingGroups);
        Assert.Equal(group, pending.Group);
        Assert.Equal(8, Assert.Single(pending.Bundles)["CPU"]);
    }

    [Fact]
    public async Task The_autoscaler_s_state_is_kept_and_malformed_reports_are_refused()
    {
        var report = new AutoscalingState
        {
            TimeMs = 1, Instances = [new AutoscalerInstance("local-gpu-1", "gpu_worker", InstanceStatus.Launching, default, 1)],
            Infeasible = [Demand(1, true, ("accel", 5))], InfeasibleGroups = [],
        };
        await _gcs.Service.ReportAutoscalingState(report, null!);
        Assert.Equal("local-gpu-1", Assert.Single((await _gcs.Service.GetClusterResourceState(Empty.Instance, null!)).Autoscaler!.Instances).InstanceId);

        var negative = report with { Infeasible = [Demand(-1, true, ("accel", 5))] };
        Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<RpcException>(() => _gcs.Service.ReportAutoscalingState(negative, null!))).StatusCode);
        var node = Register(head: false);
        var nan = new ResourceReport(node.NodeId, new() { ["CPU"] = 1 }, Demand: [Demand(1, false, ("CPU", double.NaN))]);
        Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<RpcException>(() => _gcs.Service.ReportResources(nan, null!))).StatusCode);
    }

    [Fact]
    public async Task A_drain_the_raylet_accepts_marks_the_node_draining_and_a_refused_one_does_not()
    {
        var nodes = new GcsNodeManager(new InMemoryGcsTableStorage(), new RayConfig(), NullLogger<GcsNodeManager>.Instance);
        using var _ = nodes;
        bool accept = false;
        var asked = new List<string>();
        var manager = new GcsAutoscalerStateManager(nodes, () => [], (endpoint, request, ct) =>
        {
            asked.Add(endpoint);
            return Task.FromResult(new DrainNodeReply(accept, accept ? null : "not idle"));
        }, NullLogger<GcsAutoscalerStateManager>.Instance);
        var head = new NodeRecord { NodeId = NodeId.FromRandom(), RayletEndpoint = "head", IsHead = true, Total = new() { ["CPU"] = 1 } };
        var worker = new NodeRecord { NodeId = NodeId.FromRandom(), RayletEndpoint = "worker", Total = new() { ["CPU"] = 1 } };
        nodes.Register(head);
        nodes.Register(worker);

        Assert.False((await manager.DrainAsync(new DrainNodeRequest(head.NodeId, DrainReason.Preemption, ""), default)).Accepted);
        var refused = await manager.DrainAsync(new DrainNodeRequest(worker.NodeId, DrainReason.IdleTermination, "idle"), default);
        Assert.Equal((false, "not idle"), (refused.Accepted, refused.RejectionReason));
        Assert.False(nodes.View().Nodes.Single(n => n.NodeId == worker.NodeId).Draining);

        accept = true;
        Assert.True((await manager.DrainAsync(new DrainNodeRequest(worker.NodeId, DrainReason.IdleTermination, "idle"), default)).Accepted);
        Assert.Equal(["worker", "worker"], asked);
        Assert.True(nodes.View().Nodes.Single(n => n.NodeId == worker.NodeId).Draining);
        Assert.Equal(NodeActivity.Draining, manager.GetClusterResourceState().Nodes.Single(n => n.NodeId == worker.NodeId).Activity);
        // No placement group is placed on it any more.
        Assert.DoesNotContain(nodes.BundleNodes(), n => n.NodeId == worker.NodeId);
    }
}

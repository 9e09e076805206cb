using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>
/// What a raylet tells the autoscaler and how it is drained, with a fake GCS: queued work reported by shape, idle
/// time, a drain refused while the node has work and accepted when it is idle, and requests reaching a draining node
/// sent on to another.
/// </summary>
public sealed class NodeManagerAutoscalingTests : IDisposable
{
    private static readonly TimeSpan Wait = ComponentHarness.Timeout;
    private static readonly WireStrategy Default = new(WireStrategyKind.Default, default, false);

    private readonly FakeRayletGcs _gcs = new();
    private readonly JobId _job = new(4242);
    private NodeManager _node = null!;

    public void Dispose() => _node?.Dispose();

    private async Task StartNode(double cpus)
    {
        _gcs.AddJob(_job);
        var launcher = new FakeWorkerLauncher();
        _node = new NodeManager(NodeId.FromRandom(), ResourceSet.Of((ResourceSet.Cpu, cpus)), isHead: false,
            new RayConfig { RayletReportPeriod = TimeSpan.FromMilliseconds(20) }, new SingleLoggerFactory(NullLogger.Instance), launcher);
        launcher.Register = _node.RegisterWorker;
        await _node.StartAsync(_gcs, "raylet-a", null, CancellationToken.None);
    }

    private Task<WireLeaseReply> Request(Dictionary<string, double> resources, CancellationToken ct = default, bool actor = false) =>
        _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job, Resources = resources, Strategy = Default, RuntimeEnvKey = "", Description = "task f", IsActorCreation = actor,
        }, ct);

    /// <summary>The first report that satisfies <paramref name="condition"/>, waiting for reports as they come.</summary>
    private async Task<ResourceReport> ReportWhere(Func<ResourceReport, bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            int seen = _gcs.Reports.Count;
            if (_gcs.LastReport is { } r && condition(r)) return r;
            Assert.True(DateTime.UtcNow < deadline, "no report matched within the timeout");
            await _gcs.Reports.WhenAtLeast(seen + 1).WaitAsync(Wait);
        }
    }

    [Fact]
    public async Task Queued_work_is_reported_by_shape_and_the_node_is_idle_once_it_is_gone()
    {
        await StartNode(cpus: 1);
        using var cancel = new CancellationTokenSource();
        // Nothing in the cluster has "accel": the requests wait here, infeasible; the actor's too, counted apart.
        var tasks = new[] { Request(new() { ["accel"] = 1 }, cancel.Token), Request(new() { ["accel"] = 1 }, cancel.Token) };
        var actor = Request(new() { ["accel"] = 1 }, cancel.Token, actor: true);
        var busy = await ReportWhere(r => r.Demand is { Length: 2 });
        var taskDemand = Assert.Single(busy.Demand!, d => d.Kind == DemandKind.Task);
        Assert.Equal(2, taskDemand.Count);
        Assert.True(taskDemand.Infeasible);
        Assert.Equal(1, taskDemand.Shape["accel"]);
        Assert.Equal(1, Assert.Single(busy.Demand!, d => d.Kind == DemandKind.Actor).Count);
        Assert.Equal(0, busy.IdleMs);

        await cancel.CancelAsync();
        var idle = await ReportWhere(r => r.Demand is { Length: 0 } && r.IdleMs > 0);
        Assert.True(idle.IdleMs > 0);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll([.. tasks, actor]));
    }

    [Fact]
    public async Task A_drain_for_idleness_is_refused_while_a_lease_is_held_and_taken_once_the_node_is_idle()
    {
        await StartNode(cpus: 1);
        var lease = await Request(new() { [ResourceSet.Cpu] = 1 }).WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Granted, lease.Kind);
        var refused = _node.Drain(DrainReason.IdleTermination, "idle");
        Assert.False(refused.Accepted);
        Assert.Contains("not idle", refused.RejectionReason);
        Assert.False(_node.IsDraining);

        _node.ReturnWorker(lease.LeaseId, disconnect: false);
        Assert.True(_node.Drain(DrainReason.IdleTermination, "idle").Accepted);
        Assert.True(_node.IsDraining);
    }

    [Fact]
    public async Task A_preempted_busy_node_hands_its_queued_work_back()
    {
        await StartNode(cpus: 1);
        var held = await Request(new() { [ResourceSet.Cpu] = 1 }).WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Granted, held.Kind);
        var queued = Request(new() { [ResourceSet.Cpu] = 1 });
        await ReportWhere(r => r.Demand is { Length: 1 });
        Assert.True(_node.Drain(DrainReason.Preemption, "spot instance reclaimed").Accepted);
        var reply = await queued.WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Rejected, reply.Kind);
        // The CPU coming back grants nothing here any more.
        _node.ReturnWorker(held.LeaseId, disconnect: false);
        Assert.Equal(1, _node.Stats().Available[ResourceSet.Cpu]);
    }

    [Fact]
    public async Task A_draining_node_sends_new_work_to_another_node_and_rejects_work_sent_to_it()
    {
        await StartNode(cpus: 1);
        var other = NodeId.FromRandom();
        await _gcs.SetViewAsync(FakeRayletGcs.Node(other, "raylet-b", totalCpus: 1, availableCpus: 1));
        Assert.True(_node.Drain(DrainReason.Preemption, "test").Accepted);

        var reply = await Request(new() { [ResourceSet.Cpu] = 1 }).WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Spillback, reply.Kind);
        Assert.Equal(other, reply.NodeId);

        var spilled = await _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = 1 }, Strategy = Default, RuntimeEnvKey = "", Description = "task f",
            Spilled = true, GrantOrReject = true,
        }, CancellationToken.None).WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Rejected, spilled.Kind);
        Assert.Contains("draining", spilled.CancelMessage);
    }
}

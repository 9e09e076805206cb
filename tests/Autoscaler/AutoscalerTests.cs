using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Autoscaler.Providers;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Autoscaler.Tests;

/// <summary>A GCS whose state the test sets; it records drains and reports.</summary>
internal sealed class FakeAutoscalerGcs : IAutoscalerGcs
{
    public ClusterResourceState State { get; set; } = new() { Nodes = [], Demand = [], PendingGroups = [] };
    public Func<DrainNodeRequest, DrainNodeReply> Drain { get; set; } = _ => new DrainNodeReply(true, null);
    public ConcurrentQueue<DrainNodeRequest> Drains { get; } = new();
    public ConcurrentQueue<AutoscalingState> Reports { get; } = new();
    public int FailuresLeft { get; set; }

    public Task<ClusterResourceState> GetClusterResourceStateAsync(CancellationToken ct) =>
        FailuresLeft-- > 0 ? throw new RayException("the GCS did not answer") : Task.FromResult(State);

    public Task ReportAutoscalingStateAsync(AutoscalingState state, CancellationToken ct)
    {
        Reports.Enqueue(state);
        return Task.CompletedTask;
    }

    public Task<DrainNodeReply> DrainNodeAsync(DrainNodeRequest request, CancellationToken ct)
    {
        Drains.Enqueue(request);
        return Task.FromResult(Drain(request));
    }
}

/// <summary>A provider whose instances are records: launching adds pending ones, terminating marks them.</summary>
internal sealed class FakeNodeProvider : INodeProvider
{
    private readonly Lock _lock = new();
    private readonly List<CloudInstance> _instances = [];
    private int _next;

    public List<(string Type, int Count)> Launches { get; } = [];
    public List<string> Terminated { get; } = [];

    public CloudInstance Add(string type, CloudInstanceState state = CloudInstanceState.Running)
    {
        lock (_lock)
        {
            var i = new CloudInstance($"fake-{type}-{++_next}", type, state, DateTimeOffset.UtcNow);
            _instances.Add(i);
            return i;
        }
    }

    public Task<IReadOnlyList<CloudInstance>> ListInstancesAsync(CancellationToken ct)
    {
        lock (_lock) return Task.FromResult<IReadOnlyList<CloudInstance>>([.. _instances]);
    }

    public Task LaunchAsync(NodeTypeConfig type, int count, CancellationToken ct)
    {
        lock (_lock) Launches.Add((type.Name, count));
        for (int i = 0; i < count; i++) Add(type.Name, CloudInstanceState.Pending);
        return Task.CompletedTask;
    }

    public Task TerminateAsync(CloudInstance instance, CancellationToken ct)
    {
        lock (_lock)
        {
            Terminated.Add(instance.InstanceId);
            int at = _instances.FindIndex(i => i.InstanceId == instance.InstanceId);
            if (at >= 0) _instances[at] = _instances[at] with { State = CloudInstanceState.Terminating };
        }
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>The autoscaler's passes over a fake GCS and provider: launches, idle removal, min_workers, refused drains,
/// failed instances, infeasible demand, and a loop that survives failures.</summary>
public sealed class AutoscalerTests
{
    private readonly FakeAutoscalerGcs _gcs = new();
    private readonly FakeNodeProvider _provider = new();

    private static AutoscalingConfig Config(int cpuMin = 0, double idleMinutes = 1) => AutoscalingConfig.Parse($$"""
        provider: { type: local }
        idle_timeout_minutes: {{idleMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture)}}
        update_interval_seconds: 0.01
        available_node_types:
          cpu_worker: { resources: { CPU: 2 }, min_workers: {{cpuMin}}, max_workers: 3 }
          gpu_worker: { resources: { CPU: 1, GPU: 1, accel: 1 }, min_workers: 0, max_workers: 1 }
        """);

    private Autoscaler Autoscaler(AutoscalingConfig? config = null) => new(config ?? Config(), _gcs, _provider, NullLogger.Instance);

    private static NodeResourceState Head() => new()
    {
        NodeId = NodeId.FromRandom(), IsHead = true, Activity = NodeActivity.Running,
        Total = new() { ["CPU"] = 1 }, Available = new() { ["CPU"] = 0 },
    };

    private static NodeResourceState NodeOf(CloudInstance instance, NodeActivity activity, long idleMs = 0, double cpus = 2) => new()
    {
        NodeId = NodeId.FromRandom(), InstanceId = instance.InstanceId, NodeTypeName = instance.NodeType, Activity = activity, IdleMs = idleMs,
        Total = new() { ["CPU"] = cpus }, Available = new() { ["CPU"] = cpus },
    };

    private static ResourceDemand Demand(bool infeasible, params (string Name, double Amount)[] shape) =>
        new(shape.ToDictionary(s => s.Name, s => s.Amount), 1, DemandKind.Task, infeasible);

    [Fact]
    public async Task Demand_launches_the_type_that_fits_once_and_waits_for_it()
    {
        _gcs.State = new() { Nodes = [Head()], Demand = [Demand(true, ("CPU", 1), ("accel", 1))], PendingGroups = [] };
        var autoscaler = Autoscaler();
        await autoscaler.RunOnceAsync(CancellationToken.None);
        Assert.Equal([("gpu_worker", 1)], _provider.Launches);
        var launching = Assert.Single(autoscaler.LastState!.Instances);
        Assert.Equal(InstanceStatus.Launching, launching.Status);

        // The same demand while the node starts launches nothing more.
        await autoscaler.RunOnceAsync(CancellationToken.None);
        Assert.Single(_provider.Launches);
        Assert.Equal(2, _gcs.Reports.Count);
    }

    [Fact]
    public async Task A_node_idle_past_the_timeout_is_drained_then_terminated()
    {
        var idle = _provider.Add("cpu_worker");
        var fresh = _provider.Add("cpu_worker");
        var idleNode = NodeOf(idle, NodeActivity.Idle, idleMs: 61_000);
        _gcs.State = new() { Nodes = [Head(), idleNode, NodeOf(fresh, NodeActivity.Idle, idleMs: 5_000)], Demand = [], PendingGroups = [] };
        var autoscaler = Autoscaler();
        await autoscaler.RunOnceAsync(CancellationToken.None);
        var drain = Assert.Single(_gcs.Drains);
        Assert.Equal((idleNode.NodeId, DrainReason.IdleTermination), (drain.NodeId, drain.Reason));
        Assert.Equal([idle.InstanceId], _provider.Terminated);
        Assert.Equal(InstanceStatus.Terminating, autoscaler.LastState!.Instances.Single(i => i.InstanceId == idle.InstanceId).Status);
        Assert.Equal(InstanceStatus.Idle, autoscaler.LastState.Instances.Single(i => i.InstanceId == fresh.InstanceId).Status);
    }

    [Fact]
    public async Task An_idle_node_the_queued_demand_needs_is_kept()
    {
        // Work queued at the head (say) fits the idle gpu_worker: it is about to move there, so the node stays.
        var gpu = _provider.Add("gpu_worker");
        var gpuNode = NodeOf(gpu, NodeActivity.Idle, idleMs: 61_000, cpus: 1) with { Available = new() { ["CPU"] = 1, ["accel"] = 1 } };
        _gcs.State = new() { Nodes = [Head(), gpuNode], Demand = [Demand(false, ("CPU", 1), ("accel", 1))], PendingGroups = [] };
        await Autoscaler().RunOnceAsync(CancellationToken.None);
        Assert.Empty(_gcs.Drains);
        Assert.Empty(_provider.Terminated);
        Assert.Empty(_provider.Launches);
    }

    [Fact]
    public async Task Idle_nodes_are_kept_down_to_min_workers()
    {
        var a = _provider.Add("cpu_worker");
        var b = _provider.Add("cpu_worker");
        _gcs.State = new()
        {
            Nodes = [Head(), NodeOf(a, NodeActivity.Idle, idleMs: 120_000), NodeOf(b, NodeActivity.Idle, idleMs: 90_000)], Demand = [], PendingGroups = [],
        };
        await Autoscaler(Config(cpuMin: 1)).RunOnceAsync(CancellationToken.None);
        // The longest idle goes; the other is the one min_workers keeps.
        Assert.Equal([a.InstanceId], _provider.Terminated);
        Assert.Empty(_provider.Launches);
    }

    [Fact]
    public async Task Min_workers_are_launched_at_start()
    {
        _gcs.State = new() { Nodes = [Head()], Demand = [], PendingGroups = [] };
        await Autoscaler(Config(cpuMin: 2)).RunOnceAsync(CancellationToken.None);
        Assert.Equal([("cpu_worker", 2)], _provider.Launches);
    }

    [Fact]
    public async Task A_refused_drain_leaves_the_node_running()
    {
        var busy = _provider.Add("cpu_worker");
        _gcs.State = new() { Nodes = [Head(), NodeOf(busy, NodeActivity.Idle, idleMs: 61_000)], Demand = [], PendingGroups = [] };
        _gcs.Drain = _ => new DrainNodeReply(false, "not idle: 1 leases");
        await Autoscaler().RunOnceAsync(CancellationToken.None);
        Assert.Single(_gcs.Drains);
        Assert.Empty(_provider.Terminated);
    }

    [Fact]
    public async Task An_instance_whose_node_died_or_was_drained_is_terminated()
    {
        var died = _provider.Add("cpu_worker");
        var drained = _provider.Add("gpu_worker");
        _gcs.State = new() { Nodes = [Head(), NodeOf(died, NodeActivity.Dead), NodeOf(drained, NodeActivity.Draining)], Demand = [], PendingGroups = [] };
        await Autoscaler().RunOnceAsync(CancellationToken.None);
        Assert.Equal([died.InstanceId, drained.InstanceId], _provider.Terminated.Order());
        Assert.Empty(_gcs.Drains);
    }

    [Fact]
    public async Task Demand_no_type_can_meet_is_reported_not_launched_for()
    {
        _gcs.State = new() { Nodes = [Head()], Demand = [Demand(true, ("accel", 5))], PendingGroups = [] };
        var autoscaler = Autoscaler();
        await autoscaler.RunOnceAsync(CancellationToken.None);
        Assert.Empty(_provider.Launches);
        Assert.Equal(5, Assert.Single(autoscaler.LastState!.Infeasible).Shape["accel"]);
    }

    [Fact]
    public async Task The_loop_logs_a_failed_pass_reports_it_and_goes_on()
    {
        _gcs.FailuresLeft = 2;
        _gcs.State = new() { Nodes = [Head()], Demand = [Demand(true, ("accel", 1))], PendingGroups = [] };
        using var stop = new CancellationTokenSource();
        var run = Autoscaler().RunAsync(stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_provider.Launches.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(5); // polling the fake for the pass after the failures
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([("gpu_worker", 1)], _provider.Launches);
        Assert.Contains(_gcs.Reports, r => r.LastError == "the GCS did not answer");
        Assert.Null(_gcs.Reports.Last().LastError);
    }
}

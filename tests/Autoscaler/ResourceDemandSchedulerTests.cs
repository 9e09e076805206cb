using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Autoscaler.Tests;

/// <summary>The scheduling decisions alone: which node types launch for which demand, and what is infeasible.</summary>
public sealed class ResourceDemandSchedulerTests
{
    private static readonly NodeTypeConfig Cpu = new("cpu_worker", new Dictionary<string, double> { ["CPU"] = 2 }, 0, 3, "cpu");
    private static readonly NodeTypeConfig Gpu = new("gpu_worker", new Dictionary<string, double> { ["CPU"] = 1, ["GPU"] = 1, ["accel"] = 1 }, 0, 1, "gpu");
    private static readonly NodeTypeConfig[] Types = [Cpu, Gpu];

    private static ResourceDemand Tasks(int count, bool infeasible = false, params (string Name, double Amount)[] shape) =>
        new(shape.ToDictionary(s => s.Name, s => s.Amount), count, DemandKind.Task, infeasible);

    private static SchedulingDecision Schedule(IReadOnlyList<ResourceDemand> demand, IReadOnlyList<ResourceSet>? room = null,
        Dictionary<string, int>? counts = null, IReadOnlyList<PendingBundles>? groups = null, IReadOnlyList<NodeTypeConfig>? types = null) =>
        ResourceDemandScheduler.Schedule(new SchedulingInput(types ?? Types, counts ?? [], room ?? [], demand, groups ?? []));

    [Fact]
    public void Demand_for_a_resource_only_one_type_has_launches_that_type()
    {
        var d = Schedule([Tasks(1, true, ("CPU", 1), ("accel", 1))]);
        Assert.Equal(new Dictionary<string, int> { ["gpu_worker"] = 1 }, d.ToLaunch);
        Assert.Empty(d.Infeasible);
    }

    [Fact]
    public void CPU_work_does_not_start_a_GPU_node_when_a_CPU_node_fits_it()
    {
        var d = Schedule([Tasks(1, false, ("CPU", 1))]);
        Assert.Equal(new Dictionary<string, int> { ["cpu_worker"] = 1 }, d.ToLaunch);
    }

    [Fact]
    public void Requests_are_packed_first_fit_decreasing()
    {
        // On 3-CPU nodes, two 1-CPU and two 2-CPU tasks fit two nodes only if the large ones are placed first (listed
        // small first, first fit alone would take three).
        var three = Cpu with { Resources = new Dictionary<string, double> { ["CPU"] = 3 }, MaxWorkers = 10 };
        var d = Schedule([Tasks(2, false, ("CPU", 1)), Tasks(2, false, ("CPU", 2))], types: [three]);
        Assert.Equal(2, d.ToLaunch["cpu_worker"]);
    }

    [Fact]
    public void Room_on_existing_and_launching_nodes_is_used_before_launching()
    {
        var d = Schedule([Tasks(2, false, ("CPU", 1))], room: [ResourceSet.Of(("CPU", 1)), ResourceSet.Of(("CPU", 2))], counts: new() { ["cpu_worker"] = 1 });
        Assert.Empty(d.ToLaunch);
        var more = Schedule([Tasks(4, false, ("CPU", 1))], room: [ResourceSet.Of(("CPU", 2))], counts: new() { ["cpu_worker"] = 1 });
        Assert.Equal(1, more.ToLaunch["cpu_worker"]);
    }

    [Fact]
    public void Max_workers_caps_launches_and_leaves_the_rest_unmet()
    {
        var d = Schedule([Tasks(3, true, ("accel", 1))], counts: new() { ["gpu_worker"] = 0 });
        Assert.Equal(1, d.ToLaunch["gpu_worker"]);
        Assert.Equal(2, d.Unmet);
        Assert.Empty(d.Infeasible);
        var atMax = Schedule([Tasks(1, true, ("accel", 1))], counts: new() { ["gpu_worker"] = 1 });
        Assert.Empty(atMax.ToLaunch);
        Assert.Equal(1, atMax.Unmet);
    }

    [Fact]
    public void Min_workers_are_launched_without_demand_and_take_demand()
    {
        var d = Schedule([Tasks(2, false, ("CPU", 1))], types: [Cpu with { MinWorkers = 1 }, Gpu]);
        Assert.Equal(new Dictionary<string, int> { ["cpu_worker"] = 1 }, d.ToLaunch);
        var kept = Schedule([], counts: new() { ["cpu_worker"] = 1 }, types: [Cpu with { MinWorkers = 2 }, Gpu]);
        Assert.Equal(new Dictionary<string, int> { ["cpu_worker"] = 1 }, kept.ToLaunch);
    }

    [Fact]
    public void Demand_no_type_fits_is_reported_and_not_launched_for()
    {
        var d = Schedule([Tasks(2, true, ("accel", 5)), Tasks(1, false, ("CPU", 1))]);
        var infeasible = Assert.Single(d.Infeasible);
        Assert.Equal(5, infeasible.Shape["accel"]);
        Assert.Equal(new Dictionary<string, int> { ["cpu_worker"] = 1 }, d.ToLaunch);
    }

    [Fact]
    public void Demand_no_type_fits_but_a_node_of_the_cluster_can_is_left_to_that_node()
    {
        // The raylets know a node (the head, say) has "special": the work waits for it, and no type is launched.
        var d = Schedule([Tasks(1, false, ("special", 1))]);
        Assert.Empty(d.Infeasible);
        Assert.Empty(d.ToLaunch);
    }

    [Fact]
    public void Placement_groups_follow_their_strategy()
    {
        var id = PlacementGroupId.Of(new JobId(1));
        Dictionary<string, double> Bundle() => new() { ["CPU"] = 1 };
        var spread = Schedule([], groups: [new PendingBundles(id, PlacementStrategy.StrictSpread, [Bundle(), Bundle(), Bundle()], false)]);
        Assert.Equal(3, spread.ToLaunch["cpu_worker"]);
        var pack = Schedule([], groups: [new PendingBundles(id, PlacementStrategy.StrictPack, [Bundle(), Bundle()], false)]);
        Assert.Equal(1, pack.ToLaunch["cpu_worker"]);
        var tooBig = Schedule([], groups: [new PendingBundles(id, PlacementStrategy.StrictPack, [Bundle(), Bundle(), Bundle()], true)]);
        Assert.Empty(tooBig.ToLaunch);
        Assert.Equal(id, Assert.Single(tooBig.InfeasibleGroups).Group);
    }
}

using RaySharp.Core;
using RaySharp.Core.Raylet;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The raylet's node choice alone (pure logic): where a lease goes under the hybrid and spread policies.</summary>
public sealed class ClusterResourceSchedulerTests
{
    private readonly ClusterResourceScheduler _scheduler = new(spreadThreshold: 0.5);

    private static readonly ResourceSet OneCpu = ResourceSet.Of((ResourceSet.Cpu, 1));

    /// <summary>Three nodes with fresh IDs; <c>Remotes</c> are sorted by node ID, as the hybrid policy visits them.</summary>
    private static (NodeId Local, NodeId[] Remotes) NewNodeIds()
    {
        var remotes = new[] { NodeId.FromRandom(), NodeId.FromRandom(), NodeId.FromRandom() }
            .OrderBy(n => n.ToString(), StringComparer.Ordinal).ToArray();
        return (NodeId.FromRandom(), remotes);
    }

    private static SchedulingNode Node(NodeId id, double totalCpus, double usedCpus, double gpus = 0)
    {
        var total = ResourceSet.Of((ResourceSet.Cpu, totalCpus), (ResourceSet.Gpu, gpus));
        var available = ResourceSet.Of((ResourceSet.Cpu, totalCpus - usedCpus), (ResourceSet.Gpu, gpus));
        return new SchedulingNode(id, id.ToString(), total, available);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)] // 25% used: still below the threshold
    public void Hybrid_packs_the_local_node_while_it_is_below_the_spread_threshold(double localUsed)
    {
        var (local, remotes) = NewNodeIds();
        var nodes = new[] { Node(local, 4, localUsed), Node(remotes[2], 4, 0), Node(remotes[0], 4, 0) };

        Assert.Equal(local, _scheduler.Choose(nodes, OneCpu, spread: false)!.NodeId);
    }

    [Fact]
    public void Hybrid_spills_to_the_first_remote_node_by_ID_once_the_local_node_reaches_the_threshold()
    {
        var (local, remotes) = NewNodeIds();
        // Listed out of ID order: the choice follows node IDs, not list order.
        var nodes = new[] { Node(local, 4, 2), Node(remotes[2], 4, 0), Node(remotes[1], 4, 0), Node(remotes[0], 4, 0) };

        Assert.Equal(remotes[0], _scheduler.Choose(nodes, OneCpu, spread: false)!.NodeId);
    }

    [Fact]
    public void Hybrid_skips_remote_nodes_at_the_threshold()
    {
        var (local, remotes) = NewNodeIds();
        var nodes = new[] { Node(local, 4, 3), Node(remotes[0], 4, 2), Node(remotes[1], 4, 3), Node(remotes[2], 4, 1) };

        Assert.Equal(remotes[2], _scheduler.Choose(nodes, OneCpu, spread: false)!.NodeId);
    }

    [Fact]
    public void Hybrid_picks_the_least_utilized_node_when_every_node_is_past_the_threshold()
    {
        var (local, remotes) = NewNodeIds();
        var nodes = new[] { Node(local, 4, 3), Node(remotes[0], 4, 3), Node(remotes[1], 8, 4), Node(remotes[2], 4, 2) };

        // With the lease placed: local 100%, remotes[0] 100%, remotes[1] 62.5%, remotes[2] 75%.
        Assert.Equal(remotes[1], _scheduler.Choose(nodes, OneCpu, spread: false)!.NodeId);
    }

    [Fact]
    public void Hybrid_queues_on_the_local_node_when_it_could_fit_but_nothing_is_free_now()
    {
        var (local, remotes) = NewNodeIds();
        var nodes = new[] { Node(local, 4, 4), Node(remotes[0], 4, 4) };

        Assert.Equal(local, _scheduler.Choose(nodes, OneCpu, spread: false)!.NodeId);
    }

    [Fact]
    public void Hybrid_skips_nodes_that_lack_the_resource()
    {
        var (local, remotes) = NewNodeIds();
        var nodes = new[] { Node(local, 4, 0), Node(remotes[0], 4, 0), Node(remotes[1], 4, 0, gpus: 1) };

        Assert.Equal(remotes[1], _scheduler.Choose(nodes, ResourceSet.Of((ResourceSet.Gpu, 1)), spread: false)!.NodeId);
    }

    [Fact]
    public void Spread_round_robins_over_the_nodes_with_room()
    {
        var (local, remotes) = NewNodeIds();
        var nodes = new[] { Node(local, 4, 0), Node(remotes[0], 4, 0), Node(remotes[1], 4, 0), Node(remotes[2], 4, 4) };

        var chosen = Enumerable.Range(0, 6).Select(_ => _scheduler.Choose(nodes, OneCpu, spread: true)!.NodeId).ToList();

        Assert.Equal(3, chosen.Take(3).Distinct().Count());
        Assert.DoesNotContain(remotes[2], chosen); // full
        Assert.Equal(chosen.Take(3), chosen.Skip(3));
    }

    [Fact]
    public void Infeasible_requests_get_no_node()
    {
        var (local, remotes) = NewNodeIds();
        var nodes = new[] { Node(local, 4, 0), Node(remotes[0], 4, 0) };

        Assert.Null(_scheduler.Choose(nodes, ResourceSet.Of((ResourceSet.Cpu, 8)), spread: false));
        Assert.Null(_scheduler.Choose(nodes, ResourceSet.Of((ResourceSet.Gpu, 1)), spread: false));
        Assert.Null(_scheduler.Choose(nodes, ResourceSet.Of((ResourceSet.Gpu, 1)), spread: true));
    }
}

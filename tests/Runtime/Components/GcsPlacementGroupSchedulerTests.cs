using RaySharp.Core;
using RaySharp.Core.Gcs;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The choice of nodes for a placement group's bundles, per strategy, all or nothing.</summary>
public sealed class GcsPlacementGroupSchedulerTests
{
    private static NodeId A => PlacementTestNodes.A;
    private static NodeId B => PlacementTestNodes.B;
    private static NodeId C => PlacementTestNodes.C;

    private static ResourceSet Cpu(double n) => ResourceSet.Of(("CPU", n));

    private static BundleNode Node(NodeId id, double total, double? available = null) => new(id, Cpu(total), Cpu(available ?? total));

    private static BundlePlacement Schedule(PlacementStrategy strategy, double[] bundles, params BundleNode[] nodes) =>
        GcsPlacementGroupScheduler.Schedule([.. bundles.Select(Cpu)], strategy, nodes);

    [Fact]
    public void StrictPack_puts_every_bundle_on_one_node_or_waits()
    {
        var placed = Schedule(PlacementStrategy.StrictPack, [1, 1], Node(A, 1), Node(B, 4));
        Assert.Equal(BundlePlacementKind.Placed, placed.Kind);
        Assert.Equal([B, B], placed.Nodes);
        // B is busy now: nothing else holds both, though it could once B frees up.
        Assert.Equal(BundlePlacementKind.WaitForResources, Schedule(PlacementStrategy.StrictPack, [1, 1], Node(A, 1), Node(B, 4, 1)).Kind);
        // No node is big enough, ever.
        Assert.Equal(BundlePlacementKind.Infeasible, Schedule(PlacementStrategy.StrictPack, [2, 2], Node(A, 2), Node(B, 3)).Kind);
    }

    [Fact]
    public void Pack_uses_one_node_when_it_can_and_as_few_as_possible_when_it_cannot()
    {
        Assert.Equal([B, B, B], Schedule(PlacementStrategy.Pack, [1, 1, 1], Node(A, 2), Node(B, 3)).Nodes);
        var split = Schedule(PlacementStrategy.Pack, [2, 1, 1], Node(A, 2), Node(B, 2), Node(C, 2));
        Assert.Equal(BundlePlacementKind.Placed, split.Kind);
        Assert.Equal(2, split.Nodes.Distinct().Count());
        // Best effort, but all or nothing: four CPUs of bundles on three free CPUs wait.
        Assert.Equal(BundlePlacementKind.WaitForResources, Schedule(PlacementStrategy.Pack, [2, 2], Node(A, 2), Node(B, 2, 1)).Kind);
    }

    [Fact]
    public void StrictSpread_puts_each_bundle_on_its_own_node_or_waits()
    {
        var placed = Schedule(PlacementStrategy.StrictSpread, [1, 1, 1], Node(A, 2), Node(B, 2), Node(C, 2));
        Assert.Equal(3, placed.Nodes.Distinct().Count());
        Assert.Equal(BundlePlacementKind.WaitForResources, Schedule(PlacementStrategy.StrictSpread, [1, 1], Node(A, 4), Node(B, 4, 0)).Kind);
        // More bundles than nodes: not an error, it waits for nodes to join (reported as infeasible meanwhile).
        Assert.Equal(BundlePlacementKind.Infeasible, Schedule(PlacementStrategy.StrictSpread, [1, 1, 1], Node(A, 8), Node(B, 8)).Kind);
    }

    [Fact]
    public void Spread_prefers_distinct_nodes_and_reuses_one_only_when_it_must()
    {
        Assert.Equal(3, Schedule(PlacementStrategy.Spread, [1, 1, 1], Node(A, 2), Node(B, 2), Node(C, 2)).Nodes.Distinct().Count());
        var reused = Schedule(PlacementStrategy.Spread, [1, 1, 1], Node(A, 2), Node(B, 2));
        Assert.Equal(BundlePlacementKind.Placed, reused.Kind);
        Assert.Equal(2, reused.Nodes.Distinct().Count());
    }

    [Fact]
    public void A_bundle_with_a_resource_only_one_node_has_goes_there()
    {
        var gpu = new BundleNode(C, ResourceSet.Of(("CPU", 1), ("GPU", 1)), ResourceSet.Of(("CPU", 1), ("GPU", 1)));
        var placed = GcsPlacementGroupScheduler.Schedule([ResourceSet.Of(("GPU", 1)), Cpu(1)], PlacementStrategy.Spread, [Node(A, 2), gpu]);
        Assert.Equal(C, placed.Nodes[0]);
        Assert.Equal(A, placed.Nodes[1]);
    }
}

/// <summary>Three node IDs in a known order (a &lt; b &lt; c), for the placement-group tests.</summary>
internal static class PlacementTestNodes
{
    public static readonly NodeId A = NodeId.Parse("a".PadRight(56, '0'));
    public static readonly NodeId B = NodeId.Parse("b".PadRight(56, '0'));
    public static readonly NodeId C = NodeId.Parse("c".PadRight(56, '0'));
}

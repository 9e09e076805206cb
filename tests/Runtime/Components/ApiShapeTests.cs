using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>Callers write API.md's parameter names (named arguments); the properties stay PascalCase.</summary>
public sealed class ApiShapeTests
{
    [Fact]
    public void Scheduling_strategies_take_the_documented_parameter_names()
    {
        var node = NodeId.FromRandom();
        var affinity = new NodeAffinitySchedulingStrategy(nodeId: node, soft: true);
        Assert.Equal(node, affinity.NodeId);
        Assert.True(affinity.Soft);
        Assert.False(new NodeAffinitySchedulingStrategy(node).Soft);
        Assert.Equal(affinity, new NodeAffinitySchedulingStrategy(node, soft: true));

        var pg = new PlacementGroup(PlacementGroupId.Of(new JobId(1)), [new Dictionary<string, double> { ["CPU"] = 1 }], PlacementStrategy.Pack,
            null, (_, _) => Task.FromResult(true));
        var inGroup = new PlacementGroupSchedulingStrategy(pg: pg, bundleIndex: 0, captureChildTasks: true);
        Assert.Same(pg, inGroup.PlacementGroup);
        Assert.Equal(0, inGroup.BundleIndex);
        Assert.True(inGroup.CaptureChildTasks);
        Assert.Equal(-1, new PlacementGroupSchedulingStrategy(pg).BundleIndex);
        // RAY007 catches a constant; the constructor catches what the analyzer cannot see.
        int minusTwo = -2;
        Assert.Throws<ArgumentOutOfRangeException>(() => new PlacementGroupSchedulingStrategy(pg, bundleIndex: minusTwo));
    }
}

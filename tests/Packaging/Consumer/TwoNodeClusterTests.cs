using RaySharp;
using RaySharp.Testing;

namespace Demo.Tests;

/// <summary>Added to the template's test project by the packaging tests: a two-node TestCluster from the
/// RaySharp.Testing package, with a remote function of this project (its proxy made by the generator the packages bring).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "Cluster";
}

[Collection(ClusterCollection.Name)]
public sealed class TwoNodeClusterTests
{
    [Fact]
    public async Task Tasks_and_an_actor_run_on_a_two_node_test_cluster()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        var second = cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["second"] = 1 });
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        Assert.Equal(2, Ray.Nodes().Count(n => n.Alive));
        var onSecond = Where.Remote.WithOptions(new TaskOptions { Resources = new Dictionary<string, double> { ["second"] = 1 } }).NodeOfThisTask();
        Assert.Equal(second.NodeId.ToString(), await onSecond);
        Assert.Equal(64, await MathTasks.Remote.Square(8));
        var counter = Counter.Remote.Create(41);
        Assert.Equal(42, await counter.Increment());
    }
}

public static partial class Where
{
    [RayRemote] public static string NodeOfThisTask() => Ray.GetRuntimeContext().NodeId.ToString();
}

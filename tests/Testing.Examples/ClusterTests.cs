using RaySharp;
using Xunit;

namespace MyApp.Tests;

[Collection(ClusterCollection.Name)]
public sealed class ClusterTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Work_that_needs_a_resource_runs_on_the_node_that_has_it()
    {
        var needsBox = new TaskOptions { Resources = new Dictionary<string, double> { ["gpu-box"] = 1 } };

        string node = await Pricing.Remote.WithOptions(needsBox).Node();

        Assert.Equal(fixture.Worker.NodeId.ToString(), node);
    }

    [Fact]
    public async Task An_actor_on_the_cluster_answers_from_a_worker_process()
    {
        var basket = Basket.Remote.Create();
        Assert.Equal(1, await basket.Add(9.99m));
        Assert.Equal(2, Ray.Nodes().Count(n => n.Alive));
    }
}

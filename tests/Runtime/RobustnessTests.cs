using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests;

/// <summary>Malformed records from the wire are refused at the door, and the cluster goes on.</summary>
public sealed class RobustnessTests : RayTest
{
    private static GcsClient Gcs => ((GcsActorClient)CoreWorker.Current.Gcs).Client;

    [Fact]
    public async Task A_node_registering_NaN_CPUs_is_refused_and_the_cluster_keeps_working()
    {
        var before = Ray.Nodes().Count;
        var bogus = NodeId.FromRandom();

        var e = await Assert.ThrowsAsync<RayException>(() => Gcs.RegisterNodeAsync(new NodeRecord
        {
            NodeId = bogus, RayletEndpoint = "127.0.0.1:1", Total = new() { ["CPU"] = double.NaN },
        }, CancellationToken.None));
        Assert.Contains("refused RegisterNode", e.Message);
        Assert.Contains("CPU = NaN", e.Message);

        foreach (var amount in new[] { -1, double.PositiveInfinity })
            await Assert.ThrowsAsync<RayException>(() => Gcs.RegisterNodeAsync(new NodeRecord
            {
                NodeId = bogus, RayletEndpoint = "127.0.0.1:1", Total = new() { ["CPU"] = amount },
            }, CancellationToken.None));
        var report = await Assert.ThrowsAsync<RayException>(() => Gcs.ReportResourcesAsync(
            new ResourceReport(CoreWorker.Current.Address.NodeId, new() { ["CPU"] = double.NaN }), CancellationToken.None));
        Assert.Contains("ReportResources", report.Message);

        Assert.Equal(before, Ray.Nodes().Count);
        Assert.DoesNotContain(Ray.Nodes(), n => n.Id == bogus);
        Assert.Equal(4, Ray.ClusterResources()["CPU"]);
        Assert.Equal(5, await Tasks.Remote.Add(2, 3));
    }
}

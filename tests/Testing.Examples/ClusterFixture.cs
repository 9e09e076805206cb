using RaySharp;
using RaySharp.Testing;
using Xunit;

namespace MyApp.Tests;

/// <summary>A two-node cluster of real processes on this machine, and this test process connected to it as a driver.
/// The second node alone has the custom resource "gpu-box".</summary>
public sealed class ClusterFixture : IDisposable
{
    public ClusterFixture()
    {
        Cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        try
        {
            Worker = Cluster.AddNode(numCpus: 2, resources: new Dictionary<string, double> { ["gpu-box"] = 1 });
            Cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
            Context = Ray.Init(new RayOptions { Address = Cluster.Address });
        }
        catch
        {
            Cluster.Dispose();
            throw;
        }
    }

    public TestCluster Cluster { get; }

    public TestNode Worker { get; }

    public RayContext Context { get; }

    public void Dispose()
    {
        // The driver first, while the cluster can still hear that its job is done; then the node processes.
        Context.Dispose();
        Cluster.Dispose();
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "Cluster";
}

using System.Diagnostics;
using RaySharp.Core.Rpc;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

public static partial class GroupProbe
{
    /// <summary>The node the task runs on, and the node of a task it submits with no options of its own.</summary>
    [RayRemote]
    public static (string Node, string ChildNode, string[] ChildResources) NodeAndChild() =>
        (Ray.GetRuntimeContext().NodeId.ToString(), Probe.Remote.Node().Get(), GroupProbe.Remote.Assigned().Get());

    [RayRemote]
    public static string[] Assigned() => [.. Ray.GetRuntimeContext().AssignedResources.Keys];
}

/// <summary>What the placement-group tests on real clusters share: reading the GCS's table and the raylets' books.</summary>
public abstract class PlacementGroupClusterTestsBase
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    protected static IReadOnlyDictionary<string, double> Cpus(double n) => new Dictionary<string, double> { ["CPU"] = n };

    private protected static PlacementGroupTableData Table(TestCluster cluster, PlacementGroupId id) =>
        new GcsClient(cluster.Address, cluster.Config).GetPlacementGroup(id) ?? throw new InvalidOperationException($"the GCS does not know {id}");

    protected static string[] BundleNodes(TestCluster cluster, PlacementGroup pg) => [.. Table(cluster, pg.Id).BundleNodes.Select(n => n.ToString())];

    /// <summary>A raylet's own books (exact, not the view the GCS gathers every report).</summary>
    private protected static NodeStatsReply Stats(TestCluster cluster, TestNode node) =>
        RpcChannels.Invoker(node.RayletEndpoint, cluster.Config).BlockingUnaryCall(Core.Raylet.NodeManagerService.GetNodeStatsMethod, null,
            new Grpc.Core.CallOptions(), Empty.Instance);

    protected static string NodeOfBundle(PlacementGroup pg, int index) =>
        Probe.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, index) }).Node().Get(Timeout);

    protected static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"still not true after {Timeout.TotalSeconds} s: {what}");
            Thread.Sleep(20); // polling other processes' tables: there is no event to await from outside
        }
    }
}

/// <summary>Placement groups on the shared 3-node cluster (head 1 CPU, A and B 2 CPUs each).</summary>
public sealed class PlacementGroupClusterTests : PlacementGroupClusterTestsBase, IClassFixture<ThreeNodeCluster>, IDisposable
{
    private readonly ThreeNodeCluster _fixture;
    private readonly RayContext _ray;

    public PlacementGroupClusterTests(ThreeNodeCluster fixture)
    {
        _fixture = fixture;
        _ray = Ray.Init(new RayOptions { Address = fixture.Cluster.Address });
    }

    public void Dispose() => _ray.Dispose();

    private TestCluster Cluster => _fixture.Cluster;

    [Fact]
    public void Each_strategy_places_its_bundles_as_it_promises_and_work_runs_where_its_bundle_is()
    {
        var spread = Ray.CreatePlacementGroup([Cpus(1), Cpus(1), Cpus(1)], PlacementStrategy.StrictSpread);
        Assert.True(spread.Wait(Timeout));
        var nodes = BundleNodes(Cluster, spread);
        Assert.Equal(3, nodes.Distinct().Count());
        for (int i = 0; i < 3; i++) Assert.Equal(nodes[i], NodeOfBundle(spread, i));
        Ray.RemovePlacementGroup(spread);

        var packed = Ray.CreatePlacementGroup([Cpus(1), Cpus(1)], PlacementStrategy.StrictPack);
        Assert.True(packed.Wait(Timeout));
        var packedNodes = BundleNodes(Cluster, packed);
        Assert.Single(packedNodes.Distinct());
        Assert.Contains(packedNodes[0], new[] { _fixture.A.NodeId.ToString(), _fixture.B.NodeId.ToString() }); // the head has 1 CPU
        Assert.Equal(packedNodes[0], NodeOfBundle(packed, 1));
        Ray.RemovePlacementGroup(packed);

        var bestEffortSpread = Ray.CreatePlacementGroup([Cpus(1), Cpus(1)], PlacementStrategy.Spread);
        Assert.True(bestEffortSpread.Wait(Timeout));
        Assert.Equal(2, BundleNodes(Cluster, bestEffortSpread).Distinct().Count());
        Ray.RemovePlacementGroup(bestEffortSpread);

        // Four CPUs in one-CPU bundles fit on two nodes; Pack uses no more.
        var pack = Ray.CreatePlacementGroup([Cpus(1), Cpus(1), Cpus(1), Cpus(1)], PlacementStrategy.Pack);
        Assert.True(pack.Wait(Timeout));
        Assert.Equal(2, BundleNodes(Cluster, pack).Distinct().Count());
        Ray.RemovePlacementGroup(pack);
    }

    [Fact]
    public void A_group_no_node_set_can_hold_stays_pending_marked_infeasible_and_reserves_nothing()
    {
        // Four distinct nodes on a cluster of three, and 3 CPUs on one node when the largest has 2: never, for now.
        var tooSpread = Ray.CreatePlacementGroup([Cpus(1), Cpus(1), Cpus(1), Cpus(1)], PlacementStrategy.StrictSpread);
        var tooPacked = Ray.CreatePlacementGroup([Cpus(2), Cpus(1)], PlacementStrategy.StrictPack);
        Assert.False(tooSpread.Wait(TimeSpan.FromMilliseconds(500)));
        Assert.False(tooPacked.Wait(TimeSpan.Zero));
        foreach (var pg in (PlacementGroup[])[tooSpread, tooPacked])
        {
            var table = Table(Cluster, pg.Id);
            Assert.Equal(PlacementGroupState.Pending, table.State);
            Assert.True(table.Infeasible);
            Assert.All(table.BundleNodes, n => Assert.True(n.IsNil));
        }
        // Nothing was reserved anywhere: every raylet still has all its CPUs.
        foreach (var node in Cluster.Nodes) Assert.Equal(Stats(Cluster, node).Total["CPU"], Stats(Cluster, node).Available.GetValueOrDefault("CPU"));
        Ray.RemovePlacementGroup(tooSpread);
        Ray.RemovePlacementGroup(tooPacked);
        Assert.Equal(PlacementGroupState.Removed, Table(Cluster, tooSpread.Id).State);
    }

    [Fact]
    public void Removing_a_group_kills_its_actor_stops_its_task_and_gives_every_cpu_back()
    {
        var pg = Ray.CreatePlacementGroup([Cpus(2)], PlacementStrategy.StrictPack);
        Assert.True(pg.Wait(Timeout));
        var node = Cluster.Nodes.Single(n => n.NodeId.ToString() == BundleNodes(Cluster, pg)[0]);
        Assert.Equal(0, Stats(Cluster, node).Available.GetValueOrDefault("CPU"));

        var strategy = new PlacementGroupSchedulingStrategy(pg, 0);
        var actor = Where.Remote.WithOptions(new ActorOptions { SchedulingStrategy = strategy, NumCpus = 1 }).Create();
        Assert.Equal(node.NodeId.ToString(), actor.Node().Get(Timeout));
        var gate = Gate.Remote.Create();
        Assert.Equal(0, gate.Waiting().Get(Timeout));
        var task = Probe.Remote.WithOptions(new TaskOptions { SchedulingStrategy = strategy, NumCpus = 1, MaxRetries = 0 }).NodeWhenOpen(gate);
        WaitUntil(() => gate.Waiting().Get(Timeout) == 1, "the task in the group runs");

        Ray.RemovePlacementGroup(pg);

        var died = Assert.Throws<ActorDiedException>(() => actor.Node().Get(Timeout));
        Assert.Contains(pg.Id.ToString(), died.Message);
        Assert.ThrowsAny<RayException>(() => task.Get(Timeout));
        WaitUntil(() => Stats(Cluster, node).Available.GetValueOrDefault("CPU") == Stats(Cluster, node).Total["CPU"], "the node has all its CPUs back");
        Assert.DoesNotContain(Stats(Cluster, node).Total.Keys, k => k.Contains(pg.Id.ToString(), StringComparison.Ordinal));
        Assert.Throws<PlacementGroupSchedulingException>(() =>
            Probe.Remote.WithOptions(new TaskOptions { SchedulingStrategy = strategy }).Node().Get(Timeout));
        Ray.Kill(gate);
    }

    [Fact]
    public void A_capturing_group_keeps_the_tasks_its_work_submits_on_its_nodes()
    {
        var pg = Ray.CreatePlacementGroup([Cpus(2)], PlacementStrategy.StrictPack);
        Assert.True(pg.Wait(Timeout));
        string bundleNode = BundleNodes(Cluster, pg)[0];
        var (node, childNode, childResources) = GroupProbe.Remote.WithOptions(new TaskOptions
        {
            SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, 0, captureChildTasks: true),
        }).NodeAndChild().Get(Timeout);
        Assert.Equal(bundleNode, node);
        Assert.Equal(bundleNode, childNode);
        Assert.Contains($"CPU_group_{pg.Id}", childResources);
        Ray.RemovePlacementGroup(pg);
    }

    [Fact]
    public void A_detached_group_outlives_its_driver_and_a_non_detached_one_goes_with_its_job()
    {
        string name = "detached-" + Guid.NewGuid().ToString("N")[..8];
        string output = RunDriver("create-groups", name);
        Assert.Contains($"created {name}", output);
        // The driver exited: its detached group stays, found by name, with its bundle in place.
        var gcs = new GcsClient(Cluster.Address, Cluster.Config);
        var detached = gcs.GetNamedPlacementGroup(name, "integration");
        Assert.NotNull(detached);
        Assert.Equal(PlacementGroupState.Created, detached.State);
        // Its non-detached group went with the job.
        WaitUntil(() => gcs.GetAllPlacementGroups().Single(g => g.Spec.Name == name + "-job").State == PlacementGroupState.Removed,
            "the exited driver's non-detached group is removed");
        Assert.Null(gcs.GetNamedPlacementGroup(name + "-job", "integration"));
        Assert.True(gcs.RemovePlacementGroup(detached.Spec.Id));
    }

    private string RunDriver(string command, string argument) => DriverProgram.Run(Cluster.Address, command, argument);
}

/// <summary>Placement groups on clusters whose shape changes: a node that fits joins, a node holding a bundle dies.</summary>
public sealed class PlacementGroupNodeChangeTests : PlacementGroupClusterTestsBase
{
    [Fact]
    public void An_infeasible_group_is_created_when_a_node_that_fits_joins()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var pg = Ray.CreatePlacementGroup([Cpus(3)], PlacementStrategy.StrictPack);
        Assert.False(pg.Wait(TimeSpan.FromMilliseconds(300)));
        WaitUntil(() => Table(cluster, pg.Id).Infeasible, "the group is marked infeasible");

        var big = cluster.AddNode(numCpus: 4);
        Assert.True(pg.Wait(Timeout));
        var table = Table(cluster, pg.Id);
        Assert.False(table.Infeasible);
        Assert.Equal(PlacementGroupState.Created, table.State);
        Assert.Equal(big.NodeId, table.BundleNodes[0]);
        Assert.Equal(big.NodeId.ToString(), NodeOfBundle(pg, 0));
    }

    [Fact]
    public void Bundles_lost_with_a_node_are_placed_again_on_a_node_that_fits()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        var slot = new Dictionary<string, double> { ["slot"] = 1 };
        var first = cluster.AddNode(numCpus: 2, resources: slot);
        var second = cluster.AddNode(numCpus: 2, resources: slot);
        cluster.WaitForNodes(3, TimeSpan.FromSeconds(30));
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var pg = Ray.CreatePlacementGroup([Cpus(1), new Dictionary<string, double> { ["CPU"] = 1, ["slot"] = 1 }], PlacementStrategy.Spread);
        Assert.True(pg.Wait(Timeout));
        var before = Table(cluster, pg.Id).BundleNodes;
        var doomed = cluster.Nodes.Single(n => n.NodeId == before[1]);
        var survivor = doomed == first ? second : first;

        cluster.RemoveNode(doomed, graceful: false);

        // The GCS notices the dead raylet, places the lost bundle first, on the node left with a slot; the other bundle stays.
        WaitUntil(() => Table(cluster, pg.Id) is { State: PlacementGroupState.Created } t && t.BundleNodes[1] == survivor.NodeId,
            "the lost bundle is created again on the surviving node with a slot");
        // Spread put the other bundle on another node: it was not lost, and it did not move.
        Assert.Equal(before[0], Table(cluster, pg.Id).BundleNodes[0]);
        Assert.Equal(survivor.NodeId.ToString(), NodeOfBundle(pg, 1));
        Ray.RemovePlacementGroup(pg);
    }
}

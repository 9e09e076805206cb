using System.Diagnostics;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

public static partial class Sleepy
{
    /// <summary>Sleeps, then says where it ran.</summary>
    [RayRemote]
    public static string NodeAfter(int ms)
    {
        Thread.Sleep(ms);
        return Ray.GetRuntimeContext().NodeId.ToString();
    }
}

/// <summary>Work on a node that dies is retried on the nodes left (issue: fault tolerance, node death).</summary>
public sealed class NodeDeathTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public void Tasks_soft_pinned_to_a_node_that_is_killed_are_retried_on_the_nodes_left()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2 });
        var doomed = cluster.AddNode(numCpus: 2);
        cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        var soft = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(doomed.NodeId, soft: true) };
        var refs = Enumerable.Range(0, 200).Select(_ => Sleepy.Remote.WithOptions(soft).NodeAfter(20)).ToList();
        // Some have run on the node before it dies.
        var first = Ray.Wait(refs, numReturns: 10, timeout: Timeout);
        Assert.Equal(10, first.Ready.Count);

        var clock = Stopwatch.StartNew();
        cluster.RemoveNode(doomed, graceful: false);

        var nodes = new List<string>();
        var failures = new List<Exception>();
        foreach (var r in refs)
        {
            try { nodes.Add(r.Get(Timeout)); }
            catch (RayException e) { failures.Add(e); }
        }
        output.WriteLine($"all 200 settled {clock.Elapsed.TotalSeconds:0.00} s after the node was killed: {nodes.Count} results " +
            $"({nodes.Count(n => n == doomed.NodeId.ToString())} from the killed node, before it died), {failures.Count} failed" +
            (failures.Count > 0 ? $"; first: {failures[0].GetType().Name}: {failures[0].Message}" : ""));
        Assert.Empty(failures);
        Assert.Contains(cluster.Head.NodeId.ToString(), nodes);
    }

    [Fact]
    public void A_task_whose_node_dies_with_no_retries_left_fails_with_NodeDiedException()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        var doomed = cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["doomed"] = 1 });
        cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        var gate = Gate.Remote.Create();
        Assert.Equal(0, gate.Waiting().Get(Timeout));
        var onDoomed = Probe.Remote.WithOptions(new TaskOptions { Resources = new Dictionary<string, double> { ["doomed"] = 1 }, MaxRetries = 0 })
            .NodeWhenOpen(gate);
        ThreeNodeTests.WaitUntil(() => gate.Waiting().Get(Timeout) == 1);

        cluster.RemoveNode(doomed, graceful: false);

        var e = Assert.Throws<NodeDiedException>(() => onDoomed.Get(Timeout));
        Assert.Equal(doomed.NodeId, e.NodeId);
        Assert.Contains(doomed.NodeId.ToString(), e.Message);
    }
}

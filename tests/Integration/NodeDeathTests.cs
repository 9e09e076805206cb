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

[RayRemote]
public partial class PidBoard
{
    private int _pid;

    public int Post(int pid) => _pid = pid;

    public int Read() => _pid;
}

public static partial class Sleepy
{
    /// <summary>Posts its worker's PID, sleeps, then says where it ran.</summary>
    [RayRemote]
    public static string PostPidThenNode(ActorHandle<PidBoard> board, int ms)
    {
        board.Post(Environment.ProcessId).Get();
        Thread.Sleep(ms);
        return Ray.GetRuntimeContext().NodeId.ToString();
    }
}

[RayRemote]
public partial class Survivor
{
    private int _calls;

    /// <summary>Where the actor runs, whether this instance is a restart, and how many calls this instance served.</summary>
    public (string Node, bool Reconstructed, int Calls) Describe() =>
        (Ray.GetRuntimeContext().NodeId.ToString(), Ray.GetRuntimeContext().WasCurrentActorReconstructed, ++_calls);

    public string SlowNode(int ms)
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
        TimeSpan? firstOnHead = null;
        var pending = refs.Where(r => !first.Ready.Contains(r)).ToList();
        foreach (var r in first.Ready) nodes.Add(r.Get(Timeout));
        while (pending.Count > 0)
        {
            var (ready, rest) = Ray.Wait(pending, numReturns: 1, timeout: Timeout);
            Assert.NotEmpty(ready);
            foreach (var r in ready)
            {
                try
                {
                    string node = r.Get(Timeout);
                    nodes.Add(node);
                    if (node == cluster.Head.NodeId.ToString()) firstOnHead ??= clock.Elapsed;
                }
                catch (RayException e) { failures.Add(e); }
            }
            pending = [.. rest];
        }
        output.WriteLine($"health checks every {cluster.Config.HealthCheckPeriod.TotalSeconds} s, dead after {cluster.Config.HealthCheckFailureThreshold} missed; " +
            $"first result from the head {firstOnHead?.TotalSeconds:0.00} s after the node was killed");
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

    [Fact]
    public void An_actor_on_a_node_that_dies_restarts_elsewhere_and_its_calls_in_flight_are_resent()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2 });
        var doomed = cluster.AddNode(numCpus: 2);
        cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        var actor = Survivor.Remote.WithOptions(new ActorOptions
        {
            Name = "survivor", Lifetime = ActorLifetime.Detached, MaxRestarts = 1, MaxTaskRetries = 2,
            SchedulingStrategy = new NodeAffinitySchedulingStrategy(doomed.NodeId, soft: true),
        }).Create();
        var before = actor.Describe().Get(Timeout);
        Assert.Equal(doomed.NodeId.ToString(), before.Node);
        Assert.False(before.Reconstructed);
        var inFlight = actor.SlowNode(5_000);

        var clock = Stopwatch.StartNew();
        cluster.RemoveNode(doomed, graceful: false);

        // The call in flight is resent to the restarted instance, on the node left.
        Assert.Equal(cluster.Head.NodeId.ToString(), inFlight.Get(Timeout));
        output.WriteLine($"the call in flight was answered by the restarted actor {clock.Elapsed.TotalSeconds:0.00} s after its node was killed");
        var after = actor.Describe().Get(Timeout);
        Assert.Equal(cluster.Head.NodeId.ToString(), after.Node);
        Assert.True(after.Reconstructed);
        // Named and detached, it keeps its name across the restart.
        Assert.Equal(cluster.Head.NodeId.ToString(), Ray.GetActor<Survivor>("survivor").Describe().Get(Timeout).Node);
        Ray.Kill(actor);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [Fact]
    public void A_task_on_a_node_that_stops_answering_is_retried_as_soon_as_the_node_is_declared_dead()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2 });
        var frozen = cluster.AddNode(numCpus: 2);
        cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        var board = PidBoard.Remote.WithOptions(new ActorOptions
            { SchedulingStrategy = new NodeAffinitySchedulingStrategy(cluster.Head.NodeId) }).Create();
        Assert.Equal(0, board.Read().Get(Timeout));
        var task = Sleepy.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(frozen.NodeId, soft: true) })
            .PostPidThenNode(board, 3_000);
        int workerPid = 0;
        ThreeNodeTests.WaitUntil(() => (workerPid = board.Read().Get(Timeout)) != 0);
        // SIGSTOP: the node's raylet and the task's worker stop answering without closing a connection, as behind a
        // network partition. Nothing breaks on the driver's side; the GCS's health checks notice the silent raylet.
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, kill(frozen.ProcessId, 19));
        Assert.Equal(0, kill(workerPid, 19));
        try
        {
            // gRPC keepalive alone would take about 40 s to give up on the stopped worker; the node's death, published by
            // the GCS, breaks the connection as soon as the node is declared dead.
            Assert.Equal(cluster.Head.NodeId.ToString(), task.Get(TimeSpan.FromSeconds(25)));
            output.WriteLine($"the task was retried and finished on the head {clock.Elapsed.TotalSeconds:0.00} s after its node froze " +
                $"(health checks every {cluster.Config.HealthCheckPeriod.TotalSeconds} s, dead after {cluster.Config.HealthCheckFailureThreshold} missed)");
        }
        finally
        {
            kill(workerPid, 9);
            kill(frozen.ProcessId, 9);
        }
    }
}

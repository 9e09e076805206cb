using System.Diagnostics;
using RaySharp.Core.Rpc;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

/// <summary>A running total that must survive a GCS restart.</summary>
[RayRemote]
public partial class Accumulator
{
    private int _total;

    public int Add(int amount) => _total += amount;

    public string Node() => Ray.GetRuntimeContext().NodeId.ToString();
}

public static partial class GcsOutage
{
    /// <summary>Sleeps, then squares.</summary>
    [RayRemote]
    public static int SlowSquare(int x, int ms)
    {
        Thread.Sleep(ms);
        return x * x;
    }

    /// <summary>Where it ran.</summary>
    [RayRemote]
    public static string Node() => Ray.GetRuntimeContext().NodeId.ToString();
}

/// <summary>The GCS in its own process over Redis dies and restarts while the cluster keeps working (issue 12, item 4).</summary>
public sealed class GcsFaultToleranceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public void Actors_and_tasks_keep_working_while_the_GCS_is_down_and_the_restarted_GCS_knows_the_cluster()
    {
        using var redis = RedisServer.Start();
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2, GcsStorage = redis.Address });
        Assert.NotNull(cluster.GcsProcessId);
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address, Namespace = "gcs-ft" });
        var firstJob = Ray.GetRuntimeContext().JobId;

        var tally = Accumulator.Remote.WithOptions(new ActorOptions { Name = "tally", Lifetime = ActorLifetime.Detached }).Create();
        Assert.Equal(1, tally.Add(1).Get(Timeout));
        Assert.Equal(4, GcsOutage.Remote.SlowSquare(2, 0).Get(Timeout)); // a warm worker for the task submitted during the outage
        using var stored = Ray.Put(Enumerable.Range(0, 100_000).ToArray()); // in the object store (not inlined)
        var running = GcsOutage.Remote.SlowSquare(7, 3_000);

        var clock = Stopwatch.StartNew();
        cluster.KillGcs();
        // Actor calls go worker to worker, and the task's result comes back from its worker: no GCS needed.
        Assert.Equal(3, tally.Add(2).Get(Timeout));
        Assert.Equal(49, running.Get(Timeout));
        // Objects stay readable, and a task submitted now runs (the raylet leases it a worker without the GCS).
        Assert.Equal(99_999, stored.Get(Timeout)[^1]);
        Assert.Equal(9, GcsOutage.Remote.SlowSquare(3, 0).Get(Timeout));
        output.WriteLine($"the actor answered and the task finished {clock.Elapsed.TotalSeconds:0.00} s after the GCS was killed");

        cluster.RestartGcs();
        output.WriteLine($"the GCS was back {clock.Elapsed.TotalSeconds:0.00} s after it was killed");
        // The restarted GCS reloaded the named actor (alive, on its worker) and the nodes.
        Assert.Equal(6, Ray.GetActor<Accumulator>("tally").Add(3).Get(Timeout));
        Assert.Equal(10, tally.Add(4).Get(Timeout));
        // New actors and tasks are scheduled by the new GCS and the raylets it reloaded.
        var fresh = Accumulator.Remote.Create();
        Assert.Equal(5, fresh.Add(5).Get(Timeout));
        Assert.Equal(16, GcsOutage.Remote.SlowSquare(4, 0).Get(Timeout));
        // Job IDs come from the stored counter: none is handed out twice.
        var next = new GcsClient(cluster.Address, cluster.Config).GetNextJobId();
        Assert.True(next.Value > firstJob.Value, $"job {next} after a restart must not reuse {firstJob} or earlier");
        // A node joins the restarted GCS, and work reaches it.
        var added = cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["after_restart"] = 1 });
        cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
        Assert.Equal(added.NodeId.ToString(),
            GcsOutage.Remote.WithOptions(new TaskOptions { Resources = new Dictionary<string, double> { ["after_restart"] = 1 } }).Node().Get(Timeout));
        Ray.Kill(tally);
    }

    [Fact]
    public void A_driver_creating_an_actor_while_the_GCS_is_down_waits_and_succeeds_when_it_is_back()
    {
        using var redis = RedisServer.Start();
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2, GcsStorage = redis.Address });
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        Assert.Equal(1, Accumulator.Remote.Create().Add(1).Get(Timeout));

        cluster.KillGcs();
        var creation = Task.Run(() =>
        {
            var actor = Accumulator.Remote.Create();
            return actor.Add(41).Get(Timeout);
        });
        // The creation waits for the GCS rather than failing.
        Assert.False(creation.Wait(TimeSpan.FromSeconds(3)), "the actor was created while the GCS was down");
        cluster.RestartGcs();
        Assert.True(creation.Wait(Timeout), "the actor creation did not finish after the GCS came back");
        Assert.Equal(41, creation.Result);
    }

    [Fact]
    public void Calls_to_a_GCS_that_stays_down_fail_after_the_reconnect_timeout_with_a_clear_error()
    {
        using var redis = RedisServer.Start();
        using var cluster = TestCluster.Start(new TestClusterOptions { GcsStorage = redis.Address });
        var client = new GcsClient(cluster.Address, cluster.Config with { GcsRpcServerReconnectTimeout = TimeSpan.FromSeconds(2) });
        Assert.True(client.GetAllNodes().FaultTolerant);
        cluster.KillGcs();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<RayException>(() => client.GetAllJobs());
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(30));
        Assert.Contains(cluster.Address, e.Message);
        Assert.Contains("did not answer", e.Message);
        Assert.Contains("gcs_rpc_server_reconnect_timeout_s", e.Message);
    }

    [Fact]
    public void Without_external_storage_the_GCS_cannot_be_killed_and_its_clients_fail_fast_when_it_is_gone()
    {
        using var cluster = TestCluster.Start();
        Assert.Null(cluster.GcsProcessId);
        var e = Assert.Throws<NotSupportedException>(cluster.KillGcs);
        Assert.Contains("GcsStorage", e.Message);
        Assert.Throws<NotSupportedException>(cluster.RestartGcs);

        var client = new GcsClient(cluster.Address, cluster.Config);
        Assert.False(client.GetAllNodes().FaultTolerant);
        cluster.Head.Process.Kill(entireProcessTree: true);
        cluster.Head.Process.WaitForExit(10_000);
        var clock = Stopwatch.StartNew();
        Assert.Throws<RayException>(() => client.GetAllJobs());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the call took {clock.Elapsed.TotalSeconds:0.0} s to fail");
    }
}

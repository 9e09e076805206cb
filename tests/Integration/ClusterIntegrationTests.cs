using System.Diagnostics;
using RaySharp.Integration.Driver;
using RaySharp.Testing;
using Xunit;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace RaySharp.Integration;

/// <summary>A 3-node cluster shared by the tests that do not change its shape: the head with 1 CPU, node A with 2
/// CPUs and the custom resource "a", node B with 2 CPUs.</summary>
public sealed class ThreeNodeCluster : IDisposable
{
    public ThreeNodeCluster()
    {
        Cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        try
        {
            A = Cluster.AddNode(numCpus: 2, resources: new Dictionary<string, double> { ["a"] = 1 });
            B = Cluster.AddNode(numCpus: 2);
            Cluster.WaitForNodes(3, TimeSpan.FromSeconds(30));
        }
        catch
        {
            Cluster.Dispose();
            throw;
        }
    }

    public TestCluster Cluster { get; }
    public TestNode A { get; }
    public TestNode B { get; }

    public void Dispose() => Cluster.Dispose();
}

/// <summary>A driver killed mid-job, on a 3-node cluster of its own (see <see cref="ThreeNodeTests"/>).</summary>
public sealed class DriverKilledTests(ThreeNodeCluster fixture, Xunit.Abstractions.ITestOutputHelper output)
    : ThreeNodeDriverTests(fixture, output), IClassFixture<ThreeNodeCluster>
{
    [Fact]
    public void A_driver_killed_mid_job_has_its_job_finished_its_actors_killed_and_its_cpus_returned() => DriverKilledMidJob(terminate: false);

    [Fact]
    public void A_driver_sent_SIGTERM_mid_job_exits_and_gives_everything_back() => DriverKilledMidJob(terminate: true);
}

/// <summary>A driver that shuts down with tasks running, on a 3-node cluster of its own.</summary>
public sealed class DriverShutdownTests(ThreeNodeCluster fixture, Xunit.Abstractions.ITestOutputHelper output)
    : ThreeNodeDriverTests(fixture, output), IClassFixture<ThreeNodeCluster>
{
    [Fact]
    public void A_driver_that_shuts_down_with_tasks_still_running_gives_their_cpus_back() => DriverShutsDownBusy();
}

/// <summary>A driver of a 3-node cluster, with the helpers its tests share.</summary>
public abstract class ThreeNodeDriverTests : IDisposable
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    protected readonly ThreeNodeCluster _fixture;
    private readonly RayContext _ray;
    protected readonly Xunit.Abstractions.ITestOutputHelper _output;

    protected ThreeNodeDriverTests(ThreeNodeCluster fixture, Xunit.Abstractions.ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
        _ray = Ray.Init(new RayOptions { Address = fixture.Cluster.Address });
    }

    public void Dispose()
    {
        _ray.Dispose();
        GC.SuppressFinalize(this);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <param name="terminate">SIGTERM (as <c>kill</c> or a container stop sends) instead of SIGKILL: the driver must
    /// exit on its own, not keep running with its RPC server stopped.</param>
    protected void DriverKilledMidJob(bool terminate)
    {
        string name = "held-" + Guid.NewGuid().ToString("N")[..8];
        var gcs = new Core.Rpc.GcsClient(_fixture.Cluster.Address, _fixture.Cluster.Config);
        double totalCpus = Ray.ClusterResources()["CPU"];
        var psi = new ProcessStartInfo(Core.Raylet.ProcessWorkerLauncher.DotnetHost()) { RedirectStandardOutput = true };
        foreach (var a in (string[])["exec", Path.Combine(AppContext.BaseDirectory, "RaySharp.Integration.Driver.dll"), _fixture.Cluster.Address, "hold", name])
            psi.ArgumentList.Add(a);
        using var driver = Process.Start(psi)!;
        try
        {
            string? line;
            do line = driver.StandardOutput.ReadLine();
            while (line is not null && !line.StartsWith("holding ", StringComparison.Ordinal));
            Assert.NotNull(line);
            var fields = line["holding ".Length..].Trim().Split(' ');
            string job = fields[0];
            var largeObject = ObjectId.Parse(fields[1]);
            _ = driver.StandardOutput.ReadToEndAsync();
            // Its sleepers hold the CPUs (one of the five may stay queued: see the shutdown-busy test).
            ThreeNodeTests.WaitUntil(() => Ray.AvailableResources().GetValueOrDefault("CPU") <= 1);

            var clock = Stopwatch.StartNew();
            if (terminate)
            {
                Assert.Equal(0, kill(driver.Id, 15));
                Assert.True(driver.WaitForExit(TimeSpan.FromSeconds(30)), "the driver is still running 30 s after SIGTERM");
            }
            else
            {
                driver.Kill(); // SIGKILL: no Shutdown, no goodbye
                driver.WaitForExit();
            }

            bool JobDead() => gcs.GetAllJobs().Single(j => j.JobId.ToString() == job).IsDead;
            bool ActorsDead() => gcs.GetAllActors().Where(a => a.JobId.ToString() == job).All(a => a.State == Core.ActorLifecycleState.Dead);
            double FreeCpus() => Ray.AvailableResources().GetValueOrDefault("CPU");
            bool ObjectFreed() => Core.Rpc.RpcChannels.Invoker(_fixture.Cluster.Head.RayletEndpoint, _fixture.Cluster.Config)
                .AsyncUnaryCall(Core.Raylet.NodeManagerService.GetStoreStatsMethod, null, new Grpc.Core.CallOptions(), Core.Rpc.Empty.Instance)
                .ResponseAsync.GetAwaiter().GetResult().Objects.All(o => o.ObjectId != largeObject);
            TimeSpan? jobAt = null, actorsAt = null, cpusAt = null, objectAt = null;
            while (clock.Elapsed < TimeSpan.FromSeconds(10) && (jobAt is null || actorsAt is null || cpusAt is null || objectAt is null))
            {
                if (jobAt is null && JobDead()) jobAt = clock.Elapsed;
                if (actorsAt is null && ActorsDead()) actorsAt = clock.Elapsed;
                if (cpusAt is null && FreeCpus() == totalCpus) cpusAt = clock.Elapsed;
                if (objectAt is null && ObjectFreed()) objectAt = clock.Elapsed;
                Thread.Sleep(20); // polling the cluster's tables from outside: there is no event to wait on
            }
            _output.WriteLine($"after {(terminate ? "SIGTERM" : "SIGKILL")} of the driver: job dead at {jobAt?.TotalSeconds:0.00} s, its actors dead at " +
                $"{actorsAt?.TotalSeconds:0.00} s, all {totalCpus} CPUs free at {cpusAt?.TotalSeconds:0.00} s, its large object freed at {objectAt?.TotalSeconds:0.00} s; at the end: job dead {JobDead()}, " +
                $"actors dead {ActorsDead()}, free CPUs {FreeCpus()}");
            Assert.True(jobAt is not null, "the killed driver's job is not finished after 10 s");
            Assert.True(actorsAt is not null, "the killed driver's non-detached actor is alive after 10 s");
            Assert.True(cpusAt is not null, $"after 10 s only {FreeCpus()} of {totalCpus} CPUs are free");
            Assert.True(objectAt is not null, "after 10 s the dead driver's object is still in the head's object store");
            Assert.Throws<ActorNotFoundException>(() => Ray.GetActor<Keeper>(name, "integration"));
        }
        finally
        {
            if (!driver.HasExited) driver.Kill(entireProcessTree: true);
        }
    }

    protected void DriverShutsDownBusy()
    {
        double totalCpus = Ray.ClusterResources()["CPU"];
        // Five one-CPU sleepers on 1 + 2 + 2 CPUs were seen to lease only four within a minute (a spillback gap, open).
        Assert.Matches("busy: [01] CPUs free", RunDriver("shutdown-busy", "-"));
        var clock = Stopwatch.StartNew();
        ThreeNodeTests.WaitUntil(() => Ray.AvailableResources().GetValueOrDefault("CPU") == totalCpus);
        _output.WriteLine($"all {totalCpus} CPUs free {clock.Elapsed.TotalSeconds:0.00} s after the busy driver shut down");
    }

    /// <summary>Runs the second driver program against the cluster and returns its output.</summary>
    protected string RunDriver(string command, string argument) => DriverProgram.Run(_fixture.Cluster.Address, command, argument);
}

/// <summary>The second driver program (tests/Integration.Driver), run as a process of its own.</summary>
internal static class DriverProgram
{
    /// <summary>Runs it against the cluster at <paramref name="address"/> and returns its output; fails the test when it
    /// fails or does not finish within 120 s.</summary>
    public static string Run(string address, string command, string argument)
    {
        string driver = Path.Combine(AppContext.BaseDirectory, "RaySharp.Integration.Driver.dll");
        var psi = new ProcessStartInfo(Core.Raylet.ProcessWorkerLauncher.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["exec", driver, address, command, argument]) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The driver ({command}) did not finish within 120 s.");
        }
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"the driver ({command}) failed with {process.ExitCode}: {stdout.Result} {stderr.Result}");
        return stdout.Result;
    }
}

/// <summary>The tests that share one 3-node cluster. The driver-death tests run on clusters of their own: after a
/// driver is SIGKILLed, later tests on the same cluster have seen one of three leases never granted (open).</summary>
public sealed class ThreeNodeTests(ThreeNodeCluster fixture, Xunit.Abstractions.ITestOutputHelper output)
    : ThreeNodeDriverTests(fixture, output), IClassFixture<ThreeNodeCluster>
{
    [Fact]
    public void The_driver_sees_every_node_and_their_resources()
    {
        Assert.Equal(3, Ray.Nodes().Count(n => n.Alive));
        Assert.Equal(5, Ray.ClusterResources()["CPU"]);
        Assert.Equal(1, Ray.ClusterResources()["a"]);
    }

    [Fact]
    public void Work_the_head_cannot_fit_spills_back_to_nodes_with_free_resources()
    {
        var gate = Gate.Remote.Create();
        Assert.Equal(0, gate.Waiting().Get(Timeout));
        var held = Enumerable.Range(0, 3).Select(_ => Probe.Remote.NodeWhenOpen(gate)).ToList();
        WaitUntil(() => gate.Waiting().Get(Timeout) == 3);
        _ = gate.Open();
        var nodes = Ray.Get(held, Timeout);
        // Three 1-CPU tasks at once on a 1-CPU head: at least two of them ran elsewhere.
        Assert.True(nodes.Count(n => n != _fixture.Cluster.Head.NodeId.ToString()) >= 2, string.Join(", ", nodes));
    }

    [Fact]
    public void A_custom_resource_only_one_node_has_places_work_on_that_node()
    {
        var needsA = new TaskOptions { NumCpus = 0, Resources = new Dictionary<string, double> { ["a"] = 1 } };
        var nodes = Ray.Get(Enumerable.Range(0, 4).Select(_ => Probe.Remote.WithOptions(needsA).Node()).ToList(), Timeout);
        Assert.All(nodes, n => Assert.Equal(_fixture.A.NodeId.ToString(), n));
        var actor = Where.Remote.WithOptions(new ActorOptions { Resources = new Dictionary<string, double> { ["a"] = 1 } }).Create();
        Assert.Equal(_fixture.A.NodeId.ToString(), actor.Node().Get(Timeout));
    }

    [Fact]
    public void Node_affinity_places_work_on_the_named_node()
    {
        var onB = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(_fixture.B.NodeId) };
        Assert.Equal(_fixture.B.NodeId.ToString(), Probe.Remote.WithOptions(onB).Node().Get(Timeout));
    }

    [Fact]
    public void Soft_affinity_to_an_unknown_node_or_one_that_cannot_fit_the_work_runs_it_elsewhere()
    {
        var unknown = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(NodeId.FromRandom(), soft: true) };
        Assert.Contains(Probe.Remote.WithOptions(unknown).Node().Get(Timeout), _fixture.Cluster.Nodes.Select(n => n.NodeId.ToString()));

        // B has no "a": soft affinity to B falls back to the only node that has it.
        var needsAOnB = new TaskOptions
        {
            NumCpus = 0, Resources = new Dictionary<string, double> { ["a"] = 1 },
            SchedulingStrategy = new NodeAffinitySchedulingStrategy(_fixture.B.NodeId, soft: true),
        };
        Assert.Equal(_fixture.A.NodeId.ToString(), Probe.Remote.WithOptions(needsAOnB).Node().Get(Timeout));
    }

    [Fact]
    public void Spread_places_tasks_submitted_together_on_distinct_nodes_round_robin()
    {
        var gate = Gate.Remote.Create();
        Assert.Equal(0, gate.Waiting().Get(Timeout));
        // A tenth of a CPU each: every node has room for all three, so the default policy would pack them on one node
        // and only Spread puts them on three.
        var spread = new TaskOptions { NumCpus = 0.1, SchedulingStrategy = SchedulingStrategy.Spread };
        // Held until all three run, so each needs a lease of its own.
        var held = Enumerable.Range(0, 3).Select(_ => Probe.Remote.WithOptions(spread).NodeWhenOpen(gate)).ToList();
        WaitUntil(() => gate.Waiting().Get(Timeout) == 3);
        _ = gate.Open();
        var nodes = Ray.Get(held, Timeout);
        Assert.Equal(3, nodes.Distinct().Count());
    }

    [Fact]
    public void One_hundred_blocking_gets_inside_a_task_on_a_one_cpu_node_do_not_deadlock()
    {
        string head = _fixture.Cluster.Head.NodeId.ToString();
        var onHead = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(_fixture.Cluster.Head.NodeId) };
        Assert.Equal(Enumerable.Range(0, 100).Sum(), Probe.Remote.WithOptions(onHead).BlockingFanOut(100, head).Get(TimeSpan.FromMinutes(3)));
    }

    [Fact]
    public void Env_vars_are_set_per_task_and_workers_are_not_shared_across_envs()
    {
        TaskOptions With(string value) => new() { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["RAYSHARP_IT_VAR"] = value } } };
        var one = Probe.Remote.WithOptions(With("one")).Env("RAYSHARP_IT_VAR").Get(Timeout);
        var two = Probe.Remote.WithOptions(With("two")).Env("RAYSHARP_IT_VAR").Get(Timeout);
        var none = Probe.Remote.Env("RAYSHARP_IT_VAR").Get(Timeout);
        var oneAgain = Probe.Remote.WithOptions(With("one")).Env("RAYSHARP_IT_VAR").Get(Timeout);
        Assert.Equal("one", one.Value);
        Assert.Equal("two", two.Value);
        Assert.Null(none.Value);
        Assert.Equal("one", oneAgain.Value);
        Assert.NotEqual(one.Pid, two.Pid);
        Assert.NotEqual(one.Pid, none.Pid);
    }

    [Fact]
    public void A_detached_actor_outlives_the_driver_that_created_it()
    {
        string name = "keeper-" + Guid.NewGuid().ToString("N")[..8];
        string stdout = RunDriver("create-detached", name);
        Assert.Contains($"created {name}: 1", stdout);

        var keeper = Ray.GetActor<Keeper>(name, "integration");
        Assert.Equal(2, keeper.Increment().Get(Timeout));
        Ray.Kill(keeper);
    }

    [Fact]
    public void Reading_an_object_whose_owner_exited_raises_OwnerDiedException()
    {
        string name = "holder-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Contains("lent: True", RunDriver("lend-and-exit", name));
        var holder = Ray.GetActor<Holder>(name, "integration");
        var e = Assert.Throws<OwnerDiedException>(() => holder.Read().Get(Timeout));
        // It names the owner and says what happened, in words.
        Assert.Contains("The owner of object", e.Message);
        Assert.Contains("on node", e.Message);
        Assert.DoesNotContain("Status(", e.Message);
        Assert.DoesNotContain("localhost:80", e.Message);
        Ray.Kill(holder);
    }

    [Fact]
    public void Worker_output_reaches_the_driver_prefixed_with_its_pid_ip_and_node()
    {
        string marker = "marker-" + Guid.NewGuid().ToString("N")[..8];
        string stdout = RunDriver("print", marker);
        var pid = stdout.Split('\n').Single(l => l.StartsWith("printed by pid ", StringComparison.Ordinal))["printed by pid ".Length..].Trim();
        Assert.Matches($@"\(pid={pid}, ip=127\.0\.0\.1, node=[0-9a-f]{{8}}\) {marker}", stdout);
    }




    internal static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The condition did not hold within the timeout.");
            Thread.Sleep(20); // polling actor state from outside: there is no event to wait on
        }
    }
}

/// <summary>Tests that change the cluster's shape start their own.</summary>
public sealed class NodeFailureTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void A_task_and_an_actor_on_a_removed_node_fail_with_system_errors()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        var doomed = cluster.AddNode(numCpus: 2, resources: new Dictionary<string, double> { ["c"] = 2 });
        cluster.AddNode(numCpus: 1);
        cluster.WaitForNodes(3, TimeSpan.FromSeconds(30));
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        var onC = new Dictionary<string, double> { ["c"] = 1 };
        var gate = Gate.Remote.Create();
        Assert.Equal(0, gate.Waiting().Get(Timeout));
        var task = Probe.Remote.WithOptions(new TaskOptions { Resources = onC, MaxRetries = 0 }).NodeWhenOpen(gate);
        var actor = Where.Remote.WithOptions(new ActorOptions { Resources = onC, NumCpus = 0 }).Create();
        Assert.Equal(doomed.NodeId.ToString(), actor.Node().Get(Timeout));
        ThreeNodeTests.WaitUntil(() => gate.Waiting().Get(Timeout) == 1);

        cluster.RemoveNode(doomed, graceful: false);
        // Submitted at once: the head's raylet most likely still believes the node alive and sends the lease to a
        // raylet that is gone (a few seconds later the node is dead and the request is refused as such).
        var pinned = Probe.Remote.WithOptions(new TaskOptions
        {
            SchedulingStrategy = new NodeAffinitySchedulingStrategy(doomed.NodeId), MaxRetries = 0,
        }).Node();

        var errors = new List<RayException>
        {
            Assert.Throws<NodeDiedException>(() => task.Get(Timeout)),
            Assert.Throws<ActorDiedException>(() => actor.Node().Get(Timeout)),
            Assert.ThrowsAny<RayException>(() => pinned.Get(Timeout)),
        };
        // Each says which node or process is gone and why, in words: never gRPC's raw status text or the placeholder
        // host of a Unix-socket channel.
        foreach (var e in errors)
        {
            Assert.DoesNotContain("Status(", e.Message);
            Assert.DoesNotContain("StatusCode=", e.Message);
            Assert.DoesNotContain("localhost:80", e.Message);
        }
        Assert.Contains(doomed.NodeId.ToString(), errors[0].Message);
        Assert.Contains(doomed.NodeId.ToString(), errors[1].Message);
        Assert.Contains(doomed.NodeId.ToString(), errors[2].Message);
        // The GCS notices the silent raylet and marks the node dead for everyone.
        ThreeNodeTests.WaitUntil(() => Ray.Nodes().Any(n => n.Id == doomed.NodeId && !n.Alive));
        Assert.Equal(2, Ray.Nodes().Count(n => n.Alive));

        // Soft affinity to the dead node runs the work elsewhere; hard affinity is refused, naming the node.
        var soft = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(doomed.NodeId, soft: true) };
        Assert.NotEqual(doomed.NodeId.ToString(), Probe.Remote.WithOptions(soft).Node().Get(Timeout));
        var hard = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(doomed.NodeId) };
        Assert.Contains(doomed.NodeId.ToString(), Assert.Throws<TaskUnschedulableException>(() => Probe.Remote.WithOptions(hard).Node().Get(Timeout)).Message);

        // Every process of the session logged to its own file: the GCS, the head's raylet, each other raylet by node
        // ID, and each worker (its runtime log beside its captured stdout and stderr).
        string logs = Path.Combine(cluster.SessionDir, "logs");
        Assert.True(File.Exists(Path.Combine(logs, "raysharp-gcs.log")), $"no raysharp-gcs.log in {logs}");
        Assert.True(File.Exists(Path.Combine(logs, "raylet.log")), $"no raylet.log in {logs}");
        Assert.True(File.Exists(Path.Combine(logs, $"raylet-{doomed.NodeId.ToString()[..8]}.log")), $"no log of the removed node's raylet in {logs}");
        var workerLogs = Directory.GetFiles(logs, "worker-*.log");
        Assert.NotEmpty(workerLogs);
        Assert.All(workerLogs, log => Assert.True(File.Exists(Path.ChangeExtension(log, ".err")), $"no .err beside {log}"));
    }

    [Fact]
    public void Workers_are_prestarted_up_to_the_cpu_count_and_idle_extras_are_stopped()
    {
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2 });
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        Assert.Equal(1, Probe.Remote.Leaf(1).Get(Timeout));
        ThreeNodeTests.WaitUntil(() => NumWorkers(cluster, cluster.Head) == 2);
        // Four tasks at once with half a CPU each need four workers; once idle, the pool shrinks back to the CPU count.
        var gate = Gate.Remote.Create();
        Assert.Equal(0, gate.Waiting().Get(Timeout)); // placed before the tasks take every CPU
        var halfCpu = new TaskOptions { NumCpus = 0.5 };
        var held = Enumerable.Range(0, 4).Select(_ => Probe.Remote.WithOptions(halfCpu).NodeWhenOpen(gate)).ToList();
        ThreeNodeTests.WaitUntil(() => gate.Waiting().Get(Timeout) == 4);
        Assert.True(NumWorkers(cluster, cluster.Head) >= 5); // four task workers and the gate actor's
        _ = gate.Open();
        Ray.Get(held, Timeout);
        Ray.Kill(gate);
        ThreeNodeTests.WaitUntil(() => NumWorkers(cluster, cluster.Head) == 2);
    }

    private static int NumWorkers(TestCluster cluster, TestNode node) =>
        Core.Rpc.RpcChannels.Invoker(node.RayletEndpoint, cluster.Config).BlockingUnaryCall(Core.Raylet.NodeManagerService.GetNodeStatsMethod, null,
            new Grpc.Core.CallOptions(), Core.Rpc.Empty.Instance).NumWorkers;

    [Fact]
    public void The_internal_kv_stores_values_by_namespace()
    {
        using var cluster = TestCluster.Start();
        var gcs = new Core.Rpc.GcsClient(cluster.Address, cluster.Config);
        Assert.True(gcs.KvPut("ns", "k", [1, 2], overwrite: false));
        Assert.False(gcs.KvPut("ns", "k", [3], overwrite: false));
        Assert.Equal([1, 2], gcs.KvGet("ns", "k"));
        Assert.Null(gcs.KvGet("other", "k"));
        Assert.Equal(["k"], gcs.KvKeys("ns", ""));
        Assert.True(gcs.KvDelete("ns", "k"));
    }
}

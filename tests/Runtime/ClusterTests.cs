using Xunit;

namespace RaySharp.Tests;

public sealed class ResourceTests : RayTest
{
    public ResourceTests() : base(new RayOptions
    {
        LocalMode = TestMode.Local, NumCpus = 2, NumGpus = 1, Resources = new Dictionary<string, double> { ["accelerator"] = 1 },
    }) { }

    [Fact]
    public void Cluster_resources_reflect_the_options()
    {
        var total = Ray.ClusterResources();
        Assert.Equal(2, total["CPU"]);
        Assert.Equal(1, total["GPU"]);
        Assert.Equal(1, total["accelerator"]);
        var node = Assert.Single(Ray.Nodes());
        Assert.True(node.Alive);
        Assert.Equal(2, node.Resources["CPU"]);
    }

    [Fact]
    public void Work_that_does_not_fit_waits_for_resources()
    {
        var gate = Gate.Remote.Create();
        var running = Tally.Remote.Create();
        // The actors need a CPU to be placed: let them start before the tasks take every CPU (in a cluster their
        // creation goes through the GCS and may be overtaken by the tasks' leases).
        Assert.Equal(0, gate.Waiting().Get(Timeout));
        Assert.Equal(0, running.Value().Get(Timeout));
        var twoCpus = new TaskOptions { NumCpus = 2 };
        var first = Tasks.Remote.WithOptions(twoCpus).Hold(gate, running);
        var second = Tasks.Remote.WithOptions(twoCpus).Hold(gate, running);
        ActorTests.WaitUntil(() => running.Value().Get(Timeout) == 1);
        Assert.Equal(0, Ray.AvailableResources().GetValueOrDefault("CPU")); // Ray omits resources with none available
        Assert.Empty(Ray.Wait(new[] { second }, timeout: TimeSpan.FromMilliseconds(100)).Ready);
        gate.Open(1);
        Assert.Equal([1, 1], Ray.Get(new[] { first, second }, Timeout));
        Assert.Equal(1, running.Max().Get(Timeout));
        ActorTests.WaitUntil(() => Ray.AvailableResources().GetValueOrDefault("CPU") == 2);
    }

    [Fact]
    public void Custom_resources_are_accounted_like_cpus()
    {
        var gate = Gate.Remote.Create();
        var running = Tally.Remote.Create();
        var needsAccelerator = new TaskOptions { NumCpus = 0, Resources = new Dictionary<string, double> { ["accelerator"] = 1 } };
        var a = Tasks.Remote.WithOptions(needsAccelerator).Hold(gate, running);
        var b = Tasks.Remote.WithOptions(needsAccelerator).Hold(gate, running);
        ActorTests.WaitUntil(() => running.Value().Get(Timeout) == 1);
        Assert.Equal(0, Ray.AvailableResources().GetValueOrDefault("accelerator"));
        gate.Open(2);
        Assert.Equal([2, 2], Ray.Get(new[] { a, b }, Timeout));
        Assert.Equal(1, running.Max().Get(Timeout));
    }

    [Fact]
    public void Infeasible_work_stays_pending()
    {
        var tooBig = Tasks.Remote.WithOptions(new TaskOptions { NumCpus = 8 }).Add(1, 1);
        Assert.Empty(Ray.Wait(new[] { tooBig }, timeout: TimeSpan.FromMilliseconds(200)).Ready);
        Ray.Cancel(tooBig);
        Assert.Throws<TaskCancelledException>(() => tooBig.Get(Timeout));
    }

    [Fact]
    public void Assigned_resources_are_visible_inside_the_task()
    {
        Assert.NotEqual("", Tasks.Remote.RuntimeTaskId().Get(Timeout));
        var ctx = Ray.GetRuntimeContext();
        Assert.Null(ctx.TaskId);
        Assert.Null(ctx.ActorId);
        Assert.Equal(Context.Namespace, ctx.Namespace);
        Assert.Equal(Context.JobId, ctx.JobId);
    }
}

public sealed class InitTests
{
    [Fact]
    public void Init_twice_throws_and_shutdown_allows_init_again()
    {
        using (var ray = Ray.Init(new RayOptions { LocalMode = TestMode.Local, NumCpus = 1, Namespace = "ns1" }))
        {
            Assert.True(Ray.IsInitialized);
            Assert.Equal("ns1", ray.Namespace);
            Assert.Throws<InvalidOperationException>(() => Ray.Init(new RayOptions { LocalMode = TestMode.Local }));
        }
        Assert.False(Ray.IsInitialized);
        Ray.Init(new RayOptions { LocalMode = TestMode.Local, NumCpus = 1 });
        Assert.Equal(2, Tasks.Remote.Add(1, 1).Get(TimeSpan.FromSeconds(30)));
        Ray.Shutdown();
        Assert.False(Ray.IsInitialized);
    }

    [Fact]
    public void Using_RaySharp_before_Init_says_what_to_do()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Tasks.Remote.Add(1, 2));
        Assert.Contains("Ray.Init()", e.Message);
    }

    [Fact]
    public void Shutdown_fails_work_still_in_flight()
    {
        var ray = Ray.Init(new RayOptions { LocalMode = TestMode.Local, NumCpus = 1 });
        var gate = Gate.Remote.Create();
        var waiting = gate.WaitOpen();
        ray.Dispose();
        Assert.ThrowsAny<RayException>(() => waiting.Get(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Ids_format_as_lowercase_hex_and_parse_back()
    {
        var node = NodeId.FromRandom();
        string hex = node.ToString();
        Assert.Equal(NodeId.Size * 2, hex.Length);
        Assert.Equal(hex.ToLowerInvariant(), hex);
        Assert.Equal(node, NodeId.Parse(hex));
        Assert.Equal(node, NodeId.Parse(hex.ToUpperInvariant()));
        var task = TaskId.ForNormalTask(new JobId(7));
        var obj = ObjectId.ForReturn(task, 2);
        Assert.Equal(obj, ObjectId.Parse(obj.ToString()));
        Assert.Equal(task, obj.TaskId);
        Assert.Equal(2, obj.Index);
        Assert.Equal(new JobId(7), obj.TaskId.JobId);
        var e = Assert.Throws<FormatException>(() => ActorId.Parse("xyz"));
        Assert.Contains("ActorId", e.Message);
        Assert.False(WorkerId.TryParse("00", out _));
        Assert.True(default(JobId).IsNil);
    }
}

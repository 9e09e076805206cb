using Xunit;

namespace RaySharp.Tests;

public static partial class GroupTasks
{
    /// <summary>The resources the task was given, sorted by name.</summary>
    [RayRemote]
    public static string[] Assigned() => [.. Ray.GetRuntimeContext().AssignedResources.Keys.Order(StringComparer.Ordinal)];

    /// <summary>What a task submitted from inside (with no options of its own) was given.</summary>
    [RayRemote]
    public static string[] ChildAssigned() => GroupTasks.Remote.Assigned().Get();

    /// <summary>Holds its slot until the gate opens (awaiting, so its CPU is not lent out as a blocking Get would).</summary>
    [RayRemote]
    public static async Task<int> HoldUntilOpen(ActorHandle<Gate> gate, ActorHandle<Tally> started)
    {
        await started.Add(1);
        return await gate.WaitOpen();
    }
}

[RayRemote]
public partial class GroupMember
{
    public string[] Assigned() => [.. Ray.GetRuntimeContext().AssignedResources.Keys.Order(StringComparer.Ordinal)];

    public string[] ChildAssigned() => GroupTasks.Remote.Assigned().Get();

    public int Ping() => 1;
}

[RayRemote]
public partial class GroupOwner
{
    /// <summary>Creates a group from inside the actor: the actor is its creator.</summary>
    public string CreateGroup(string name) => Ray.CreatePlacementGroup([new Dictionary<string, double> { ["CPU"] = 1 }], name: name).Id.ToString();
}

/// <summary>Placement groups through the public API, in local mode (one node) and on the embedded cluster: creation and
/// readiness, work scheduled into bundles, capture of child tasks, names, atomicity, removal and bad requests.</summary>
public sealed class PlacementGroupTests : RayTest
{
    private static IReadOnlyDictionary<string, double> Cpus(double n) => new Dictionary<string, double> { ["CPU"] = n };

    [Fact]
    public void A_group_becomes_ready_and_work_scheduled_into_a_bundle_runs_in_its_reservation()
    {
        var pg = Ray.CreatePlacementGroup([Cpus(1), Cpus(1)], PlacementStrategy.Pack);
        Assert.True(pg.Wait(Timeout));
        Assert.Equal(2, pg.Bundles.Count);
        Assert.Equal(PlacementStrategy.Pack, pg.Strategy);

        var inBundle1 = GroupTasks.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, bundleIndex: 1) })
            .Assigned().Get(Timeout);
        Assert.Contains($"CPU_group_1_{pg.Id}", inBundle1);
        Assert.DoesNotContain("CPU", inBundle1);

        var anyBundle = GroupTasks.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg) })
            .Assigned().Get(Timeout);
        Assert.Contains($"CPU_group_{pg.Id}", anyBundle);

        var actor = GroupMember.Remote.WithOptions(new ActorOptions { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, 0) }).Create();
        Assert.Contains($"bundle_group_0_{pg.Id}", actor.Assigned().Get(Timeout));
        Ray.RemovePlacementGroup(pg);
    }

    [Fact]
    public async Task ReadyAsync_completes_and_the_bundle_resources_show_in_the_cluster_resources()
    {
        var pg = Ray.CreatePlacementGroup([Cpus(2)], PlacementStrategy.StrictPack);
        await pg.ReadyAsync().WaitAsync(Timeout);
        // The group's resources reach the cluster view with the raylet's next report.
        var deadline = DateTime.UtcNow + Timeout;
        while (!Ray.ClusterResources().ContainsKey($"CPU_group_{pg.Id}") && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(2, Ray.ClusterResources()[$"CPU_group_{pg.Id}"]);
        Assert.Equal(2, Ray.ClusterResources()[$"CPU_group_0_{pg.Id}"]);
        Ray.RemovePlacementGroup(pg);
    }

    [Fact]
    public void Child_tasks_join_the_group_only_when_it_captures_them()
    {
        var pg = Ray.CreatePlacementGroup([Cpus(2)]);
        Assert.True(pg.Wait(Timeout));
        var capturing = GroupTasks.Remote.WithOptions(new TaskOptions
            { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, 0, captureChildTasks: true), NumCpus = 1 }).ChildAssigned().Get(Timeout);
        Assert.Contains($"CPU_group_{pg.Id}", capturing);
        var notCapturing = GroupTasks.Remote.WithOptions(new TaskOptions
            { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, 0), NumCpus = 1 }).ChildAssigned().Get(Timeout);
        Assert.Contains("CPU", notCapturing);
        Assert.DoesNotContain(notCapturing, r => r.Contains("_group_", StringComparison.Ordinal));

        // An actor scheduled with capture places the tasks it submits in the group too.
        var actor = GroupMember.Remote.WithOptions(new ActorOptions
            { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, captureChildTasks: true) }).Create();
        Assert.Contains($"CPU_group_{pg.Id}", actor.ChildAssigned().Get(Timeout));
        Ray.RemovePlacementGroup(pg);
    }

    [Fact]
    public void A_named_group_is_found_by_name_and_its_name_is_taken_while_it_lives()
    {
        var pg = Ray.CreatePlacementGroup([Cpus(1)], PlacementStrategy.Spread, name: "workers");
        var found = Ray.GetPlacementGroup("workers");
        Assert.Equal(pg.Id, found.Id);
        Assert.Equal(1, found.Bundles[0]["CPU"]);
        Assert.Equal(PlacementStrategy.Spread, found.Strategy);
        Assert.True(found.Wait(Timeout));

        var e = Assert.Throws<ArgumentException>(() => Ray.CreatePlacementGroup([Cpus(1)], name: "workers"));
        Assert.Contains("workers", e.Message);
        Ray.RemovePlacementGroup(pg);
        Assert.Throws<ArgumentException>(() => Ray.GetPlacementGroup("workers"));
        // Removed, the name is free again.
        var again = Ray.CreatePlacementGroup([Cpus(1)], name: "workers");
        Assert.NotEqual(pg.Id, again.Id);
        Ray.RemovePlacementGroup(again);
    }

    [Fact]
    public void A_group_that_cannot_fit_waits_and_reserves_nothing()
    {
        // 5 CPUs on one node of 4: infeasible, so it stays pending (no exception) and holds none of the 4.
        var tooBig = Ray.CreatePlacementGroup([Cpus(2), Cpus(3)], PlacementStrategy.StrictPack);
        Assert.False(tooBig.Wait(TimeSpan.FromMilliseconds(300)));
        var all = Ray.CreatePlacementGroup([Cpus(4)]);
        Assert.True(all.Wait(Timeout));
        Assert.False(tooBig.Wait(TimeSpan.Zero));
        Ray.RemovePlacementGroup(all);
        Ray.RemovePlacementGroup(tooBig);
        Assert.Throws<PlacementGroupSchedulingException>(() => tooBig.Wait(Timeout));
    }

    [Fact]
    public void A_group_waits_for_resources_in_use_and_is_created_when_they_are_returned()
    {
        var first = Ray.CreatePlacementGroup([Cpus(3)]);
        Assert.True(first.Wait(Timeout));
        var second = Ray.CreatePlacementGroup([Cpus(2)]);
        Assert.False(second.Wait(TimeSpan.FromMilliseconds(300)));
        Ray.RemovePlacementGroup(first);
        Assert.True(second.Wait(Timeout));
        Ray.RemovePlacementGroup(second);
    }

    [Fact]
    public void Removing_a_group_kills_its_actors_and_fails_its_running_and_queued_work()
    {
        var gate = Gate.Remote.Create();
        var started = Tally.Remote.Create();
        var pg = Ray.CreatePlacementGroup([Cpus(2)]);
        Assert.True(pg.Wait(Timeout));
        var strategy = new PlacementGroupSchedulingStrategy(pg, 0);
        // The actor holds one of the bundle's CPUs for its life.
        var actor = GroupMember.Remote.WithOptions(new ActorOptions { SchedulingStrategy = strategy, NumCpus = 1 }).Create();
        Assert.Equal(1, actor.Ping().Get(Timeout));
        // This task runs until the gate opens (waiting lends its CPU out, as any task blocked on an object does).
        var running = GroupTasks.Remote.WithOptions(new TaskOptions { SchedulingStrategy = strategy, NumCpus = 1 }).HoldUntilOpen(gate, started);
        var deadline = DateTime.UtcNow + Timeout;
        while (started.Value().Get(Timeout) == 0 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        // Two CPUs of the bundle are never free while the actor lives: this one queues.
        var inGroup = new TaskOptions { SchedulingStrategy = strategy, NumCpus = 2 };
        var queued = GroupTasks.Remote.WithOptions(inGroup).Assigned();
        Assert.Empty(Ray.Wait([queued], timeout: TimeSpan.FromMilliseconds(200)).Ready);

        Ray.RemovePlacementGroup(pg);

        var died = Assert.Throws<ActorDiedException>(() => actor.Ping().Get(Timeout));
        Assert.Contains("placement group", died.Message);
        Assert.Throws<PlacementGroupSchedulingException>(() => queued.Get(Timeout));
        var killed = Assert.ThrowsAny<RayException>(() => running.Get(Timeout));
        Assert.IsNotType<GetTimeoutException>(killed);
        // The CPU came back: work outside the group runs.
        Assert.Equal(3, Tasks.Remote.Add(1, 2).Get(Timeout));
        Assert.Throws<PlacementGroupSchedulingException>(() =>
            GroupTasks.Remote.WithOptions(inGroup).Assigned().Get(Timeout));
    }

    [Fact]
    public void Bad_requests_are_refused_at_the_call()
    {
        var pg = Ray.CreatePlacementGroup([Cpus(1), Cpus(1)]);
        // Indices RAY007 cannot see at compile time are checked at the call.
        int[] outOfRange = [2, -2];
        foreach (int index in outOfRange)
            Assert.Throws<ArgumentOutOfRangeException>(() => new PlacementGroupSchedulingStrategy(pg, bundleIndex: index));
        Assert.Throws<ArgumentException>(() => Ray.CreatePlacementGroup([Cpus(1)], name: " "));
        Assert.Throws<ArgumentException>(() => Ray.CreatePlacementGroup([new Dictionary<string, double> { [$"CPU_group_{pg.Id}"] = 1 }]));
        Assert.Throws<ArgumentException>(() => Ray.GetPlacementGroup("no-such-group"));
        Assert.Throws<ArgumentOutOfRangeException>(() => pg.Wait(TimeSpan.FromSeconds(-3)));
        Ray.RemovePlacementGroup(pg);
        // Removing twice is harmless.
        Ray.RemovePlacementGroup(pg);
    }

    [Fact]
    public void A_bad_placement_group_request_is_refused_at_the_call_naming_the_bundle()
    {
        Assert.Contains("at least one bundle", Assert.Throws<ArgumentException>(() => Ray.CreatePlacementGroup([])).Message);
        Assert.Contains("Bundle 1", Assert.Throws<ArgumentException>(() =>
            Ray.CreatePlacementGroup([Cpus(1), new Dictionary<string, double>()])).Message);
        foreach (double bad in (double[])[double.NaN, -1, 0, double.PositiveInfinity])
            Assert.Contains("Bundle 0", Assert.Throws<ArgumentException>(() => Ray.CreatePlacementGroup([Cpus(bad)])).Message);
    }

    [Fact]
    public void A_group_created_inside_an_actor_goes_when_the_actor_dies()
    {
        var owner = GroupOwner.Remote.Create();
        string id = owner.CreateGroup("actor-owned").Get(Timeout);
        var pg = Ray.GetPlacementGroup("actor-owned");
        Assert.Equal(id, pg.Id.ToString());
        Assert.True(pg.Wait(Timeout));
        Ray.Kill(owner);
        // The GCS removes it once it has the actor's death: from then on waiting for it fails.
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            try
            {
                pg.Wait(Timeout);
            }
            catch (PlacementGroupSchedulingException e)
            {
                Assert.Contains("removed", e.Message);
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the group outlived the actor that created it");
            Thread.Sleep(10);
        }
        Assert.Throws<ArgumentException>(() => Ray.GetPlacementGroup("actor-owned"));
    }
}

using MemoryPack;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>What every <see cref="IGcsTableStorage"/> does, whether it keeps the tables in memory or in Redis: each
/// table round-trips, KvPut's overwrite semantics, KvKeys by prefix in ordinal order, jobs and placement groups in
/// creation order, and an atomic job counter.</summary>
public abstract class GcsTableStorageContractTests : IDisposable
{
    private static uint s_nextJob = 7000;
    private readonly Lazy<IGcsTableStorage> _storage;

    protected GcsTableStorageContractTests() => _storage = new(() => CreateStorage());

    /// <summary>A new, empty storage (each test gets its own).</summary>
    private protected abstract IGcsTableStorage CreateStorage();

    private protected IGcsTableStorage Storage => _storage.Value;

    public virtual void Dispose()
    {
        if (_storage.IsValueCreated && _storage.Value is IDisposable d) d.Dispose();
        GC.SuppressFinalize(this);
    }

    // ---- Sample records ----

    internal static JobId NewJobId() => new(Interlocked.Increment(ref s_nextJob));

    internal static Address NewAddress(string endpoint) => new(WorkerId.FromRandom(), NodeId.FromRandom(), endpoint);

    internal static NodeRecord Node(bool alive = true) => new()
    {
        NodeId = NodeId.FromRandom(),
        RayletEndpoint = "127.0.0.1:1234",
        RayletSocket = "/tmp/raylet.sock",
        Total = new() { ["CPU"] = 4, ["GPU"] = 1, ["custom"] = 2.5 },
        Available = new() { ["CPU"] = 3 },
        Alive = alive,
        IsHead = true,
        ProcessId = 4242,
        DeathReason = alive ? null : "missed health checks",
    };

    internal static JobRecord Job(long startTimeMs, JobId? id = null) => new()
    {
        JobId = id ?? NewJobId(),
        Namespace = "ns",
        CodeSearchPath = "/app",
        Driver = NewAddress("driver"),
        DriverProcessId = 77,
        EnvVars = new() { ["A"] = "1" },
        StartTimeMs = startTimeMs,
    };

    internal static (ActorInfo Actor, WireTaskSpec CreationTask) Actor(string? name, ActorLifecycleState state = ActorLifecycleState.Alive)
    {
        var job = NewJobId();
        var id = ActorId.Of(job);
        var creation = new WireActorCreation
        {
            ActorId = id, ClassName = "Counter", Name = name, Namespace = "actors-ns", Lifetime = ActorLifetime.Detached,
            MaxRestarts = 3, MaxTaskRetries = 1, MaxConcurrency = 2,
        };
        var owner = NewAddress("owner");
        var task = new WireTaskSpec
        {
            TaskId = TaskId.ForActorCreation(id),
            Type = TaskType.ActorCreationTask,
            JobId = job,
            FunctionId = 99,
            FunctionName = "Counter..ctor",
            Args = [new WireArg(false, default, null, [1, 2, 3], [])],
            Owner = owner,
            Resources = new() { ["CPU"] = 1 },
            ActorId = id,
            ActorCreation = creation,
        };
        var info = new ActorInfo
        {
            ActorId = id, Creation = creation, State = state, Worker = NewAddress("worker"), Owner = owner, JobId = job, NumRestarts = 1,
            NodeId = NodeId.FromRandom(),
        };
        return (info, task);
    }

    internal static PlacementGroupTableData Group(long createTimeMs, PlacementGroupState state = PlacementGroupState.Created)
    {
        var job = NewJobId();
        return new PlacementGroupTableData
        {
            Spec = new WirePlacementGroupSpec
            {
                Id = PlacementGroupId.Of(job),
                Bundles = [new() { ["CPU"] = 1 }, new() { ["CPU"] = 2, ["GPU"] = 1 }],
                Strategy = PlacementStrategy.Spread,
                Name = "pg",
                Namespace = "ns",
                JobId = job,
                Lifetime = PlacementGroupLifetime.Detached,
                Creator = NewAddress("creator"),
            },
            State = state,
            BundleNodes = [NodeId.FromRandom(), NodeId.Nil],
            CreateTimeMs = createTimeMs,
        };
    }

    /// <summary>Records hold dictionaries and arrays (compared by reference): compare their MemoryPack bytes.</summary>
    internal static void AssertSame<T>(T expected, T actual) =>
        Assert.Equal(MemoryPackSerializer.Serialize(expected), MemoryPackSerializer.Serialize(actual));

    // ---- The contract ----

    [Fact]
    public void Nodes_round_trip_and_a_put_replaces_the_node()
    {
        var a = Node();
        var b = Node();
        Storage.PutNode(a);
        Storage.PutNode(b);
        var deadA = a with { Alive = false, DeathReason = "gone", Available = [] };
        Storage.PutNode(deadA);

        var nodes = Storage.GetNodes().ToDictionary(n => n.NodeId);
        Assert.Equal(2, nodes.Count);
        AssertSame(deadA, nodes[a.NodeId]);
        AssertSame(b, nodes[b.NodeId]);
    }

    [Fact]
    public void Jobs_round_trip_ordered_by_start_time()
    {
        var late = Job(300);
        var early = Job(100);
        var middle = Job(200);
        Storage.PutJob(late);
        Storage.PutJob(early);
        Storage.PutJob(middle);
        var ended = middle with { IsDead = true, EndTimeMs = 250 };
        Storage.PutJob(ended);

        var jobs = Storage.GetJobs();
        Assert.Equal([early.JobId, middle.JobId, late.JobId], jobs.Select(j => j.JobId));
        AssertSame(ended, jobs[1]);
        AssertSame(early, Storage.GetJob(early.JobId));
        Assert.Null(Storage.GetJob(NewJobId()));
    }

    [Fact]
    public void Actors_round_trip_with_creation_task_name_and_namespace()
    {
        var named = Actor("counter");
        var anonymous = Actor(null, ActorLifecycleState.PendingCreation);
        Storage.PutActor(named.Actor, named.CreationTask);
        Storage.PutActor(anonymous.Actor, anonymous.CreationTask);
        var restarting = named.Actor with { State = ActorLifecycleState.Restarting, NumRestarts = 2, Worker = null };
        Storage.PutActor(restarting, named.CreationTask);

        var actors = Storage.GetActors().ToDictionary(a => a.Actor.ActorId);
        Assert.Equal(2, actors.Count);
        AssertSame(restarting, actors[named.Actor.ActorId].Actor);
        AssertSame(named.CreationTask, actors[named.Actor.ActorId].CreationTask);
        AssertSame(anonymous.Actor, actors[anonymous.Actor.ActorId].Actor);
        // A restarted GCS rebuilds its named-actor index from these.
        Assert.Equal(("counter", "actors-ns"), (actors[named.Actor.ActorId].Actor.Creation.Name, actors[named.Actor.ActorId].Actor.Creation.Namespace));
        Assert.Null(actors[anonymous.Actor.ActorId].Actor.Creation.Name);
    }

    [Fact]
    public void Placement_groups_round_trip_in_creation_order_and_delete()
    {
        var second = Group(20);
        var first = Group(10, PlacementGroupState.Pending);
        var third = Group(30);
        Storage.PutPlacementGroup(second);
        Storage.PutPlacementGroup(first);
        Storage.PutPlacementGroup(third);
        var removed = second with { State = PlacementGroupState.Removed, RemoveTimeMs = 25 };
        Storage.PutPlacementGroup(removed);

        var groups = Storage.GetPlacementGroups();
        Assert.Equal([first.Spec.Id, second.Spec.Id, third.Spec.Id], groups.Select(g => g.Spec.Id));
        AssertSame(first, groups[0]);
        AssertSame(removed, groups[1]);

        Storage.DeletePlacementGroup(first.Spec.Id);
        Storage.DeletePlacementGroup(first.Spec.Id);
        Storage.DeletePlacementGroup(Group(0).Spec.Id);
        Assert.Equal([second.Spec.Id, third.Spec.Id], Storage.GetPlacementGroups().Select(g => g.Spec.Id));
    }

    [Fact]
    public void KvPut_without_overwrite_keeps_the_first_value_and_with_overwrite_replaces_it()
    {
        Assert.True(Storage.KvPut("ns", "k", [1], overwrite: false));
        Assert.False(Storage.KvPut("ns", "k", [2], overwrite: false));
        Assert.Equal([1], Storage.KvGet("ns", "k"));

        Assert.False(Storage.KvPut("ns", "k", [3], overwrite: true)); // not a new key
        Assert.Equal([3], Storage.KvGet("ns", "k"));
        Assert.True(Storage.KvPut("ns", "k2", [4], overwrite: true)); // a new key
        Assert.Equal([4], Storage.KvGet("ns", "k2"));

        Assert.True(Storage.KvPut("ns", "empty", [], overwrite: false));
        Assert.Equal([], Assert.IsType<byte[]>(Storage.KvGet("ns", "empty")));
        Assert.Null(Storage.KvGet("ns", "missing"));
    }

    [Fact]
    public void KvPut_without_overwrite_has_one_winner_under_contention()
    {
        int winners = 0;
        Parallel.For(0, 32, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            if (Storage.KvPut("race", "key", [(byte)i], overwrite: false)) Interlocked.Increment(ref winners);
        });
        Assert.Equal(1, winners);
        Assert.Single(Storage.KvGet("race", "key")!);
    }

    [Fact]
    public void KvDelete_and_namespaces_are_separate()
    {
        Storage.KvPut("a", "k", [1], overwrite: true);
        Storage.KvPut("b", "k", [2], overwrite: true);
        Assert.Equal([1], Storage.KvGet("a", "k"));
        Assert.Equal([2], Storage.KvGet("b", "k"));

        Assert.True(Storage.KvDelete("a", "k"));
        Assert.False(Storage.KvDelete("a", "k"));
        Assert.Null(Storage.KvGet("a", "k"));
        Assert.Equal([2], Storage.KvGet("b", "k"));
        Assert.Empty(Storage.KvKeys("a", ""));
    }

    [Fact]
    public void KvKeys_lists_a_namespace_by_prefix_in_ordinal_order()
    {
        foreach (string key in new[] { "fn/2", "fn/10", "actor/x", "fn/1", "fn", "Fn/0", "fné/3" })
            Storage.KvPut("funcs", key, [0], overwrite: true);
        Storage.KvPut("other", "fn/0", [0], overwrite: true);

        Assert.Equal(["fn/1", "fn/10", "fn/2"], Storage.KvKeys("funcs", "fn/"));
        Assert.Equal(["fn", "fn/1", "fn/10", "fn/2", "fné/3"], Storage.KvKeys("funcs", "fn"));
        Assert.Equal(["Fn/0", "actor/x", "fn", "fn/1", "fn/10", "fn/2", "fné/3"], Storage.KvKeys("funcs", ""));
        Assert.Empty(Storage.KvKeys("funcs", "zzz"));
        Assert.Empty(Storage.KvKeys("nothing-here", ""));
    }

    [Fact]
    public void Job_counter_counts_from_one_atomically()
    {
        Assert.Equal(1, Storage.NextJobCounter());
        var seen = new System.Collections.Concurrent.ConcurrentBag<long>();
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ => seen.Add(Storage.NextJobCounter()));
        Assert.Equal(Enumerable.Range(2, 200).Select(i => (long)i), seen.Order());
        Assert.Equal(202, Storage.NextJobCounter());
    }
}

/// <summary>The in-memory storage against the <see cref="GcsTableStorageContractTests">contract</see>.</summary>
public sealed class InMemoryGcsTableStorageTests : GcsTableStorageContractTests
{
    private protected override IGcsTableStorage CreateStorage() => new InMemoryGcsTableStorage();
}

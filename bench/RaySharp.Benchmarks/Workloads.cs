namespace RaySharp.Benchmarks;

/// <summary>A workload: its name, how many operations one call is, and how to set it up on a running cluster.</summary>
internal sealed record Workload(string Name, int OpsPerCall, Func<PreparedWorkload> Prepare)
{
    /// <summary>An operation that is several calls between processes (a placement group's create, wait and removal):
    /// its row is also shown as how many sequential raw gRPC round trips one operation costs.</summary>
    public bool InRoundTrips { get; init; }

    /// <summary>The size of each call's argument, when the row is compared with a raw gRPC call carrying as much; 0 for
    /// the rows of two-byte calls.</summary>
    public int ArgumentBytes { get; init; }
}

/// <summary>A workload ready to call, holding the actors it created; disposing kills them so the next workload
/// does not share the two cores with idle actor processes.</summary>
internal sealed class PreparedWorkload(Func<ValueTask> call, params ActorHandle[] actors) : IDisposable
{
    public Func<ValueTask> Call { get; } = call;

    /// <summary>Objects the workload keeps alive while it is measured; released with the actors, so the next
    /// workload starts with an empty reference table.</summary>
    public IReadOnlyList<IDisposable> Held { get; init; } = [];

    public void Dispose()
    {
        foreach (var held in Held) held.Dispose();
        foreach (var actor in actors)
        {
            Ray.Kill(actor);
            actor.Dispose();
        }
    }
}

/// <summary>
/// The workloads of Ray's <c>ray microbenchmark</c> (python/ray/_private/ray_perf.py) that RaySharp runs, with
/// Ray's names and shapes: "sync" waits for each call before the next, "async" submits a batch of 1000 and
/// then waits for all of it; actors hold no CPU; the fan-out workloads use half the machine's cores as the
/// number of server actors.
/// </summary>
internal static class Workloads
{
    /// <summary>Refs the driver holds in "put/get with live refs": the objects of a long-running driver.</summary>
    public const int LiveRefs = 100_000;

    /// <summary>Calls submitted before waiting, in every "async" workload.</summary>
    public const int Batch = 1000;

    /// <summary>Calls per server actor in "1:n", and per calling task in "n:n".</summary>
    public const int FanOutCalls = 5000;

    /// <summary>Calling tasks in "n:n".</summary>
    public const int Callers = 4;

    /// <summary>Groups created before any is waited for in "placement group create/removal" (Ray's <c>NUM_PGS</c>).</summary>
    public const int PlacementGroups = 100;

    /// <summary>How long a placement group may take to be created before the benchmark fails (Ray's <c>timeout_seconds=30</c>).</summary>
    private static readonly TimeSpan s_groupTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Server actors in the fan-out workloads: half the machine's cores, at least one.</summary>
    public static int Servers { get; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>The argument sizes of the rows compared with a raw gRPC call carrying as much.</summary>
    public static readonly int[] ArgumentSizes = [10 * 1024, 1024 * 1024];

    /// <summary>"10 KB", "1 MB".</summary>
    public static string SizeName(int bytes) => bytes >= 1024 * 1024 ? $"{bytes / (1024 * 1024)} MB" : $"{bytes / 1024} KB";

    public static IReadOnlyList<Workload> All { get; } = Create(Servers);

    private static IReadOnlyList<Workload> Create(int servers) =>
    [
        new("single client tasks sync", 1, () => Sync(() => BenchTasks.Remote.SmallValue())),
        new("single client tasks async", Batch, () => Async(() => BenchTasks.Remote.SmallValue())),
        // Ray's shape: several clients (actors with no CPUs) each submit a batch of tasks and wait for it; the driver waits
        // for the clients. The tasks of all clients compete for the node's CPUs through the raylet.
        new("multi client tasks async", Batch * Callers, () =>
        {
            var clients = new ActorHandle<BenchTaskClient>[Callers];
            for (int i = 0; i < clients.Length; i++) clients[i] = BenchTaskClient.Remote.Create();
            return new PreparedWorkload(() =>
            {
                var calls = new List<ObjectRef<int>>(Callers);
                foreach (var client in clients) calls.Add(client.SmallValueTasks(Batch));
                Calls.GetAndRelease(calls);
                return ValueTask.CompletedTask;
            }, clients);
        }),
        .. ArgumentSizes.Select(size => new Workload($"single client tasks sync with {SizeName(size)} args", 1, () =>
        {
            var arg = new byte[size];
            return Sync(() => BenchTasks.Remote.TakeArg(arg));
        }) { ArgumentBytes = size }),
        new("1:1 actor calls sync", 1, () =>
        {
            var actor = BenchActor.Remote.Create();
            return Sync(() => actor.SmallValue(), actor);
        }),
        new("1:1 actor calls async", Batch, () =>
        {
            var actor = BenchActor.Remote.Create();
            return Async(() => actor.SmallValue(), actor);
        }),
        // Not Ray's row: the same calls to an actor created with its task events off (Ray's enable_task_events=False),
        // which is what recording, sending and storing two task records per call costs.
        new("1:1 actor calls async, task events off", Batch, () =>
        {
            var actor = BenchActor.Remote.WithOptions(new ActorOptions { EnableTaskEvents = false }).Create();
            return Async(() => actor.SmallValue(), actor);
        }),
        .. ArgumentSizes.Select(size => new Workload($"1:1 actor calls sync with {SizeName(size)} args", 1, () =>
        {
            var arg = new byte[size];
            var actor = BenchActor.Remote.Create();
            return Sync(() => actor.TakeArg(arg), actor);
        }) { ArgumentBytes = size }),
        new("1:1 async-actor calls sync", 1, () =>
        {
            var actor = BenchAsyncActor.Remote.Create();
            return Sync(() => actor.SmallValue(), actor);
        }),
        new("1:1 async-actor calls async", Batch, () =>
        {
            var actor = BenchAsyncActor.Remote.Create();
            return Async(() => actor.SmallValue(), actor);
        }),
        // Not Ray's rows: the sync method of an actor that also has an async method, and a threaded actor's sync method,
        // each run on the actor's bounded pool of threads.
        new("1:1 async-actor sync-method calls async", Batch, () =>
        {
            var actor = BenchAsyncActor.Remote.Create();
            return Async(() => actor.SmallValueSync(), actor);
        }),
        new("1:1 threaded-actor calls async", Batch, () =>
        {
            var actor = BenchThreadedActor.Remote.Create();
            return Async(() => actor.SmallValue(), actor);
        }),
        new("1:n actor calls async", FanOutCalls * servers, () =>
        {
            var actors = CreateActors(servers);
            var client = BenchClient.Remote.Create(actors);
            return Sync(() => client.SmallValueBatch(FanOutCalls), [client, .. actors]);
        }),
        new("n:n actor calls async", FanOutCalls * Callers, () =>
        {
            var actors = CreateActors(servers);
            return new PreparedWorkload(() =>
            {
                var callers = new List<ObjectRef<int>>(Callers);
                for (int i = 0; i < Callers; i++) callers.Add(BenchTasks.Remote.CallActors(actors, FanOutCalls));
                Calls.GetAndRelease(callers);
                return ValueTask.CompletedTask;
            }, actors);
        }),
        new("single client put calls", 1, () => new PreparedWorkload(() =>
        {
            // Python drops the ref at once; dispose it so the reference counter sees the same.
            Ray.Put(0).Dispose();
            return ValueTask.CompletedTask;
        })),
        new("single client get calls", 1, () =>
        {
            var value = Ray.Put(0);
            return new PreparedWorkload(() =>
            {
                _ = Ray.Get(value);
                return ValueTask.CompletedTask;
            });
        }),
        // Not one of Ray's rows: the put and get rows above run against an almost empty reference table and memory
        // store, which hides how their lookups scale. Every ref here was put by the driver, so all the IDs share
        // the driver's task ID and differ only in their last bytes.
        new("single client put/get with 100,000 live refs", 1, () =>
        {
            var live = new ObjectRef<int>[LiveRefs];
            for (int i = 0; i < live.Length; i++) live[i] = Ray.Put(i);
            return new PreparedWorkload(() =>
            {
                using var value = Ray.Put(0);
                _ = Ray.Get(value);
                return ValueTask.CompletedTask;
            }) { Held = live };
        }),
        // Ray's shape: 100 groups of one small bundle created, then each waited for, then each removed (Ray gives its node
        // a custom resource of 100 and asks 0.001 of it per bundle; a thousandth of a CPU keeps the workload runnable on
        // any cluster). Every create, wait and removal is a blocking call to the GCS, so the driver's calls are
        // sequential; what overlaps is the GCS placing earlier groups while the driver creates later ones.
        new("placement group create/removal", PlacementGroups, () => new PreparedWorkload(() =>
        {
            var groups = new PlacementGroup[PlacementGroups];
            for (int i = 0; i < groups.Length; i++) groups[i] = Ray.CreatePlacementGroup([SmallBundle()]);
            foreach (var group in groups) WaitCreated(group);
            foreach (var group in groups) Ray.RemovePlacementGroup(group);
            return ValueTask.CompletedTask;
        })) { InRoundTrips = true },
        // Not one of Ray's rows: one group at a time, created, waited for and removed before the next, so the row is the
        // latency of the whole cycle (three calls to the GCS, and the GCS's prepare, commit and cancel calls to the raylet).
        new("placement group create/removal sync", 1, () => new PreparedWorkload(() =>
        {
            var group = Ray.CreatePlacementGroup([SmallBundle()]);
            WaitCreated(group);
            Ray.RemovePlacementGroup(group);
            return ValueTask.CompletedTask;
        })) { InRoundTrips = true },
    ];

    private static Dictionary<string, double> SmallBundle() => new() { ["CPU"] = 0.001 };

    /// <summary>Ray's <c>pg.wait(timeout_seconds=30)</c>, except that a group still pending after that fails the benchmark
    /// instead of being counted.</summary>
    private static void WaitCreated(PlacementGroup group)
    {
        if (!group.Wait(s_groupTimeout))
            throw new TimeoutException($"{group} was not created within {s_groupTimeout.TotalSeconds:0} s.");
    }

    private static ActorHandle<BenchActor>[] CreateActors(int count)
    {
        var actors = new ActorHandle<BenchActor>[count];
        for (int i = 0; i < count; i++) actors[i] = BenchActor.Remote.Create();
        return actors;
    }

    /// <summary>One call, waited for before the next.</summary>
    private static PreparedWorkload Sync<T>(Func<ObjectRef<T>> submit, params ActorHandle[] actors) =>
        new(() =>
        {
            using var result = submit();
            _ = Ray.Get(result);
            return ValueTask.CompletedTask;
        }, actors);

    /// <summary><see cref="Batch"/> calls submitted, then all waited for.</summary>
    private static PreparedWorkload Async<T>(Func<ObjectRef<T>> submit, params ActorHandle[] actors) =>
        new(() =>
        {
            var refs = new List<ObjectRef<T>>(Batch);
            for (int i = 0; i < Batch; i++) refs.Add(submit());
            Calls.GetAndRelease(refs);
            return ValueTask.CompletedTask;
        }, actors);
}

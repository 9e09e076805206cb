namespace RaySharp.Benchmarks;

/// <summary>A workload: its name, how many operations one call is, and how to set it up on a running cluster.</summary>
internal sealed record Workload(string Name, int OpsPerCall, Func<PreparedWorkload> Prepare);

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

    public static IReadOnlyList<Workload> All { get; } = Create(Math.Max(1, Environment.ProcessorCount / 2));

    private static IReadOnlyList<Workload> Create(int servers) =>
    [
        new("single client tasks sync", 1, () => Sync(() => BenchTasks.Remote.SmallValue())),
        new("single client tasks async", Batch, () => Async(() => BenchTasks.Remote.SmallValue())),
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
    ];

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

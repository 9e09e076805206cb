using RaySharp.Core;

namespace RaySharp;

/// <summary>
/// The entry point: start or join a cluster (<see cref="Init"/>), put and get objects, wait on refs, look up
/// and kill actors, and inspect the cluster. Remote functions and actors are called through the proxies the
/// source generator emits (<c>X.Remote.Method(...)</c>).
/// </summary>
public static class Ray
{
    /// <summary>
    /// Starts RaySharp in this process and returns the context that shuts it down when disposed. With no
    /// address (and no <c>RAY_ADDRESS</c>) it starts a single-node cluster in this process; with
    /// <see cref="RayOptions.LocalMode"/> everything runs in this process.
    /// </summary>
    /// <exception cref="InvalidOperationException">RaySharp is already initialized in this process.</exception>
    public static RayContext Init(RayOptions? options = null) => RayContext.Start(options ?? new RayOptions());

    /// <summary>Asynchronous <see cref="Init"/>.</summary>
    public static Task<RayContext> InitAsync(RayOptions? options = null, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Init(options));
    }

    /// <summary>Shuts RaySharp down in this process; a no-op when it is not initialized.</summary>
    public static void Shutdown() => RayContext.Current?.Dispose();

    /// <summary>True between <see cref="Init"/> and <see cref="Shutdown"/>.</summary>
    public static bool IsInitialized => RayContext.Current is not null;

    /// <summary>Stores <paramref name="value"/> in the object store and returns its ref; this process owns it.</summary>
    public static ObjectRef<T> Put<T>(T value) => CoreWorker.Current.Put(value);

    /// <summary>
    /// Stores the elements of <paramref name="span"/> as a <c>T[]</c>, copying them once, and returns its ref; this
    /// process owns it. Read it back with <see cref="GetView{T}"/> (no copy) or as any <c>T[]</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The elements do not fit in one object (2 GiB).</exception>
    public static ObjectRef<T[]> Put<T>(ReadOnlySpan<T> span) where T : unmanaged => CoreWorker.Current.PutArray(span);

    /// <summary>
    /// Blocks until the array <paramref name="reference"/> points to is available and returns a view of its elements
    /// where they lie, without copying them. The object stays pinned until the view is disposed: dispose it
    /// (<c>using</c>) when done reading, and copy what must outlive it (<c>view.Span.ToArray()</c>).
    /// </summary>
    /// <exception cref="GetTimeoutException">Not available within <paramref name="timeout"/>.</exception>
    /// <exception cref="RayTaskException">The task that computes the array threw.</exception>
    public static ObjectView<T> GetView<T>(ObjectRef<T[]> reference, TimeSpan? timeout = null) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(reference);
        return reference.Worker.GetView(reference, timeout);
    }

    /// <summary>Blocks until the value of <paramref name="reference"/> is available.</summary>
    /// <exception cref="GetTimeoutException">Not available within <paramref name="timeout"/>.</exception>
    public static T Get<T>(ObjectRef<T> reference, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return reference.Get(timeout);
    }

    /// <summary>Blocks until every value is available and returns them in order.</summary>
    /// <exception cref="GetTimeoutException">Not all available within <paramref name="timeout"/>.</exception>
    public static T[] Get<T>(IReadOnlyList<ObjectRef<T>> references, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(references);
        return CoreWorker.Current.GetValues(references, timeout);
    }

    /// <summary>Waits without blocking a thread until every value is available.</summary>
    public static Task<T[]> GetAsync<T>(IEnumerable<ObjectRef<T>> references, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(references);
        return CoreWorker.Current.GetValuesAsync(references.ToArray(), timeout, ct);
    }

    /// <summary>
    /// Returns as soon as <paramref name="numReturns"/> of <paramref name="refs"/> are ready or
    /// <paramref name="timeout"/> passes (<see cref="TimeSpan.Zero"/> polls). Ready and not-ready refs keep input order.
    /// </summary>
    /// <exception cref="ArgumentException">Duplicate refs, or <paramref name="numReturns"/> outside 1..count.</exception>
    public static WaitResult<R> Wait<R>(IReadOnlyList<R> refs, int numReturns = 1, TimeSpan? timeout = null, bool fetchLocal = true)
        where R : ObjectRef
    {
        ArgumentNullException.ThrowIfNull(refs);
        return CoreWorker.Current.Wait(refs, numReturns, timeout, fetchLocal, CancellationToken.None)
            .AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Asynchronous <see cref="Wait{R}"/>.</summary>
    public static Task<WaitResult<R>> WaitAsync<R>(IReadOnlyList<R> refs, int numReturns = 1, TimeSpan? timeout = null,
        bool fetchLocal = true, CancellationToken ct = default) where R : ObjectRef
    {
        ArgumentNullException.ThrowIfNull(refs);
        return CoreWorker.Current.Wait(refs, numReturns, timeout, fetchLocal, ct).AsTask();
    }

    /// <summary>
    /// Cancels the task that creates <paramref name="reference"/>: a pending task fails with
    /// <see cref="TaskCancelledException"/>; a running one sees its <see cref="CancellationToken"/> signalled
    /// (with <paramref name="force"/>, its worker is killed). <paramref name="recursive"/> also cancels the tasks
    /// it submitted. Actor tasks cannot be force-cancelled.
    /// </summary>
    public static void Cancel(ObjectRef reference, bool force = false, bool recursive = true)
    {
        ArgumentNullException.ThrowIfNull(reference);
        CoreWorker.Current.CancelTask(reference.Id, force, recursive);
    }

    /// <summary>The live actor named <paramref name="name"/> in <paramref name="namespace"/> (default: the job's).</summary>
    /// <exception cref="ActorNotFoundException">No live actor has that name.</exception>
    public static ActorHandle<T> GetActor<T>(string name, string? @namespace = null) =>
        TryGetActor<T>(name, out var handle, @namespace)
            ? handle!
            : throw new ActorNotFoundException(
                $"No live actor named '{name}' in namespace '{@namespace ?? CoreWorker.Current.Namespace}'. " +
                "Create it with ActorOptions { Name = ... } first, or check the namespace.")
            { ActorName = name, Namespace = @namespace ?? CoreWorker.Current.Namespace };

    /// <summary>Looks up a live named actor; false when there is none.</summary>
    public static bool TryGetActor<T>(string name, out ActorHandle<T>? handle, string? @namespace = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var worker = CoreWorker.Current;
        if (worker.ActorManager.TryGetNamedActor(name, @namespace ?? worker.Namespace, typeof(T), out var actorId, out var owner))
        {
            handle = new ActorHandle<T>(actorId, name, worker, owner);
            return true;
        }
        handle = null;
        return false;
    }

    /// <summary>Kills the actor at once: pending and running calls fail with <see cref="ActorDiedException"/>.
    /// With <paramref name="noRestart"/> false, the actor restarts if it has restarts left.</summary>
    public static void Kill(ActorHandle actor, bool noRestart = true)
    {
        ArgumentNullException.ThrowIfNull(actor);
        actor.Worker.ActorManager.KillActor(actor.Id, noRestart, "killed by Ray.Kill");
    }

    /// <summary>From inside an actor method: exit the actor gracefully once the current call returns. The
    /// instance is disposed (<see cref="IDisposable"/> / <see cref="IAsyncDisposable"/>); later calls fail with
    /// <see cref="ActorDiedException"/>.</summary>
    /// <exception cref="InvalidOperationException">Not called from inside an actor.</exception>
    public static void ExitActor() => CoreWorker.Current.ExitActor();

    /// <summary>Reserves <paramref name="bundles"/> of resources atomically across nodes.</summary>
    public static PlacementGroup CreatePlacementGroup(IReadOnlyList<IReadOnlyDictionary<string, double>> bundles,
        PlacementStrategy strategy = PlacementStrategy.Pack, string? name = null,
        PlacementGroupLifetime lifetime = PlacementGroupLifetime.NonDetached) =>
        CoreWorker.Current.CreatePlacementGroup(bundles, strategy, name, lifetime);

    /// <summary>Removes a placement group, killing what runs in it and releasing its resources.</summary>
    public static void RemovePlacementGroup(PlacementGroup pg)
    {
        ArgumentNullException.ThrowIfNull(pg);
        CoreWorker.Current.RemovePlacementGroup(pg);
    }

    /// <summary>The live placement group named <paramref name="name"/>.</summary>
    public static PlacementGroup GetPlacementGroup(string name) => CoreWorker.Current.GetPlacementGroup(name);

    /// <summary>The nodes of the cluster, alive and dead.</summary>
    public static IReadOnlyList<NodeInfo> Nodes() => CoreWorker.Current.Nodes();

    /// <summary>Total resources of the alive nodes, summed by name.</summary>
    public static IReadOnlyDictionary<string, double> ClusterResources() => CoreWorker.Current.ClusterResources();

    /// <summary>Resources not held by running tasks and actors, summed by name.</summary>
    public static IReadOnlyDictionary<string, double> AvailableResources() => CoreWorker.Current.AvailableResources();

    /// <summary>Where the calling code runs: job, node, worker, task and actor.</summary>
    public static RuntimeContext GetRuntimeContext() => CoreWorker.Current.GetRuntimeContext();
}

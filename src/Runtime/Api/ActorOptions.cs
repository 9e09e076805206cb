namespace RaySharp;

/// <summary>Options for creating an actor (Ray's <c>Actor.options(...)</c>); unset properties keep the values
/// from <see cref="RayRemoteAttribute"/> or Ray's defaults.</summary>
public sealed record ActorOptions
{
    /// <summary>A name to look the actor up with <see cref="Ray.GetActor{T}"/>; unique per namespace among live actors.</summary>
    public string? Name { get; init; }

    /// <summary>The namespace of the name (default: the job's namespace).</summary>
    public string? Namespace { get; init; }

    /// <summary>Whether the actor outlives its creator.</summary>
    public ActorLifetime? Lifetime { get; init; }

    /// <summary>With a name: return the live actor of that name instead of failing when it exists.</summary>
    public bool GetIfExists { get; init; }

    /// <summary>CPUs held while the actor lives (default 0; 1 is required for placement).</summary>
    public double? NumCpus { get; init; }

    /// <summary>GPUs held while the actor lives.</summary>
    public double? NumGpus { get; init; }

    /// <summary>Logical memory held while the actor lives, in bytes.</summary>
    public long? Memory { get; init; }

    /// <summary>Custom resources held while the actor lives.</summary>
    public IReadOnlyDictionary<string, double>? Resources { get; init; }

    /// <summary>Restarts after unexpected death (default 0; -1 restarts forever).</summary>
    public int? MaxRestarts { get; init; }

    /// <summary>Retries of a call that failed because the actor died (default 0; -1 forever).</summary>
    public int? MaxTaskRetries { get; init; }

    /// <summary>Record task events for the actor's creation and every call to it (default true; Ray's
    /// <c>enable_task_events</c>): false leaves them out of <c>Ray.State</c> listings and the dashboard, and saves the cost of
    /// recording, sending and storing them, which is most of an actor call's at tens of thousands of calls a second.</summary>
    public bool? EnableTaskEvents { get; init; }

    /// <summary>Calls that may run at once (1 for sync actors, 1000 for actors with async methods). An actor without async
    /// methods runs its calls on at most this many threads; an actor with async methods runs its sync methods one at a
    /// time, on one thread, as Ray runs them on the actor's event loop.</summary>
    public int? MaxConcurrency { get; init; }

    /// <summary>Calls a caller may have pending before new calls fail with
    /// <see cref="PendingCallsLimitExceededException"/> (default -1: unlimited).</summary>
    public int? MaxPendingCalls { get; init; }

    /// <summary>Where the actor may run.</summary>
    public SchedulingStrategy? SchedulingStrategy { get; init; }

    /// <summary>The environment the actor runs in, merged over the job's.</summary>
    public RuntimeEnv? RuntimeEnv { get; init; }

    /// <summary>These options with every property set in <paramref name="overrides"/> replacing this one's.</summary>
    public ActorOptions MergedWith(ActorOptions? overrides) => overrides is null ? this : new ActorOptions
    {
        Name = overrides.Name ?? Name,
        Namespace = overrides.Namespace ?? Namespace,
        Lifetime = overrides.Lifetime ?? Lifetime,
        GetIfExists = overrides.GetIfExists || GetIfExists,
        NumCpus = overrides.NumCpus ?? NumCpus,
        NumGpus = overrides.NumGpus ?? NumGpus,
        Memory = overrides.Memory ?? Memory,
        Resources = overrides.Resources ?? Resources,
        MaxRestarts = overrides.MaxRestarts ?? MaxRestarts,
        MaxTaskRetries = overrides.MaxTaskRetries ?? MaxTaskRetries,
        MaxConcurrency = overrides.MaxConcurrency ?? MaxConcurrency,
        MaxPendingCalls = overrides.MaxPendingCalls ?? MaxPendingCalls,
        SchedulingStrategy = overrides.SchedulingStrategy ?? SchedulingStrategy,
        RuntimeEnv = overrides.RuntimeEnv ?? RuntimeEnv,
        EnableTaskEvents = overrides.EnableTaskEvents ?? EnableTaskEvents,
    };
}

namespace RaySharp;

/// <summary>Per-call options of a remote function (Ray's <c>.options(...)</c>); unset properties keep the
/// values from <see cref="RayRemoteAttribute"/> or Ray's defaults.</summary>
public sealed record TaskOptions
{
    /// <summary>CPUs required (default 1). A fraction must be at most 1; amounts above 1 must be whole.</summary>
    public double? NumCpus { get; init; }

    /// <summary>GPUs required (default 0).</summary>
    public double? NumGpus { get; init; }

    /// <summary>Logical memory required, in bytes.</summary>
    public long? Memory { get; init; }

    /// <summary>Custom resources required.</summary>
    public IReadOnlyDictionary<string, double>? Resources { get; init; }

    /// <summary>Retries after a worker or node failure (default 3); -1 retries forever.</summary>
    public int? MaxRetries { get; init; }

    /// <summary>Also retry when user code throws (default false).</summary>
    public bool? RetryExceptions { get; init; }

    /// <summary>Retry only when user code throws one of these types (or a subtype); implies retrying exceptions.</summary>
    public IReadOnlyList<Type>? RetryExceptionTypes { get; init; }

    /// <summary>Where the task may run.</summary>
    public SchedulingStrategy? SchedulingStrategy { get; init; }

    /// <summary>The environment the task runs in, merged over the job's.</summary>
    public RuntimeEnv? RuntimeEnv { get; init; }

    /// <summary>A name for the task, shown in errors and listings.</summary>
    public string? Name { get; init; }

    /// <summary>Record the task's events (default true; Ray's <c>enable_task_events</c>): false leaves it out of
    /// <c>Ray.State</c> listings and the dashboard, and saves the cost of its events.</summary>
    public bool? EnableTaskEvents { get; init; }

    /// <summary>These options with every property set in <paramref name="overrides"/> replacing this one's.</summary>
    public TaskOptions MergedWith(TaskOptions? overrides) => overrides is null ? this : new TaskOptions
    {
        NumCpus = overrides.NumCpus ?? NumCpus,
        NumGpus = overrides.NumGpus ?? NumGpus,
        Memory = overrides.Memory ?? Memory,
        Resources = overrides.Resources ?? Resources,
        MaxRetries = overrides.MaxRetries ?? MaxRetries,
        RetryExceptions = overrides.RetryExceptions ?? RetryExceptions,
        RetryExceptionTypes = overrides.RetryExceptionTypes ?? RetryExceptionTypes,
        SchedulingStrategy = overrides.SchedulingStrategy ?? SchedulingStrategy,
        RuntimeEnv = overrides.RuntimeEnv ?? RuntimeEnv,
        Name = overrides.Name ?? Name,
        EnableTaskEvents = overrides.EnableTaskEvents ?? EnableTaskEvents,
    };
}

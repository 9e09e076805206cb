namespace RaySharp;

/// <summary>
/// Makes a static method a remote function (a task) or a class an actor class. The source generator emits
/// typed proxies (<c>X.Remote.Method(...)</c>, <c>X.Remote.Create(...)</c>, extension methods on
/// <see cref="ActorHandle{T}"/>) for every member it marks. The containing type must be <c>partial</c>.
/// Properties left unset take Ray's defaults; the generator reads only the ones you set.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class RayRemoteAttribute : Attribute
{
    /// <summary>CPUs required: tasks default to 1; actors default to 0 for running (1 for placement).</summary>
    public double NumCpus { get; set; }

    /// <summary>GPUs required (default 0).</summary>
    public double NumGpus { get; set; }

    /// <summary>Memory required, in bytes (logical, default 0).</summary>
    public long Memory { get; set; }

    /// <summary>Custom resources required, each <c>"name=amount"</c>.</summary>
    public string[]? Resources { get; set; }

    /// <summary>Tasks: how often to retry after a worker or node failure (default 3).</summary>
    public int MaxRetries { get; set; }

    /// <summary>Tasks: also retry when user code throws (default false).</summary>
    public bool RetryExceptions { get; set; }

    /// <summary>Actors: how often to restart the actor after it dies unexpectedly (default 0).</summary>
    public int MaxRestarts { get; set; }

    /// <summary>Actors: how often to retry a call that failed because the actor died (default 0).</summary>
    public int MaxTaskRetries { get; set; }

    /// <summary>Record task events for these tasks, or for this actor's creation and every call to it (default true; Ray's
    /// <c>enable_task_events</c>). False leaves them out of <c>Ray.State</c> listings and the dashboard, and saves the
    /// cost of recording, sending and storing them: most of an actor call's, at tens of thousands of calls a second.</summary>
    public bool EnableTaskEvents { get; set; } = true;

    /// <summary>Actors: how many calls may run at once (1 for sync actors, 1000 for actors with async methods). An actor
    /// without async methods runs its calls on at most this many threads; one with async methods runs its sync methods
    /// one at a time, on one thread.</summary>
    public int MaxConcurrency { get; set; }

    /// <summary>Tasks returning a tuple: return each element as its own object.</summary>
    public int NumReturns { get; set; }

    /// <summary>The remote name used for the function ID and in errors (default: the method or class name).</summary>
    public string? Name { get; set; }
}

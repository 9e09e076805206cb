namespace RaySharp;

/// <summary>Where the calling code runs: job, node, worker, and the task or actor it belongs to.</summary>
public sealed record RuntimeContext
{
    /// <summary>The current job.</summary>
    public required JobId JobId { get; init; }

    /// <summary>The node this process runs on.</summary>
    public required NodeId NodeId { get; init; }

    /// <summary>This worker (or the driver).</summary>
    public required WorkerId WorkerId { get; init; }

    /// <summary>The running task, or null on the driver outside any task.</summary>
    public TaskId? TaskId { get; init; }

    /// <summary>The actor this code runs in, or null outside actors.</summary>
    public ActorId? ActorId { get; init; }

    /// <summary>The job's namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>True when the current actor was restarted at least once.</summary>
    public bool WasCurrentActorReconstructed { get; init; }

    /// <summary>The resources held by the running task or actor.</summary>
    public IReadOnlyDictionary<string, double> AssignedResources { get; init; } = new Dictionary<string, double>();
}

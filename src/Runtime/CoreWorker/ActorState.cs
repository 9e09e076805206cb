namespace RaySharp.Core;

/// <summary>The executing side of one actor: its instance and how calls to it are scheduled.</summary>
internal sealed class ActorState(ActorCreationSpec spec, int numRestarts, SchedulingStrategy? creationStrategy = null)
{
    public ActorCreationSpec Spec { get; } = spec;

    /// <summary>Where the actor was scheduled: work it submits joins its placement group when that captures child tasks.</summary>
    public SchedulingStrategy CreationStrategy { get; } = creationStrategy ?? SchedulingStrategy.Default;
    public object? Instance { get; set; }
    public int NumRestarts { get; } = numRestarts;
    public bool WasReconstructed => NumRestarts > 0;

    /// <summary>Set by Ray.ExitActor: the actor exits once the current call returns.</summary>
    public volatile bool ExitRequested;

    /// <summary>One call at a time on the actor's own thread, in arrival order (Ray's sync, single-threaded actor).</summary>
    public bool IsSingleThreaded => Spec.MaxConcurrency <= 1 && !Spec.Class.HasAsyncMethods;

    /// <summary>Has async methods: up to MaxConcurrency calls in flight, interleaving at their awaits (Ray's async actor).</summary>
    public bool IsAsync => Spec.Class.HasAsyncMethods;
}

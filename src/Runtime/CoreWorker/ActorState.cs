namespace RaySharp.Core;

/// <summary>The executing side of one actor: its instance and how calls to it are scheduled.</summary>
internal sealed class ActorState(ActorCreationSpec spec, int numRestarts)
{
    public ActorCreationSpec Spec { get; } = spec;
    public object? Instance { get; set; }
    public int NumRestarts { get; } = numRestarts;
    public bool WasReconstructed => NumRestarts > 0;

    /// <summary>Set by Ray.ExitActor: the actor exits once the current call returns.</summary>
    public volatile bool ExitRequested;

    /// <summary>One call at a time on the actor's own thread, in arrival order (Ray's sync, single-threaded actor).</summary>
    public bool IsSingleThreaded => Spec.MaxConcurrency <= 1 && !Spec.Class.HasAsyncMethods;
}

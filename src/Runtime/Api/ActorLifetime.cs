namespace RaySharp;

/// <summary>How long an actor lives.</summary>
public enum ActorLifetime
{
    /// <summary>The actor dies when every handle to it is gone or its owner (creator) dies. The default.</summary>
    NonDetached = 0,

    /// <summary>The actor outlives its creator and lives until killed; it must have a name.</summary>
    Detached = 1,
}

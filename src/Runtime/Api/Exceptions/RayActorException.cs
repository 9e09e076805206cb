namespace RaySharp;

/// <summary>Base class of errors about an actor: it died or cannot be reached.</summary>
public class RayActorException : RayException
{
    /// <summary>The actor concerned, when known.</summary>
    public ActorId? ActorId { get; init; }

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public RayActorException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public RayActorException(string message, Exception? innerException) : base(message, innerException) { }
}

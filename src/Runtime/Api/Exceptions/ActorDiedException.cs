namespace RaySharp;

/// <summary>The actor is dead: it crashed, was killed, exited, its constructor threw, or its restarts are exhausted. <see cref="Cause"/> says which.</summary>
public class ActorDiedException : RayActorException
{
    /// <summary>Why the actor died, in words a user can act on.</summary>
    public string Cause { get; init; } = "";

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public ActorDiedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ActorDiedException(string message, Exception? innerException) : base(message, innerException) { }
}

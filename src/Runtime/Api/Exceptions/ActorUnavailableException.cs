namespace RaySharp;

/// <summary>The actor is restarting or cannot be reached for now; the call may succeed if retried.</summary>
public class ActorUnavailableException : RayActorException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public ActorUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ActorUnavailableException(string message, Exception? innerException) : base(message, innerException) { }
}

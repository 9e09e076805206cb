namespace RaySharp;

/// <summary>The node running the task died and the task's retries are exhausted.</summary>
public class NodeDiedException : RayException
{
    /// <summary>The node that died, when known.</summary>
    public NodeId? NodeId { get; init; }

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public NodeDiedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public NodeDiedException(string message, Exception? innerException) : base(message, innerException) { }
}

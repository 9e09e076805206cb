namespace RaySharp;

/// <summary>No live actor has the requested name in the requested namespace.</summary>
public class ActorNotFoundException : RayException
{
    /// <summary>The name that was looked up.</summary>
    public string? ActorName { get; init; }

    /// <summary>The namespace that was searched.</summary>
    public string? Namespace { get; init; }

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public ActorNotFoundException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ActorNotFoundException(string message, Exception? innerException) : base(message, innerException) { }
}

namespace RaySharp;

/// <summary>The object store stayed full after eviction, garbage collection and spilling.</summary>
public class ObjectStoreFullException : RayException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public ObjectStoreFullException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ObjectStoreFullException(string message, Exception? innerException) : base(message, innerException) { }
}

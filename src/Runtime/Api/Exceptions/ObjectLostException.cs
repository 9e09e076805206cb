namespace RaySharp;

/// <summary>Every copy of the object is lost and it cannot be reconstructed.</summary>
public class ObjectLostException : RayException
{
    /// <summary>The object that cannot be had.</summary>
    public ObjectId? ObjectId { get; init; }

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public ObjectLostException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ObjectLostException(string message, Exception? innerException) : base(message, innerException) { }
}

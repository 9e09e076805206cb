namespace RaySharp;

/// <summary>The object was lost and re-executing the task that created it failed or was not allowed.</summary>
public class ObjectReconstructionFailedException : ObjectLostException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public ObjectReconstructionFailedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ObjectReconstructionFailedException(string message, Exception? innerException) : base(message, innerException) { }
}

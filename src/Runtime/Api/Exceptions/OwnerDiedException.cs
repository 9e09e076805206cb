namespace RaySharp;

/// <summary>The worker that owns the object died, so the object can no longer be resolved (it shares its owner's fate).</summary>
public class OwnerDiedException : ObjectLostException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public OwnerDiedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public OwnerDiedException(string message, Exception? innerException) : base(message, innerException) { }
}

namespace RaySharp;

/// <summary>Base class of every error the RaySharp runtime raises.</summary>
public class RayException : Exception
{
    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public RayException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public RayException(string message, Exception? innerException) : base(message, innerException) { }
}

namespace RaySharp;

/// <summary>The runtime environment of a task or actor could not be prepared.</summary>
public class RuntimeEnvSetupException : RayException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public RuntimeEnvSetupException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public RuntimeEnvSetupException(string message, Exception? innerException) : base(message, innerException) { }
}

namespace RaySharp;

/// <summary><c>Get</c> or <c>GetAsync</c> did not see the object(s) within the timeout.</summary>
public class GetTimeoutException : RayException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public GetTimeoutException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public GetTimeoutException(string message, Exception? innerException) : base(message, innerException) { }
}

namespace RaySharp;

/// <summary>An actor call was refused because the actor already has <c>MaxPendingCalls</c> calls pending from this caller.</summary>
public class PendingCallsLimitExceededException : RayException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public PendingCallsLimitExceededException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public PendingCallsLimitExceededException(string message, Exception? innerException) : base(message, innerException) { }
}

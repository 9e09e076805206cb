namespace RaySharp;

/// <summary>The task was cancelled with <c>Ray.Cancel</c> before or while it ran.</summary>
public class TaskCancelledException : RayException
{
    /// <summary>The cancelled task.</summary>
    public TaskId? TaskId { get; init; }

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public TaskCancelledException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public TaskCancelledException(string message, Exception? innerException) : base(message, innerException) { }
}

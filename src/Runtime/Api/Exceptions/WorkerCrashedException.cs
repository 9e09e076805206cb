namespace RaySharp;

/// <summary>The worker process running the task died and the task's retries are exhausted.</summary>
public class WorkerCrashedException : RayException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public WorkerCrashedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public WorkerCrashedException(string message, Exception? innerException) : base(message, innerException) { }
}

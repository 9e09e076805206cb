namespace RaySharp;

/// <summary>A hard scheduling constraint of the task can never be met (for example hard affinity to a dead or unknown node).</summary>
public class TaskUnschedulableException : RayException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public TaskUnschedulableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public TaskUnschedulableException(string message, Exception? innerException) : base(message, innerException) { }
}

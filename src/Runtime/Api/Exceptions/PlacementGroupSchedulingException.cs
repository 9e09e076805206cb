namespace RaySharp;

/// <summary>The placement group is infeasible or was removed.</summary>
public class PlacementGroupSchedulingException : RayException
{

    /// <summary>Creates the exception with a message that says what happened and what to do.</summary>
    public PlacementGroupSchedulingException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public PlacementGroupSchedulingException(string message, Exception? innerException) : base(message, innerException) { }
}

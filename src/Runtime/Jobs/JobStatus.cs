namespace RaySharp.Jobs;

/// <summary>Where a submitted job is (Ray's <c>JobStatus</c>): <see cref="Pending"/> until its entrypoint starts, then
/// <see cref="Running"/>, and finally <see cref="Succeeded"/>, <see cref="Failed"/> or <see cref="Stopped"/>.</summary>
public enum JobStatus
{
    /// <summary>Accepted; the supervisor has not started the entrypoint yet.</summary>
    Pending,
    /// <summary>The entrypoint runs.</summary>
    Running,
    /// <summary>Stopped by <see cref="JobSubmissionClient.StopJobAsync"/> (or <c>raysharp job stop</c>).</summary>
    Stopped,
    /// <summary>The entrypoint exited with code 0.</summary>
    Succeeded,
    /// <summary>The entrypoint exited with another code, or could not be started; the details say why.</summary>
    Failed,
}

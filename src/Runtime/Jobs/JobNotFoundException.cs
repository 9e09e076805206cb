namespace RaySharp.Jobs;

/// <summary>No job with the given submission ID exists in the cluster (never submitted, or deleted).</summary>
public sealed class JobNotFoundException : RayException
{
    /// <summary>Creates the exception for <paramref name="submissionId"/>.</summary>
    public JobNotFoundException(string submissionId)
        : base($"No job '{submissionId}' in this cluster: it was never submitted here, or it was deleted. `raysharp job list` lists the jobs.")
    {
        SubmissionId = submissionId;
    }

    /// <summary>The ID that was asked for.</summary>
    public string SubmissionId { get; }
}

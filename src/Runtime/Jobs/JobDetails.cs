namespace RaySharp.Jobs;

/// <summary>A submitted job as the cluster records it (Ray's <c>JobDetails</c>).</summary>
public sealed record JobDetails
{
    /// <summary>The job's ID.</summary>
    public required string SubmissionId { get; init; }

    /// <summary>Where the job is.</summary>
    public required JobStatus Status { get; init; }

    /// <summary>What happened, in words (why it failed, who stopped it).</summary>
    public string? Message { get; init; }

    /// <summary>The command line the job runs.</summary>
    public required string Entrypoint { get; init; }

    /// <summary>When the job was submitted.</summary>
    public DateTimeOffset? StartTime { get; init; }

    /// <summary>When the job reached a final status.</summary>
    public DateTimeOffset? EndTime { get; init; }

    /// <summary>The entrypoint's exit code, once it exited.</summary>
    public int? DriverExitCode { get; init; }

    /// <summary>The labels given at submission.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

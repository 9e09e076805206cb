namespace RaySharp.Jobs;

/// <summary>What <see cref="JobSubmissionClient.SubmitJobAsync"/> asks the cluster to run.</summary>
public sealed record JobSubmission
{
    /// <summary>The shell command line the head node runs (e.g. <c>dotnet MyApp.dll</c>), in the job's working dir.</summary>
    public required string Entrypoint { get; init; }

    /// <summary>Env vars and a working dir for the entrypoint and every worker of its job. A local
    /// <see cref="RuntimeEnv.WorkingDir"/> is packed and uploaded by the client before the job is submitted.</summary>
    public RuntimeEnv? RuntimeEnv { get; init; }

    /// <summary>The job's ID; when null the cluster makes one (<c>raysharp_…</c>). Must be unique in the cluster.</summary>
    public string? SubmissionId { get; init; }

    /// <summary>Free-form labels kept with the job.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

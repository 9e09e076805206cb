using RaySharp.Core.Packaging;

namespace RaySharp.Core.Jobs;

/// <summary>What a job supervisor tells the driver it starts, through its environment: the submission it belongs to
/// and the working-dir package it runs in (the driver's <c>Ray.Init</c> records both in its job, so the job's workers
/// on every node unpack the same package).</summary>
internal static class JobSubmissionEnvironment
{
    public const string SubmissionIdVariable = "RAYSHARP_JOB_SUBMISSION_ID";
    public const string WorkingDirVariable = "RAYSHARP_JOB_WORKING_DIR";

    public static string? SubmissionId =>
        Environment.GetEnvironmentVariable(SubmissionIdVariable) is { } id && JobInfoStore.IsValidId(id) ? id : null;

    public static string? WorkingDirUri =>
        Environment.GetEnvironmentVariable(WorkingDirVariable) is { } uri && WorkingDirPackage.IsUri(uri) ? uri : null;
}

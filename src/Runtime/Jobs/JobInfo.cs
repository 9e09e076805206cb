using System.Text.Json;
using System.Text.Json.Serialization;
using RaySharp.Jobs;

namespace RaySharp.Core.Jobs;

/// <summary>
/// A submitted job as stored in the GCS internal KV and served by <c>/api/jobs/</c>, with Ray's field names
/// (<c>submission_id</c>, <c>status</c> in capitals, times in milliseconds since the epoch, <c>driver_exit_code</c>).
/// </summary>
internal sealed record JobInfo
{
    [JsonPropertyName("type")] public string Type { get; init; } = "SUBMISSION";
    [JsonPropertyName("job_id")] public string? JobId { get; init; }
    [JsonPropertyName("submission_id")] public required string SubmissionId { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("entrypoint")] public required string Entrypoint { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
    [JsonPropertyName("error_type")] public string? ErrorType { get; init; }
    [JsonPropertyName("start_time")] public long? StartTime { get; init; }
    [JsonPropertyName("end_time")] public long? EndTime { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; init; }
    [JsonPropertyName("runtime_env")] public JobRuntimeEnv? RuntimeEnv { get; init; }
    [JsonPropertyName("driver_exit_code")] public int? DriverExitCode { get; init; }
    [JsonPropertyName("driver_node_id")] public string? DriverNodeId { get; init; }

    public static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public static string StatusName(JobStatus status) => status.ToString().ToUpperInvariant();

    public static JobStatus ParseStatus(string status) => Enum.TryParse<JobStatus>(status, ignoreCase: true, out var s) && Enum.IsDefined(s)
        ? s : throw new FormatException($"'{status}' is not a job status.");

    [JsonIgnore] public JobStatus StatusValue => ParseStatus(Status);

    [JsonIgnore] public bool IsTerminal => StatusValue is JobStatus.Stopped or JobStatus.Succeeded or JobStatus.Failed;

    public JobDetails ToDetails() => new()
    {
        SubmissionId = SubmissionId,
        Status = StatusValue,
        Message = Message,
        Entrypoint = Entrypoint,
        StartTime = StartTime is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null,
        EndTime = EndTime is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null,
        DriverExitCode = DriverExitCode,
        Metadata = Metadata,
    };

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static JobInfo? FromBytes(byte[]? bytes) => bytes is null ? null : JsonSerializer.Deserialize<JobInfo>(bytes, Json);
}

/// <summary>A job's runtime env on the wire: Ray's <c>working_dir</c> (a package URI) and <c>env_vars</c>.</summary>
internal sealed record JobRuntimeEnv
{
    [JsonPropertyName("working_dir")] public string? WorkingDir { get; init; }
    [JsonPropertyName("env_vars")] public Dictionary<string, string>? EnvVars { get; init; }
}

/// <summary>The body of <c>POST /api/jobs/</c> (Ray's <c>JobSubmitRequest</c>).</summary>
internal sealed record JobSubmitRequest
{
    [JsonPropertyName("entrypoint")] public string? Entrypoint { get; init; }
    [JsonPropertyName("submission_id")] public string? SubmissionId { get; init; }
    [JsonPropertyName("runtime_env")] public JobRuntimeEnv? RuntimeEnv { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; init; }
}

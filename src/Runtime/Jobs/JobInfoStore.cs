using RaySharp.Jobs;

namespace RaySharp.Core.Jobs;

/// <summary>The internal KV as the job table uses it, so the job manager and supervisor can be tested with a fake.</summary>
internal interface IInternalKv
{
    byte[]? Get(string @namespace, string key);
    bool Put(string @namespace, string key, byte[] value, bool overwrite);
    bool Delete(string @namespace, string key);
    IReadOnlyList<string> Keys(string @namespace, string prefix);
}

/// <summary>The internal KV of a GCS, through a <see cref="Rpc.GcsClient"/>.</summary>
internal sealed class GcsInternalKvClient(Rpc.GcsClient gcs) : IInternalKv
{
    public byte[]? Get(string @namespace, string key) => gcs.KvGet(@namespace, key);
    public bool Put(string @namespace, string key, byte[] value, bool overwrite) => gcs.KvPut(@namespace, key, value, overwrite);
    public bool Delete(string @namespace, string key) => gcs.KvDelete(@namespace, key);
    public IReadOnlyList<string> Keys(string @namespace, string prefix) => gcs.KvKeys(@namespace, prefix);
}

/// <summary>
/// The table of submitted jobs (Ray's <c>JobInfoStorageClient</c>): one <see cref="JobInfo"/> per submission ID in the GCS
/// internal KV (namespace <c>job</c>, key <c>_ray_internal_job_info_&lt;id&gt;</c>). The KV lives in the GCS's table
/// storage, so with Redis the job table survives a GCS restart.
/// </summary>
internal sealed class JobInfoStore(IInternalKv kv)
{
    public const string Namespace = "job";
    private const string KeyPrefix = "_ray_internal_job_info_";

    /// <summary>Longest submission ID accepted (it becomes a KV key, an actor name and a file name).</summary>
    public const int MaxIdLength = 128;

    /// <summary>True for an ID made of letters, digits, <c>-</c>, <c>_</c> and <c>.</c> (not starting with a dot): safe as a
    /// key, an actor name and part of a file name.</summary>
    public static bool IsValidId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= MaxIdLength && id[0] != '.' &&
        id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public static string NewId() => "raysharp_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    public JobInfo? Get(string id) => IsValidId(id) ? JobInfo.FromBytes(kv.Get(Namespace, KeyPrefix + id)) : null;

    /// <summary>Adds a new job; false when the ID is taken.</summary>
    public bool TryAdd(JobInfo info) => kv.Put(Namespace, KeyPrefix + info.SubmissionId, info.ToBytes(), overwrite: false);

    public void Put(JobInfo info) => kv.Put(Namespace, KeyPrefix + info.SubmissionId, info.ToBytes(), overwrite: true);

    /// <summary>Moves a job to <paramref name="status"/> unless it already reached a final status (the first final status
    /// wins: a job stopped while it was exiting stays stopped).</summary>
    public JobInfo? Transition(string id, JobStatus status, string? message, int? exitCode = null)
    {
        var info = Get(id);
        if (info is null || info.IsTerminal) return info;
        bool terminal = status is JobStatus.Stopped or JobStatus.Succeeded or JobStatus.Failed;
        var next = info with
        {
            Status = JobInfo.StatusName(status),
            Message = message ?? info.Message,
            DriverExitCode = exitCode ?? info.DriverExitCode,
            EndTime = terminal ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() : info.EndTime,
        };
        Put(next);
        return next;
    }

    public bool Delete(string id) => IsValidId(id) && kv.Delete(Namespace, KeyPrefix + id);

    public IReadOnlyList<JobInfo> All() =>
        [.. kv.Keys(Namespace, KeyPrefix).Select(k => JobInfo.FromBytes(kv.Get(Namespace, k))).OfType<JobInfo>().OrderBy(j => j.StartTime)];
}

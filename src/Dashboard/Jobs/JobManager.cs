using RaySharp.Core.Jobs;
using RaySharp.Core.Packaging;
using RaySharp.Jobs;

namespace RaySharp.Dashboard.Jobs;

/// <summary>Where a job's supervisor actor is, as the job manager watches it.</summary>
internal enum SupervisorState { Missing, Alive, Dead }

/// <summary>The supervisor actors of jobs (real: detached actors on the head node; tests may fake them).</summary>
internal interface IJobSupervisors
{
    /// <summary>Creates the job's supervisor, which starts the entrypoint.</summary>
    void Start(JobInfo job);

    /// <summary>Asks the supervisor to stop the entrypoint; false when there is no supervisor.</summary>
    Task<bool> StopAsync(string submissionId, CancellationToken ct);

    SupervisorState StateOf(string submissionId, out string? cause);

    /// <summary>Ends the supervisor actor of a finished job.</summary>
    void Kill(string submissionId);
}

/// <summary>
/// Ray's <c>JobManager</c>: accepts submissions into the job table (GCS internal KV), starts a supervisor per job, and
/// watches each running job until it ends: a finished job's supervisor is killed, and a job whose supervisor died
/// without recording an end is marked failed. After a dashboard restart it resumes watching the unfinished jobs.
/// </summary>
internal sealed class JobManager : IDisposable
{
    private readonly JobInfoStore _store;
    private readonly IJobSupervisors _supervisors;
    private readonly Func<string, bool> _packageExists;
    private readonly ILogger _logger;
    private readonly TimeSpan _pollInterval;
    private readonly CancellationTokenSource _stop = new();

    public JobManager(JobInfoStore store, IJobSupervisors supervisors, Func<string, bool> packageExists, ILogger<JobManager> logger,
        TimeSpan? pollInterval = null)
    {
        _store = store;
        _supervisors = supervisors;
        _packageExists = packageExists;
        _logger = logger;
        _pollInterval = pollInterval ?? TimeSpan.FromMilliseconds(500);
        foreach (var job in _store.All().Where(j => !j.IsTerminal)) Watch(job.SubmissionId);
    }

    public JobInfoStore Store => _store;

    /// <summary>Records a new job and starts its supervisor.</summary>
    /// <exception cref="ArgumentException">The request is invalid or the ID is taken (HTTP 400).</exception>
    public JobInfo Submit(JobSubmitRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Entrypoint)) throw new ArgumentException("The job has no entrypoint.");
        if (request.Entrypoint.Length > 64 * 1024) throw new ArgumentException("The entrypoint is longer than 64 KiB.");
        string id = request.SubmissionId ?? JobInfoStore.NewId();
        if (!JobInfoStore.IsValidId(id))
            throw new ArgumentException($"The submission ID '{id}' is not valid: use up to {JobInfoStore.MaxIdLength} letters, digits, '-', '_' or '.'.");
        var env = request.RuntimeEnv;
        if (env?.WorkingDir is { } uri)
        {
            if (!WorkingDirPackage.IsUri(uri))
                throw new ArgumentException($"runtime_env.working_dir must be an uploaded package (gcs://_ray_pkg_<hash>.zip), not '{uri}'.");
            if (!_packageExists(uri)) throw new ArgumentException($"The working-dir package {uri} was not uploaded (PUT /api/packages/gcs/...).");
        }
        foreach (var (name, value) in env?.EnvVars ?? [])
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal) || value is null)
                throw new ArgumentException($"runtime_env.env_vars has the invalid entry '{name}'.");
        if (request.Metadata is { Count: > 100 }) throw new ArgumentException("metadata has more than 100 entries.");
        var info = new JobInfo
        {
            SubmissionId = id,
            Status = JobInfo.StatusName(JobStatus.Pending),
            Entrypoint = request.Entrypoint,
            Message = "The job is waiting for its supervisor to start.",
            StartTime = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Metadata = request.Metadata,
            RuntimeEnv = env,
        };
        if (!_store.TryAdd(info)) throw new ArgumentException($"A job with submission ID '{id}' already exists; choose another ID.");
        try
        {
            _supervisors.Start(info);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Job {SubmissionId}: its supervisor could not be created", id);
            _store.Transition(id, JobStatus.Failed, $"The job supervisor could not be created: {e.Message}");
            return _store.Get(id) ?? info;
        }
        _logger.LogInformation("Job {SubmissionId} submitted: {Entrypoint}", id, info.Entrypoint);
        Watch(id);
        return info;
    }

    /// <summary>Stops a running job; false when it had already finished. Null when there is no such job.</summary>
    public async Task<bool?> StopAsync(string id, CancellationToken ct)
    {
        var info = _store.Get(id);
        if (info is null) return null;
        if (info.IsTerminal) return false;
        if (!await _supervisors.StopAsync(id, ct).ConfigureAwait(false))
            _store.Transition(id, JobStatus.Stopped, "The job was stopped before its supervisor started.");
        return true;
    }

    /// <summary>Deletes a finished job (its record and log). Null when there is no such job.</summary>
    /// <exception cref="InvalidOperationException">The job has not finished.</exception>
    public bool? Delete(string id, string logPath)
    {
        var info = _store.Get(id);
        if (info is null) return null;
        if (!info.IsTerminal)
            throw new InvalidOperationException($"Job '{id}' is {info.Status}: only a finished job can be deleted; stop it first.");
        bool deleted = _store.Delete(id);
        try { File.Delete(logPath); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return deleted;
    }

    private void Watch(string id) => _ = Task.Run(() => WatchAsync(id));

    /// <summary>Until the job ends: a finished job's supervisor is killed; a supervisor that died first fails the job.</summary>
    private async Task WatchAsync(string id)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var info = _store.Get(id);
                if (info is null) return;
                if (info.IsTerminal)
                {
                    _supervisors.Kill(id);
                    return;
                }
                if (_supervisors.StateOf(id, out var cause) == SupervisorState.Dead)
                {
                    _store.Transition(id, JobStatus.Failed, $"The job supervisor actor died: {cause ?? "unknown cause"}.");
                    return;
                }
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "Watching job {SubmissionId} failed; trying again", id);
            }
            try { await Task.Delay(_pollInterval, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}

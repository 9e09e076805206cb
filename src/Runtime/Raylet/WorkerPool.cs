using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>A worker process this raylet started.</summary>
internal sealed class WorkerProcess
{
    public required WorkerId WorkerId { get; init; }
    public required JobId JobId { get; init; }
    public required string RuntimeEnvKey { get; init; }
    public required Process Process { get; init; }
    public int ProcessId { get; set; }
    public Address? Address { get; set; }
    public TaskCompletionSource<WorkerProcess> Registered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public volatile string? DeathReason;
    public long LeaseId { get; set; }
    public bool IsActor { get; set; }
    public long IdleSinceTicks { get; set; }
    public StreamWriter? Log { get; set; }
}

/// <summary>
/// Starts, reuses and stops worker processes (Ray's <c>WorkerPool</c>). Workers are keyed by job and runtime
/// environment: a task only runs on a worker started for its job (the job's code search path) with its env vars
/// set on the process. Idle workers are kept up to the node's CPU count; extras are stopped after they idle
/// <see cref="RayConfig.IdleWorkerKillingTime"/>. Each worker's stdin is a pipe from this process: when the raylet
/// goes away, the worker reads end-of-file and exits, so a crashed raylet leaves no orphans.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(JobId, string), Stack<WorkerProcess>> _idle = [];
    private readonly Dictionary<WorkerId, WorkerProcess> _all = [];
    private readonly Dictionary<(JobId, string), List<WorkerProcess>> _prestarting = [];
    private readonly HashSet<JobId> _prestartedJobs = [];
    private readonly NodeId _nodeId;
    private readonly string _sessionDir;
    private readonly Func<string> _rayletSocket;
    private readonly Func<string> _gcsEndpoint;
    private readonly Func<JobId, CancellationToken, Task<JobRecord>> _getJob;
    private readonly Action<WorkerProcess, string> _onWorkerDied;
    private readonly Action<LogBatch> _publishLogs;
    private readonly ILogger _logger;
    private readonly RayConfig _config;
    private readonly int _maxIdle;
    private readonly Timer _idleKiller;
    private readonly string _runtimeConfig;
    private bool _disposed;

    public WorkerPool(NodeId nodeId, string sessionDir, int maxIdle, RayConfig config, Func<string> rayletSocket, Func<string> gcsEndpoint,
        Func<JobId, CancellationToken, Task<JobRecord>> getJob, Action<WorkerProcess, string> onWorkerDied, Action<LogBatch> publishLogs,
        ILogger logger)
    {
        _nodeId = nodeId;
        _sessionDir = sessionDir;
        _maxIdle = Math.Max(1, maxIdle);
        _config = config;
        _rayletSocket = rayletSocket;
        _gcsEndpoint = gcsEndpoint;
        _getJob = getJob;
        _onWorkerDied = onWorkerDied;
        _publishLogs = publishLogs;
        _logger = logger;
        Directory.CreateDirectory(Path.Combine(sessionDir, "logs"));
        Directory.CreateDirectory(Path.Combine(sessionDir, "sockets"));
        _runtimeConfig = WriteWorkerRuntimeConfig(sessionDir);
        _idleKiller = new Timer(_ => KillIdleExtras(), null, config.IdleWorkerKillingTime, config.IdleWorkerKillingTime);
    }

    public int NumWorkers
    {
        get { lock (_lock) return _all.Count; }
    }

    /// <summary>An idle worker for the job and environment, or a newly started one once it has registered.</summary>
    public async Task<WorkerProcess> PopWorkerAsync(JobId jobId, string envKey, Dictionary<string, string>? envVars, CancellationToken ct)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_idle.TryGetValue((jobId, envKey), out var idle))
                while (idle.Count > 0)
                {
                    var w = idle.Pop();
                    if (w.DeathReason is null) return w;
                }
        }
        WorkerProcess? worker = null;
        lock (_lock)
        {
            // A prestarted worker still starting up is claimed rather than starting another one.
            if (_prestarting.TryGetValue((jobId, envKey), out var starting) && starting.Count > 0)
            {
                worker = starting[^1];
                starting.RemoveAt(starting.Count - 1);
            }
        }
        var job = await _getJob(jobId, ct).ConfigureAwait(false);
        worker ??= Start(job, envKey, envVars);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_config.WorkerRegisterTimeout);
        try
        {
            return await worker.Registered.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Kill(worker, "it did not register in time");
            throw new InvalidOperationException(
                $"A worker process for job {jobId} did not start within {_config.WorkerRegisterTimeout.TotalSeconds:0} s; " +
                $"see {Path.Combine(_sessionDir, "logs", $"worker-{worker.WorkerId}.err")}.");
        }
        catch (OperationCanceledException)
        {
            // The request went away: keep the worker for the next one.
            _ = worker.Registered.Task.ContinueWith(t => { if (t.IsCompletedSuccessfully) PushWorker(t.Result); },
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>The first time a job leases a worker on this node, start workers up to the node's CPU count in the
    /// background (Ray prestarts workers for a new driver), so a burst of tasks does not wait for process starts.</summary>
    public void PrestartForJob(JobId jobId, int count)
    {
        lock (_lock)
        {
            if (_disposed || count <= 0 || !_prestartedJobs.Add(jobId)) return;
        }
        _ = PrestartAsync(jobId, count);
    }

    private async Task PrestartAsync(JobId jobId, int count)
    {
        JobRecord job;
        try
        {
            job = await _getJob(jobId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or Grpc.Core.RpcException)
        {
            return;
        }
        for (int i = 0; i < count; i++)
        {
            WorkerProcess worker;
            try
            {
                worker = Start(job, "", null);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                _logger.LogWarning("Could not prestart a worker for job {JobId}: {Message}", jobId, e.Message);
                return;
            }
            lock (_lock)
            {
                if (!_prestarting.TryGetValue((jobId, ""), out var list)) _prestarting[(jobId, "")] = list = [];
                list.Add(worker);
            }
            _ = worker.Registered.Task.ContinueWith(t =>
            {
                bool unclaimed;
                lock (_lock) unclaimed = _prestarting.TryGetValue((jobId, ""), out var list) && list.Remove(worker);
                if (unclaimed && t.IsCompletedSuccessfully) PushWorker(worker);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private WorkerProcess Start(JobRecord job, string envKey, Dictionary<string, string>? envVars)
    {
        string runtimeDll = Path.Combine(job.CodeSearchPath, "RaySharp.Runtime.dll");
        if (!File.Exists(runtimeDll))
            throw new InvalidOperationException(
                $"The job's code search path {job.CodeSearchPath} has no RaySharp.Runtime.dll, so no worker can run its code there. " +
                "Run the driver from its build output directory (dotnet run / dotnet test do this).");
        var workerId = WorkerId.FromRandom();
        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = job.CodeSearchPath,
        };
        foreach (var a in (string[])["exec", "--runtimeconfig", _runtimeConfig, runtimeDll, "worker",
            "--worker-id", workerId.ToString(), "--node-id", _nodeId.ToString(), "--job-id", job.JobId.ToString(),
            "--raylet", _rayletSocket(), "--gcs", _gcsEndpoint(), "--session-dir", _sessionDir, "--namespace", job.Namespace,
            "--code-search-path", job.CodeSearchPath])
            psi.ArgumentList.Add(a);
        // Job-level env vars first, then the task's own (a task's runtime env overrides its job's).
        foreach (var (k, v) in job.EnvVars ?? []) psi.Environment[k] = v;
        foreach (var (k, v) in envVars ?? []) psi.Environment[k] = v;
        psi.Environment["DOTNET_gcServer"] = "0";
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var worker = new WorkerProcess { WorkerId = workerId, JobId = job.JobId, RuntimeEnvKey = envKey, Process = process };
        lock (_lock) _all[workerId] = worker;
        process.Exited += (_, _) => OnExited(worker);
        process.Start();
        worker.ProcessId = process.Id;
        worker.Log = new StreamWriter(Path.Combine(_sessionDir, "logs", $"worker-{workerId}.log"), append: true, Encoding.UTF8) { AutoFlush = true };
        string prefix = $"(pid={process.Id}, node={_nodeId.ToString()[..8]})";
        process.OutputDataReceived += (_, e) => OnOutput(worker, job.JobId, prefix, e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => OnOutput(worker, job.JobId, prefix, e.Data, isError: true);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _logger.LogDebug("Started worker {WorkerId} (pid {Pid}) for job {JobId}", workerId, process.Id, job.JobId);
        return worker;
    }

    private void OnOutput(WorkerProcess worker, JobId jobId, string prefix, string? line, bool isError)
    {
        if (line is null) return;
        try { worker.Log?.WriteLine(line); } catch (ObjectDisposedException) { }
        _publishLogs(new LogBatch(jobId, prefix, [line], isError));
    }

    private static string? s_dotnet;

    /// <summary>The <c>dotnet</c> host that runs this process's runtime.</summary>
    internal static string DotnetHost()
    {
        if (s_dotnet is not null) return s_dotnet;
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        // .../shared/Microsoft.NETCore.App/<version>/ -> the dotnet root three levels up.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string candidate = Path.Combine(root, exe);
        if (!File.Exists(candidate) && Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { } hostPath && File.Exists(hostPath))
            candidate = hostPath;
        return s_dotnet = File.Exists(candidate) ? candidate : exe;
    }

    /// <summary>The runtime config workers start with: this process's .NET version, with ASP.NET Core (Kestrel).</summary>
    internal static string WriteWorkerRuntimeConfig(string sessionDir)
    {
        string path = Path.Combine(sessionDir, "worker.runtimeconfig.json");
        var v = Environment.Version;
        string json = $$"""
            {
              "runtimeOptions": {
                "tfm": "net{{v.Major}}.{{v.Minor}}",
                "frameworks": [
                  { "name": "Microsoft.NETCore.App", "version": "{{v.Major}}.{{v.Minor}}.0" },
                  { "name": "Microsoft.AspNetCore.App", "version": "{{v.Major}}.{{v.Minor}}.0" }
                ],
                "configProperties": { "System.GC.Server": false, "System.GC.Concurrent": false }
              }
            }
            """;
        string tmp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(tmp, json);
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    /// <summary>A started worker reports its endpoint; false when this pool did not start it.</summary>
    public bool OnWorkerRegistered(RegisterWorkerRequest request)
    {
        WorkerProcess? worker;
        lock (_lock) _all.TryGetValue(request.WorkerId, out worker);
        if (worker is null) return false;
        worker.Address = request.Address;
        worker.Registered.TrySetResult(worker);
        return true;
    }

    public WorkerProcess? Get(WorkerId id)
    {
        lock (_lock) return _all.GetValueOrDefault(id);
    }

    /// <summary>Returns a worker to the idle pool (it keeps running for the next task of its job and env).</summary>
    public void PushWorker(WorkerProcess worker)
    {
        if (worker.DeathReason is not null) return;
        lock (_lock)
        {
            if (_disposed) return;
            worker.IdleSinceTicks = Environment.TickCount64;
            worker.LeaseId = 0;
            var key = (worker.JobId, worker.RuntimeEnvKey);
            if (!_idle.TryGetValue(key, out var stack)) _idle[key] = stack = new();
            stack.Push(worker);
        }
    }

    private void KillIdleExtras()
    {
        var kill = new List<WorkerProcess>();
        lock (_lock)
        {
            int idleCount = _idle.Values.Sum(s => s.Count);
            long threshold = Environment.TickCount64 - (long)_config.IdleWorkerKillingTime.TotalMilliseconds;
            foreach (var stack in _idle.Values)
            {
                if (idleCount <= _maxIdle) break;
                // The longest idle go first.
                var old = stack.Where(w => w.IdleSinceTicks <= threshold).OrderBy(w => w.IdleSinceTicks).Take(idleCount - _maxIdle).ToList();
                if (old.Count == 0) continue;
                var rest = stack.Except(old).Reverse().ToList();
                stack.Clear();
                foreach (var w in rest) stack.Push(w);
                idleCount -= old.Count;
                kill.AddRange(old);
            }
        }
        foreach (var w in kill) Kill(w, "it was idle and the pool has enough workers");
    }

    /// <summary>Stops the worker's process (SIGKILL: a worker holds no state its owners still need).</summary>
    public void Kill(WorkerProcess worker, string reason)
    {
        worker.DeathReason ??= reason;
        try
        {
            if (!worker.Process.HasExited) worker.Process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private void OnExited(WorkerProcess worker)
    {
        bool wasDisposed;
        lock (_lock)
        {
            _all.Remove(worker.WorkerId);
            wasDisposed = _disposed;
            // A worker that died while idle must not be handed out or counted as idle.
            if (_idle.TryGetValue((worker.JobId, worker.RuntimeEnvKey), out var stack) && stack.Contains(worker))
            {
                var alive = stack.Where(w => w != worker).Reverse().ToList();
                stack.Clear();
                foreach (var w in alive) stack.Push(w);
            }
        }
        string reason = worker.DeathReason ?? $"the worker process (pid {worker.ProcessId}) exited unexpectedly with code {SafeExitCode(worker.Process)}";
        worker.DeathReason ??= reason;
        worker.Registered.TrySetException(new InvalidOperationException($"The worker process exited before it registered: {reason}."));
        if (worker.Address is { } a) RpcChannels.Forget(a.Endpoint);
        try { worker.Log?.Dispose(); } catch (ObjectDisposedException) { }
        if (!wasDisposed) _onWorkerDied(worker, reason);
    }

    private static string SafeExitCode(Process p)
    {
        try { return p.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        catch (InvalidOperationException) { return "unknown"; }
    }

    public void Dispose()
    {
        List<WorkerProcess> all;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            all = [.. _all.Values];
            _idle.Clear();
        }
        _idleKiller.Dispose();
        foreach (var w in all) Kill(w, "the raylet shut down");
        foreach (var w in all)
        {
            try { w.Process.WaitForExit(2000); } catch (InvalidOperationException) { }
        }
    }
}

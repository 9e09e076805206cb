using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>What a launcher needs to start one worker for a job.</summary>
/// <param name="WorkerId">The worker's ID; it registers with the raylet under it.</param>
/// <param name="NodeId">The node it runs on.</param>
/// <param name="Job">The job (code search path, namespace, job env vars).</param>
/// <param name="EnvVars">The runtime env's variables for this worker, over the job's.</param>
/// <param name="RayletEndpoint">Where the worker registers.</param>
/// <param name="GcsEndpoint">Where the worker reaches the GCS.</param>
internal sealed record WorkerStartInfo(WorkerId WorkerId, NodeId NodeId, JobRecord Job, Dictionary<string, string>? EnvVars,
    string RayletEndpoint, string GcsEndpoint);

/// <summary>A started worker as its pool controls it.</summary>
internal interface IWorkerHandle
{
    /// <summary>The worker's process ID (this process's own for a thread worker).</summary>
    int ProcessId { get; }

    /// <summary>Why the worker ended, when nobody asked it to (e.g. its exit code).</summary>
    string ExitDescription { get; }

    /// <summary>Ends the worker at once.</summary>
    void Kill(string reason);

    void WaitForExit(TimeSpan timeout);
}

/// <summary>Starts workers for a raylet's <see cref="WorkerPool"/>: processes on a node, threads in local mode
/// (DESIGN.md §9: what a worker is is the one thing the modes may differ in). A started worker registers with the
/// raylet over RPC once it serves, exactly as a worker process does.</summary>
internal interface IWorkerLauncher
{
    /// <summary>Starts a worker; <paramref name="onExited"/> is called once when it ends, however it ends.</summary>
    IWorkerHandle Start(WorkerStartInfo info, Action onExited);

    /// <summary>Where the worker's output is kept, for error messages; null when it has none of its own.</summary>
    string? LogPath(WorkerId workerId);
}

/// <summary>
/// Starts each worker as the job's own program in worker mode (<see cref="WorkerCommand"/>: <c>PROGRAM worker ...</c>, or
/// <c>dotnet exec ENTRY.dll worker ...</c>) from the job's code search path, with its
/// standard output and error captured to <c>logs/worker-&lt;id&gt;.out</c> and <c>.err</c> in the session directory, which
/// the node's <see cref="LogMonitor"/> tails and publishes to the job's driver (the worker's own runtime log is
/// <c>logs/worker-&lt;id&gt;.log</c>, written by the worker).
/// Each worker's stdin is a pipe from this process: when the raylet goes away, the worker reads end-of-file and
/// exits, so a crashed raylet leaves no orphans.
/// </summary>
internal sealed class ProcessWorkerLauncher : IWorkerLauncher
{
    private static readonly Encoding s_utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
    private readonly string _sessionDir;
    private readonly string _runtimeConfig;
    private readonly LogMonitor _logs;
    private readonly string _nodeIp;
    private readonly ClusterToken? _token;

    /// <param name="sessionDir">The session directory: workers' logs and sockets go there.</param>
    /// <param name="logs">The node's log monitor: it tails the workers' output files and publishes them to their drivers.</param>
    /// <param name="nodeIp">The node's address, for the prefix of the workers' output.</param>
    /// <param name="token">The cluster token workers get (in their environment, never on their command line).</param>
    public ProcessWorkerLauncher(string sessionDir, LogMonitor logs, string nodeIp, ClusterToken? token)
    {
        _sessionDir = sessionDir;
        _logs = logs;
        _nodeIp = nodeIp;
        _token = token;
        SessionFiles.CreatePrivateDirectory(Path.Combine(sessionDir, "logs"));
        SessionFiles.CreatePrivateDirectory(Path.Combine(sessionDir, "sockets"));
        _runtimeConfig = WriteWorkerRuntimeConfig(sessionDir);
    }

    /// <summary>The worker's captured standard error (a crash's stack trace lands there); <c>.out</c> and <c>.log</c>
    /// beside it hold its standard output and its runtime log.</summary>
    public string? LogPath(WorkerId workerId) => OutputPath(workerId, ".err");

    private string OutputPath(WorkerId workerId, string extension) => Path.Combine(_sessionDir, "logs", $"worker-{workerId}{extension}");

    public IWorkerHandle Start(WorkerStartInfo info, Action onExited)
    {
        var job = info.Job;
        WorkerEnvironment.Validate(job, info.EnvVars);
        string program = job.WorkerProgram ?? throw new InvalidOperationException(
            $"Job {job.JobId} names no program to run its workers: its driver runs in a host RaySharp cannot start again.");
        if (!File.Exists(Path.Combine(job.CodeSearchPath, program)))
            throw new InvalidOperationException(
                $"The job's worker program {Path.Combine(job.CodeSearchPath, program)} does not exist, so no worker can run its code. " +
                "Run the driver from its build or publish output directory (dotnet run / dotnet test do this).");
        var psi = WorkerCommand.StartInfo(program, job.CodeSearchPath, _runtimeConfig, ["worker",
            "--worker-id", info.WorkerId.ToString(), "--node-id", info.NodeId.ToString(), "--job-id", job.JobId.ToString(),
            "--raylet", info.RayletEndpoint, "--gcs", info.GcsEndpoint, "--session-dir", _sessionDir, "--namespace", job.Namespace,
            "--code-search-path", job.CodeSearchPath]);
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = job.LocalWorkingDir ?? job.CodeSearchPath;
        // Job-level env vars first, then the task's own (a task's runtime env overrides its job's).
        foreach (var (k, v) in job.EnvVars ?? []) psi.Environment[k] = v;
        foreach (var (k, v) in info.EnvVars ?? []) psi.Environment[k] = v;
        psi.Environment["DOTNET_gcServer"] = "0";
        // Start-up settings a job or the node's own environment may override: no double-mapped (write-xor-execute) code
        // pages and no tiered PGO instrumentation cut a worker's start and its memory (bench/README, "Worker start").
        foreach (var (name, value) in s_startupDefaults)
            if (!psi.Environment.ContainsKey(name)) psi.Environment[name] = value;
        if (_token is not null) psi.Environment[ClusterToken.Variable] = _token.Value;
        // The worker binds and advertises its node's address (after the job's variables: a job cannot move it).
        psi.Environment[NodeIpAddress.Variable] = _nodeIp;
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var handle = new ProcessHandle(process,
            new StreamWriter(OutputPath(info.WorkerId, ".out"), append: true, s_utf8) { AutoFlush = true },
            new StreamWriter(OutputPath(info.WorkerId, ".err"), append: true, s_utf8) { AutoFlush = true });
        process.Exited += (_, _) =>
        {
            handle.OnExited();
            onExited();
            // The output pipes drain to end-of-file first; then the process object, its stdin pipe (the worker's
            // lifeline) and its stream readers are released, so a long-lived raylet does not leak descriptors. The log
            // monitor then publishes what is left in its files and stops tailing them.
            _ = Task.Run(() =>
            {
                handle.Release();
                _logs.Stop(info.WorkerId);
            });
        };
        try
        {
            process.Start();
        }
        catch
        {
            // Nothing will exit to release them: the log files and the process object are closed here.
            handle.CloseLog();
            process.Dispose();
            throw;
        }
        _logs.Track(info.WorkerId, job.JobId, process.Id, _nodeIp, info.NodeId);
        process.OutputDataReceived += (_, e) => OnOutput(handle, e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => OnOutput(handle, e.Data, isError: true);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return handle;
    }

    /// <summary>A line of the worker's output goes to its file; the log monitor takes it from there to the driver.</summary>
    private static void OnOutput(ProcessHandle worker, string? line, bool isError)
    {
        if (line is not null) worker.WriteLog(line, isError);
    }

    private sealed class ProcessHandle(Process process, StreamWriter stdout, StreamWriter stderr) : IWorkerHandle
    {
        private int _pid;
        private string? _exitCode;
        private int _released;

        public int ProcessId => _pid != 0 ? _pid : _pid = SafeId(process);

        public string ExitDescription =>
            $"the worker process (pid {ProcessId}) exited unexpectedly with code {_exitCode ?? ExitCode()}";

        private string ExitCode()
        {
            try { return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture); }
            catch (InvalidOperationException) { return "unknown"; }
        }

        /// <summary>Remembers what the pool asks after the process object is gone.</summary>
        public void OnExited()
        {
            _ = ProcessId;
            _exitCode = ExitCode();
        }

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            try
            {
                process.WaitForExit(); // the redirected output has reached end-of-file
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
            CloseLog();
            try
            {
                process.StandardInput.Dispose();
            }
            catch (Exception e) when (e is InvalidOperationException or IOException)
            {
            }
            process.Dispose();
        }

        public void Kill(string reason)
        {
            if (Volatile.Read(ref _released) == 1) return;
            try
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or ObjectDisposedException)
            {
                // Already gone.
            }
        }

        public void WaitForExit(TimeSpan timeout)
        {
            if (Volatile.Read(ref _released) == 1) return;
            try { process.WaitForExit(timeout); } catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException) { }
        }

        public void WriteLog(string line, bool isError)
        {
            var log = isError ? stderr : stdout;
            lock (log)
            {
                try { log.WriteLine(line); } catch (Exception e) when (e is ObjectDisposedException or IOException) { }
            }
        }

        public void CloseLog()
        {
            foreach (var log in (StreamWriter[])[stdout, stderr])
            {
                lock (log)
                {
                    try { log.Dispose(); } catch (Exception e) when (e is ObjectDisposedException or IOException) { }
                }
            }
        }

        private static int SafeId(Process p)
        {
            try { return p.Id; } catch (InvalidOperationException) { return 0; }
        }
    }

    private static readonly (string Name, string Value)[] s_startupDefaults =
        [("DOTNET_EnableWriteXorExecute", "0"), ("DOTNET_TieredPGO", "0")];

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
}

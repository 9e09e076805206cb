using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core.Packaging;
using RaySharp.Core.Rpc;
using RaySharp.Jobs;

namespace RaySharp.Core.Jobs;

/// <summary>
/// The actor that runs one submitted job (Ray's <c>JobSupervisor</c>), created detached on the head node by the
/// dashboard's job manager, so it outlives the HTTP request and the dashboard. Its constructor starts the entrypoint
/// as a shell command line in a session of its own (so a stop reaches the whole process group), with the job's env
/// vars, in its unpacked working dir, with <c>RAY_ADDRESS</c> naming the cluster; the output goes to
/// <c>logs/job-driver-&lt;id&gt;.log</c> in the head's session, and every status change to the job table.
/// </summary>
/// <remarks>The source generator does not run on the runtime assembly, so <see cref="Functions"/> is written by hand in
/// the shape the generator emits; worker processes register it at start (<see cref="Functions.Register"/>).</remarks>
internal sealed partial class JobSupervisor
{
    /// <summary>How long a stopped entrypoint has between SIGTERM and SIGKILL (Ray's <c>RAY_JOB_STOP_WAIT_TIME_S</c>, 3 s).</summary>
    public static TimeSpan StopWaitTime { get; } = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("RAY_JOB_STOP_WAIT_TIME_S"), System.Globalization.CultureInfo.InvariantCulture, out var s) && s >= 0 ? s : 3);

    private readonly string _submissionId;
    private readonly JobInfoStore _jobs;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Task _run;
    private Process? _process;
    private bool _stopRequested;

    /// <param name="submissionId">The job.</param>
    /// <param name="entrypoint">Its shell command line.</param>
    /// <param name="envVars">Its env vars.</param>
    /// <param name="workingDirUri">Its working-dir package, or null.</param>
    /// <param name="sessionDir">The head node's session directory (logs, unpacked packages).</param>
    /// <param name="gcsAddress">The cluster, for the entrypoint's <c>RAY_ADDRESS</c> and the job table.</param>
    public JobSupervisor(string submissionId, string entrypoint, Dictionary<string, string>? envVars, string? workingDirUri, string sessionDir,
        string gcsAddress)
        : this(submissionId, entrypoint, envVars, workingDirUri, sessionDir, gcsAddress,
            new GcsClient(gcsAddress, RayConfig.FromEnvironment()), NullLogger.Instance)
    {
    }

    internal JobSupervisor(string submissionId, string entrypoint, Dictionary<string, string>? envVars, string? workingDirUri, string sessionDir,
        string gcsAddress, GcsClient gcs, ILogger logger)
    {
        if (!JobInfoStore.IsValidId(submissionId)) throw new ArgumentException($"'{submissionId}' is not a valid submission ID.", nameof(submissionId));
        _submissionId = submissionId;
        _jobs = new JobInfoStore(new GcsInternalKvClient(gcs));
        _logger = logger;
        var packages = new WorkingDirCache(sessionDir, (uri, ct) => Task.Run(() => gcs.KvGet(WorkingDirPackage.KvNamespace, uri), ct), logger);
        _run = Task.Run(() => RunAsync(entrypoint, envVars, workingDirUri, sessionDir, gcsAddress, packages));
    }

    /// <summary>The job's log file.</summary>
    public static string LogPath(string sessionDir, string submissionId) =>
        Path.Combine(Worker.NodeHost.LogDir(sessionDir), $"job-driver-{submissionId}.log");

    private async Task RunAsync(string entrypoint, Dictionary<string, string>? envVars, string? workingDirUri, string sessionDir, string gcsAddress,
        WorkingDirCache packages)
    {
        try
        {
            string? workingDir = workingDirUri is null ? null : await packages.GetAsync(workingDirUri, CancellationToken.None).ConfigureAwait(false);
            var psi = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])["/bin/sh", "-c", entrypoint]) psi.ArgumentList.Add(a);
            if (workingDir is not null) psi.WorkingDirectory = workingDir;
            foreach (var (k, v) in envVars ?? []) psi.Environment[k] = v;
            psi.Environment["RAY_ADDRESS"] = gcsAddress;
            psi.Environment[JobSubmissionEnvironment.SubmissionIdVariable] = _submissionId;
            if (workingDirUri is not null) psi.Environment[JobSubmissionEnvironment.WorkingDirVariable] = workingDirUri;
            // The worker's own tuning is not the job's business.
            psi.Environment.Remove("DOTNET_gcServer");
            await using var log = new FileStream(LogPath(sessionDir, _submissionId), FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            Process process;
            lock (_lock)
            {
                if (_stopRequested)
                {
                    _jobs.Transition(_submissionId, JobStatus.Stopped, "The job was stopped before its entrypoint started.");
                    return;
                }
                process = Process.Start(psi) ?? throw new InvalidOperationException("the shell did not start");
                _process = process;
            }
            using var _ = process;
            _jobs.Transition(_submissionId, JobStatus.Running, $"The entrypoint runs (pid {process.Id}).");
            LogStarted(_logger, _submissionId, entrypoint, process.Id);
            var pumps = Task.WhenAll(PumpAsync(process.StandardOutput.BaseStream, log), PumpAsync(process.StandardError.BaseStream, log));
            await process.WaitForExitAsync().ConfigureAwait(false);
            await pumps.ConfigureAwait(false);
            int code = process.ExitCode;
            bool stopped;
            lock (_lock) stopped = _stopRequested;
            if (stopped) _jobs.Transition(_submissionId, JobStatus.Stopped, "The job was stopped.", code);
            else if (code == 0) _jobs.Transition(_submissionId, JobStatus.Succeeded, "The entrypoint finished.", code);
            else _jobs.Transition(_submissionId, JobStatus.Failed, $"The entrypoint exited with code {code}; its output is in the job's logs.", code);
        }
        catch (Exception e)
        {
            LogRunFailed(_logger, e, _submissionId);
            try
            {
                _jobs.Transition(_submissionId, JobStatus.Failed, $"The job supervisor could not run the entrypoint: {e.Message}");
            }
            catch (Exception recordFailure)
            {
                LogRecordingFailed(_logger, recordFailure, _submissionId);
            }
        }
    }


    /// <summary>Copies one output stream of the entrypoint into the log file (both streams share it, chunk by chunk).</summary>
    private static async Task PumpAsync(Stream source, FileStream log)
    {
        var buffer = new byte[8192];
        int n;
        while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            lock (log)
            {
                log.Write(buffer, 0, n);
                log.Flush();
            }
        }
    }

    /// <summary>Stops the entrypoint: SIGTERM to its process group, SIGKILL to its process tree after
    /// <see cref="StopWaitTime"/>. True when the job was still running (or had not started).</summary>
    public async Task<bool> StopAsync()
    {
        Process? process;
        lock (_lock)
        {
            if (_stopRequested) return true;
            _stopRequested = true;
            process = _process;
        }
        if (process is not null)
        {
            try
            {
                if (process.HasExited) return false;
                // setsid made the shell a process-group leader: the negative pid reaches everything it started.
                if (Kill(-process.Id, SigTerm) != 0) Kill(process.Id, SigTerm);
            }
            catch (InvalidOperationException)
            {
                return false;
            }
            if (!process.WaitForExit(StopWaitTime))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
        }
        await _run.WaitAsync(StopWaitTime + TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return true;
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>The supervisor's remote functions, as the source generator would emit them.</summary>
    internal static class Functions
    {
        private const string ClassName = "RaySharp.Core.Jobs.JobSupervisor";
        private const string CtorSignature = ClassName + "..ctor(string,string,System.Collections.Generic.Dictionary<string,string>,string,string,string)";
        private const string StopSignature = ClassName + ".StopAsync()";

        public static readonly Internal.ActorClassDescriptor ActorClass = new()
        {
            Name = ClassName,
            Options = new ActorOptions { NumCpus = 0 },
            HasAsyncMethods = true,
        };

        public static readonly Internal.RemoteFunctionDescriptor Ctor = new()
        {
            FunctionId = Internal.FunctionIdHash.Compute(CtorSignature),
            Signature = CtorSignature,
            Name = ClassName + "..ctor",
            Kind = Internal.FunctionKind.ActorCreation,
            ReturnKind = Internal.ReturnKind.Void,
            Invoker = inv =>
            {
                inv.SetActor(new JobSupervisor(inv.Arg<string>(0), inv.Arg<string>(1), inv.Arg<Dictionary<string, string>?>(2), inv.Arg<string?>(3),
                    inv.Arg<string>(4), inv.Arg<string>(5)));
                return default;
            },
            ActorClass = ActorClass,
        };

        public static readonly Internal.RemoteFunctionDescriptor Stop = new()
        {
            FunctionId = Internal.FunctionIdHash.Compute(StopSignature),
            Signature = StopSignature,
            Name = ClassName + ".StopAsync",
            Kind = Internal.FunctionKind.ActorMethod,
            ReturnKind = Internal.ReturnKind.Value,
            Invoker = async inv => inv.Return(await inv.Actor<JobSupervisor>().StopAsync().ConfigureAwait(false)),
            ActorClass = ActorClass,
            IsAsync = true,
        };

        /// <summary>Registers the supervisor in this process's function table (worker processes call it at start).</summary>
        public static void Register()
        {
            Internal.FunctionRegistry.Register(Ctor);
            Internal.FunctionRegistry.Register(Stop);
        }

        /// <summary>Creates a supervisor actor with <paramref name="options"/> (name, placement, lifetime).</summary>
        public static ActorHandle<JobSupervisor> Create(ActorOptions options, string submissionId, string entrypoint, Dictionary<string, string>? envVars,
            string? workingDirUri, string sessionDir, string gcsAddress)
        {
            var call = Internal.RemoteCall.ForActorCreation(Ctor, options, 6);
            call.Add<string>(submissionId);
            call.Add<string>(entrypoint);
            call.Add<Dictionary<string, string>?>(envVars);
            call.Add<string?>(workingDirUri);
            call.Add<string>(sessionDir);
            call.Add<string>(gcsAddress);
            return call.CreateActor<JobSupervisor>();
        }

        /// <summary>Calls <see cref="StopAsync"/> on the actor.</summary>
        public static ObjectRef<bool> StopAsync(ActorHandle<JobSupervisor> actor) =>
            Internal.RemoteCall.ForActorMethod(actor, Stop, 0).Invoke<bool>();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {SubmissionId}: started '{Entrypoint}' (pid {Pid})")]
    private static partial void LogStarted(ILogger logger, string submissionId, string entrypoint, int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {SubmissionId} failed to run")]
    private static partial void LogRunFailed(ILogger logger, Exception e, string submissionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {SubmissionId}: recording its failure failed")]
    private static partial void LogRecordingFailed(ILogger logger, Exception e, string submissionId);
}

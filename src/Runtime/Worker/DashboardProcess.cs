using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Raylet;

namespace RaySharp.Core.Worker;

/// <summary>
/// The head node's dashboard (<c>RaySharp.Dashboard.dll</c>, a process of its own as Ray's dashboard is), started by the
/// head node process (<c>raysharp start --head</c>, a <c>TestCluster</c> head) or an embedded cluster's driver as
/// <c>dotnet exec --runtimeconfig &lt;session&gt;/worker.runtimeconfig.json RaySharp.Dashboard.dll --gcs … --host … --port …</c>.
/// The assembly is found next to <c>RaySharp.Runtime.dll</c> (the build output of any project referencing
/// RaySharp.Dashboard, and the <c>raysharp</c> tool), or at <c>RAYSHARP_DASHBOARD_DLL</c>. Its stdin is a pipe from
/// this process: when this process goes, the dashboard reads end-of-file and exits, so it never outlives its head.
/// </summary>
internal sealed partial class DashboardProcess : IDisposable
{
    public const string ReadyMarker = "RAYSHARP_DASHBOARD_READY";
    public const string AssemblyName = "RaySharp.Dashboard.dll";
    public const string AssemblyVariable = "RAYSHARP_DASHBOARD_DLL";

    /// <summary>Ray's default dashboard port.</summary>
    public const int DefaultPort = 8265;

    private readonly Process _process;

    private DashboardProcess(Process process, string url)
    {
        _process = process;
        Url = url;
    }

    /// <summary>Where the dashboard serves, <c>http://HOST:PORT</c>.</summary>
    public string Url { get; }

    public int ProcessId => _process.Id;

    /// <summary>The dashboard assembly this process would start, or null when there is none.</summary>
    public static string? FindAssembly()
    {
        if (Environment.GetEnvironmentVariable(AssemblyVariable) is { Length: > 0 } configured) return File.Exists(configured) ? configured : null;
        string beside = Path.Combine(Path.GetDirectoryName(typeof(DashboardProcess).Assembly.Location) ?? AppContext.BaseDirectory, AssemblyName);
        if (File.Exists(beside)) return beside;
        string inBase = Path.Combine(AppContext.BaseDirectory, AssemblyName);
        return File.Exists(inBase) ? inBase : null;
    }

    /// <summary>Starts the dashboard of the cluster at <paramref name="gcsAddress"/> on <paramref name="host"/>:<paramref name="port"/>
    /// (0: any free port) and waits until it serves.</summary>
    /// <exception cref="InvalidOperationException">No dashboard assembly, or it did not start (its error is in the message).</exception>
    public static async Task<DashboardProcess> StartAsync(string gcsAddress, string host, int port, string sessionDir, ClusterToken token, ILogger logger,
        CancellationToken ct = default)
    {
        string dll = FindAssembly() ?? throw new InvalidOperationException(
            $"The dashboard was asked for, but {AssemblyName} is neither next to RaySharp.Runtime.dll nor at {AssemblyVariable}. Reference the " +
            "RaySharp.Dashboard project or package, or start without a dashboard (--include-dashboard false).");
        string runtimeConfig = ProcessWorkerLauncher.WriteWorkerRuntimeConfig(sessionDir);
        var psi = new ProcessStartInfo(ProcessWorkerLauncher.DotnetHost())
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var a in (string[])["exec", "--runtimeconfig", runtimeConfig, dll, "--gcs", gcsAddress, "--host", host,
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--session-dir", sessionDir, "--lifeline"])
            psi.ArgumentList.Add(a);
        psi.Environment[ClusterToken.Variable] = token.Value;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("The dashboard process did not start.");
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errors) if (errors.Length < 8000) errors.AppendLine(e.Data);
            LogError(logger, e.Data);
        };
        process.BeginErrorReadLine();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
                if (line is null)
                {
                    await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                    string error;
                    lock (errors) error = errors.ToString().Trim();
                    throw new InvalidOperationException($"The dashboard exited with code {process.ExitCode} before serving: {error}");
                }
                if (!line.StartsWith(ReadyMarker, StringComparison.Ordinal)) continue;
                string url = line.Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2 && f[0] == "url").Select(f => f[1]).Single();
                // Its later output is not needed (it logs to logs/dashboard.log): drain it so it never blocks on a full pipe.
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                LogServing(logger, process.Id, url);
                return new DashboardProcess(process, url);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Kill(process);
            throw new InvalidOperationException("The dashboard did not start within 60 s; see logs/dashboard.log in the session directory.");
        }
        catch
        {
            Kill(process);
            throw;
        }
    }

    private static void Kill(Process process)
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        process.Dispose();
    }

    /// <summary>Stops the dashboard: its lifeline closes and it exits; killed if it has not within 5 s.</summary>
    public void Dispose()
    {
        try { _process.StandardInput.Close(); } catch (IOException) { }
        if (!_process.WaitForExit(5000)) Kill(_process);
        else _process.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "dashboard: {Line}")]
    private static partial void LogError(ILogger logger, string line);

    [LoggerMessage(Level = LogLevel.Information, Message = "The dashboard (pid {Pid}) serves at {Url}")]
    private static partial void LogServing(ILogger logger, int pid, string url);
}

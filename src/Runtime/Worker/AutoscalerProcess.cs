using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Raylet;

namespace RaySharp.Core.Worker;

/// <summary>
/// The head node's autoscaler (<c>RaySharp.Autoscaler.dll</c>, a process of its own as Ray's monitor is), started by the
/// head node process when it is given <c>--autoscaling-config FILE</c> (<c>raysharp start --head --autoscaling-config</c>,
/// a <c>TestCluster</c> with <c>AutoscalingConfig</c>). The assembly is found next to <c>RaySharp.Runtime.dll</c> (the
/// <c>raysharp</c> tool and any project referencing RaySharp.Autoscaler put it there) or at <c>RAYSHARP_AUTOSCALER_DLL</c>.
/// Its stdin is a pipe from the head: when the head goes, the autoscaler reads end-of-file and stops, and the nodes its
/// local provider started stop with it. It logs to <c>logs/autoscaler.log</c>; its console output goes to the head's log.
/// </summary>
internal sealed partial class AutoscalerProcess : IDisposable
{
    public const string ReadyMarker = "RAYSHARP_AUTOSCALER_READY";
    public const string AssemblyName = "RaySharp.Autoscaler.dll";
    public const string AssemblyVariable = "RAYSHARP_AUTOSCALER_DLL";
    public const string LogName = "autoscaler.log";

    private readonly Process _process;

    private AutoscalerProcess(Process process) => _process = process;

    public int ProcessId => _process.Id;

    /// <summary>Starts the autoscaler of the cluster at <paramref name="gcsAddress"/> with the config at <paramref name="configPath"/>.</summary>
    /// <exception cref="InvalidOperationException">The assembly is not there, or the process did not start.</exception>
    public static AutoscalerProcess Start(string gcsAddress, string configPath, string sessionDir, ClusterToken token, ILogger logger)
    {
        string dll = Environment.GetEnvironmentVariable(AssemblyVariable) is { Length: > 0 } configured ? configured
            : Path.Combine(Path.GetDirectoryName(typeof(AutoscalerProcess).Assembly.Location) ?? AppContext.BaseDirectory, AssemblyName);
        if (!File.Exists(dll))
            throw new InvalidOperationException($"An autoscaling config was given, but {dll} does not exist. Reference the RaySharp.Autoscaler project " +
                $"(the raysharp tool has it), or set {AssemblyVariable}.");
        var psi = new ProcessStartInfo(ProcessWorkerLauncher.DotnetHost())
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var a in (string[])["exec", "--runtimeconfig", ProcessWorkerLauncher.WriteWorkerRuntimeConfig(sessionDir), dll, "--gcs", gcsAddress,
            "--config", Path.GetFullPath(configPath), "--session-dir", sessionDir, "--lifeline"])
            psi.ArgumentList.Add(a);
        psi.Environment[ClusterToken.Variable] = token.Value;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("The autoscaler process did not start.");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) LogOutput(logger, e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) LogError(logger, e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        LogStarted(logger, process.Id, configPath, Path.Combine(NodeHost.LogDir(sessionDir), LogName));
        return new AutoscalerProcess(process);
    }

    /// <summary>Stops the autoscaler (its lifeline closes; it stops its local nodes); killed with them if it has not within 15 s.</summary>
    public void Dispose()
    {
        try { _process.StandardInput.Close(); } catch (IOException) { }
        try
        {
            if (!_process.WaitForExit(15_000)) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "autoscaler: {Line}")]
    private static partial void LogOutput(ILogger logger, string line);

    [LoggerMessage(Level = LogLevel.Warning, Message = "autoscaler: {Line}")]
    private static partial void LogError(ILogger logger, string line);

    [LoggerMessage(Level = LogLevel.Information, Message = "The autoscaler (pid {Pid}) runs with {Config}; it logs to {Log}")]
    private static partial void LogStarted(ILogger logger, int pid, string config, string log);
}

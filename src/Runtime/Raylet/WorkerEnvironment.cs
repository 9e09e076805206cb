using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>
/// Checks what a job or task asks of a worker process before one is started with it: env vars and the code search
/// path come from the wire (a driver's job record, a task's runtime env), so none may change how the .NET host loads
/// code — a startup hook or a profiler named there would run arbitrary code in every worker of the node.
/// </summary>
internal static class WorkerEnvironment
{
    // Exact names, and prefixes (CORECLR_PROFILER_PATH_64, COR_PROFILER_PATH, ...). DOTNET_gcServer and the like only
    // tune the runtime, and stay allowed.
    private static readonly string[] s_forbiddenNames =
    [
        "LD_PRELOAD", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", ClusterToken.Variable,
    ];

    // What the raylet itself hands its workers: their address and TLS (a job must not move a worker off its node's
    // address or out of TLS).
    private static readonly string[] s_nodeSettings = [NodeIpAddress.Variable, .. ClusterTls.Variables];

    private static readonly string[] s_forbiddenPrefixes =
    [
        "DOTNET_STARTUP_HOOKS", "DOTNET_ADDITIONAL_DEPS", "DOTNET_SHARED_STORE", "DOTNET_ROOT", "DOTNET_DiagnosticPorts",
        "COMPlus_DiagnosticPorts", "DOTNET_EnableDiagnostics", "COMPlus_EnableDiagnostics",
        "CORECLR_PROFILER", "CORECLR_ENABLE_PROFILING", "COR_PROFILER", "COR_ENABLE_PROFILING",
    ];

    /// <summary>True when <paramref name="name"/> would change how a worker process loads code.</summary>
    public static bool IsForbidden(string name) =>
        s_forbiddenNames.Any(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) ||
        s_forbiddenPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>Throws <see cref="InvalidOperationException"/>, naming the problem, for a forbidden env var name or a
    /// code search path that is not an existing absolute directory; the lease that asked for the worker fails with it.</summary>
    public static void Validate(JobRecord job, IReadOnlyDictionary<string, string>? taskEnvVars)
    {
        CheckNames("job", job.EnvVars?.Keys);
        CheckNames("task's runtime env", taskEnvVars?.Keys);
        string path = job.CodeSearchPath;
        if (string.IsNullOrEmpty(path) || !Path.IsPathFullyQualified(path) || path.Contains('\0', StringComparison.Ordinal) || !Directory.Exists(path))
            throw new InvalidOperationException(
                $"The job's code search path '{path}' is not an existing absolute directory on this node; no worker can start from it.");
    }

    private static void CheckNames(string source, IEnumerable<string>? names)
    {
        foreach (var name in names ?? [])
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
                throw new InvalidOperationException($"The {source} env var name '{name}' is not a valid environment variable name.");
            if (s_nodeSettings.Any(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)))
                throw new InvalidOperationException(
                    $"The {source} sets the env var {name}, which the node sets for its workers itself; RaySharp refuses it. " +
                    "Remove it from RuntimeEnv.EnvVars.");
            if (IsForbidden(name))
                throw new InvalidOperationException(
                    $"The {source} sets the env var {name}, which changes how the .NET host loads code in worker processes; " +
                    "RaySharp refuses it. Remove it from RuntimeEnv.EnvVars.");
        }
    }
}

using System.Diagnostics;
using System.Reflection;

namespace RaySharp.Core.Raylet;

/// <summary>
/// How RaySharp starts its own processes — workers, nodes, a GCS: by running a program that already has RaySharp and the
/// job's code again in RaySharp's mode, as Ray starts its workers from the job's own code. The program is the driver's
/// own: its executable (an app host, a self-contained or single-file app), or, when <c>dotnet</c> runs it (<c>dotnet
/// app.dll</c>, a test host), its entry assembly run with <c>dotnet exec</c>. A .NET startup hook in RaySharp.Runtime
/// (<c>StartupHook</c>, enabled through <c>DOTNET_STARTUP_HOOKS</c> for these processes only) runs before the program's
/// <c>Main</c>, runs the worker, node or GCS named on the command line and exits, so the program's <c>Main</c> never runs
/// there. The same program therefore works framework-dependent, self-contained and as a single file, with no second
/// executable to ship (docs/packages.md).
/// </summary>
internal static class WorkerCommand
{
    /// <summary>Set (to 1) for a process started in RaySharp's mode; the startup hook does nothing without it.</summary>
    public const string ModeVariable = "RAYSHARP_WORKER_MODE";

    /// <summary>The runtime's list of startup hook assemblies.</summary>
    public const string HooksVariable = "DOTNET_STARTUP_HOOKS";

    /// <summary>The hook by assembly name: found in the program's own assemblies whatever its layout (a directory, a
    /// self-contained app, a single-file bundle).</summary>
    private const string HookAssembly = "RaySharp.Runtime";

    /// <summary>The variables a started process gets beyond its parent's.</summary>
    public static IReadOnlyList<string> Variables { get; } = [ModeVariable, HooksVariable];

    /// <summary>The program this process runs, as a job records it for its workers: relative to
    /// <paramref name="codeSearchPath"/> when it is there (a node that unpacked the job's working dir finds it there),
    /// else absolute; null when there is no program that can be run again (a native host with no entry assembly).</summary>
    public static string? ThisProgram(string codeSearchPath)
    {
        string? program = Environment.ProcessPath is { } process && !IsDotnet(process) ? process : EntryAssemblyPath();
        if (program is null) return null;
        string relative = Path.GetRelativePath(codeSearchPath, program);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? program : relative;
    }

    /// <summary>The entry assembly's file; null for a single-file app's (it has none on disk) or when there is none.</summary>
    private static string? EntryAssemblyPath() => Assembly.GetEntryAssembly()?.Location is { Length: > 0 } path ? path : null;

    private static bool IsDotnet(string path) =>
        Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase);

    /// <summary>A start of <paramref name="program"/> (relative to <paramref name="codeDir"/>, or absolute) in RaySharp's
    /// mode with <paramref name="args"/>: an assembly (<c>.dll</c>) runs under <c>dotnet exec</c> with
    /// <paramref name="runtimeConfig"/>, which names the shared frameworks the runtime needs; anything else is run as it is.
    /// The caller sets redirection and the working directory.</summary>
    public static ProcessStartInfo StartInfo(string program, string codeDir, string runtimeConfig, IEnumerable<string> args)
    {
        string path = Path.Combine(codeDir, program);
        ProcessStartInfo psi;
        if (path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            psi = new ProcessStartInfo(ProcessWorkerLauncher.DotnetHost());
            foreach (var a in (string[])["exec", "--runtimeconfig", runtimeConfig, path]) psi.ArgumentList.Add(a);
        }
        else
        {
            EnsureExecutable(path);
            psi = new ProcessStartInfo(path);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.UseShellExecute = false;
        psi.Environment[HooksVariable] = WithHook(psi.Environment.TryGetValue(HooksVariable, out var hooks) ? hooks : null);
        psi.Environment[ModeVariable] = "1";
        return psi;
    }

    /// <summary>The startup hook list with RaySharp's added: hooks the user has (a profiler, instrumentation) run first,
    /// RaySharp's last, as it never returns.</summary>
    internal static string WithHook(string? hooks) => WithoutHook(hooks) is { } others ? others + Path.PathSeparator + HookAssembly : HookAssembly;

    /// <summary>The startup hook list without RaySharp's; null when nothing is left.</summary>
    internal static string? WithoutHook(string? hooks)
    {
        var others = (hooks ?? "").Split(Path.PathSeparator).Where(h => h.Length > 0 && h != HookAssembly).ToArray();
        return others.Length == 0 ? null : string.Join(Path.PathSeparator, others);
    }

    /// <summary>Takes RaySharp's mode out of this process's environment, so programs it starts (a task may run one) are
    /// not RaySharp processes; the user's own startup hooks stay.</summary>
    internal static void LeaveMode()
    {
        Environment.SetEnvironmentVariable(ModeVariable, null);
        Environment.SetEnvironmentVariable(HooksVariable, WithoutHook(Environment.GetEnvironmentVariable(HooksVariable)));
    }

    /// <summary>A program unpacked from a job's working dir has lost its execute bit: it gets it back.</summary>
    private static void EnsureExecutable(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path)) return;
        var mode = File.GetUnixFileMode(path);
        if ((mode & UnixFileMode.UserExecute) == 0) File.SetUnixFileMode(path, mode | UnixFileMode.UserExecute);
    }
}

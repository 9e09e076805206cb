namespace RaySharp;

/// <summary>
/// The environment a task or actor runs in. <see cref="EnvVars"/> are set for the worker that runs it; workers
/// are reused only for the same runtime environment. In local mode everything shares one process, so the
/// variables are set process-wide while the task runs (see docs/local-mode.md).
/// </summary>
public sealed record RuntimeEnv
{
    /// <summary>Environment variables to set for the task or actor.</summary>
    public IReadOnlyDictionary<string, string>? EnvVars { get; init; }

    /// <summary>Working directory for the worker (relative paths resolve against it). On a cluster the directory is
    /// packed, uploaded once to the GCS and unpacked on every node that runs the work, which runs there (and, when
    /// the directory holds the program's build output, loads its code from there): nodes need no shared filesystem.
    /// See docs/jobs.md.</summary>
    public string? WorkingDir { get; init; }

    /// <summary>Checks what a worker could not apply: variable names that are empty or contain '=' or NUL (the OS
    /// cannot set them), and a working directory that does not exist here.</summary>
    /// <exception cref="ArgumentException">Names the bad entry.</exception>
    internal void Validate(string paramName)
    {
        foreach (var (name, value) in EnvVars ?? new Dictionary<string, string>())
        {
            if (string.IsNullOrWhiteSpace(name) || name.Contains('=') || name.Contains('\0'))
                throw new ArgumentException(
                    $"RuntimeEnv.EnvVars has the variable name '{name}': a name must be non-empty and contain neither '=' nor NUL.", paramName);
            if (value is null)
                throw new ArgumentException($"RuntimeEnv.EnvVars[\"{name}\"] is null; use an empty string to set an empty value.", paramName);
        }
        if (WorkingDir is { } dir && !Core.Packaging.WorkingDirPackage.IsUri(dir) && !Directory.Exists(dir))
            throw new ArgumentException($"RuntimeEnv.WorkingDir '{dir}' does not exist (relative paths resolve against {Environment.CurrentDirectory}).",
                paramName);
    }

    /// <summary>True when nothing is set.</summary>
    internal bool IsEmpty => (EnvVars is null || EnvVars.Count == 0) && WorkingDir is null;

    /// <summary>This environment with <paramref name="child"/>'s settings laid over it (Ray merges env vars per key).</summary>
    internal RuntimeEnv MergedWith(RuntimeEnv? child)
    {
        if (child is null) return this;
        Dictionary<string, string>? vars = null;
        if (EnvVars is not null || child.EnvVars is not null)
        {
            vars = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in EnvVars ?? new Dictionary<string, string>()) vars[k] = v;
            foreach (var (k, v) in child.EnvVars ?? new Dictionary<string, string>()) vars[k] = v;
        }
        return new RuntimeEnv { EnvVars = vars, WorkingDir = child.WorkingDir ?? WorkingDir };
    }
}

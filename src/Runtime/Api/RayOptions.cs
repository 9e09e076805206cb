using Microsoft.Extensions.Logging;

namespace RaySharp;

/// <summary>Options of <see cref="Ray.Init"/>. The properties are settable so that the options pattern
/// (<c>services.AddRaySharp(o =&gt; o.Address = ...)</c>, configuration binding) can fill them in.</summary>
public sealed record RayOptions
{
    /// <summary><c>host:port</c> of a running cluster's GCS to join as a driver. When null, <c>RAY_ADDRESS</c> is
    /// used; when that is unset too, an embedded single-node cluster is started.</summary>
    public string? Address { get; set; }

    /// <summary>CPUs of the local node (embedded cluster or local mode); default: the machine's logical cores.</summary>
    public double? NumCpus { get; set; }

    /// <summary>GPUs of the local node (default 0).</summary>
    public double? NumGpus { get; set; }

    /// <summary>Custom resources of the local node.</summary>
    public IReadOnlyDictionary<string, double>? Resources { get; set; }

    /// <summary>Capacity of the local node's object store in bytes (default 30% of memory).</summary>
    public long? ObjectStoreMemory { get; set; }

    /// <summary>The job's namespace for named actors (default: a fresh anonymous namespace per job).</summary>
    public string? Namespace { get; set; }

    /// <summary>The job's runtime environment; tasks and actors merge their own over it.</summary>
    public RuntimeEnv? RuntimeEnv { get; set; }

    /// <summary>Run everything in this process (debugging and unit tests), still serializing every argument and
    /// result exactly as on the wire.</summary>
    public bool LocalMode { get; set; }

    /// <summary>Root of the session directory (logs, spilled objects); default: the system temp directory.</summary>
    public string? TempDir { get; set; }

    /// <summary>The logger factory of a host (RaySharp.Hosting) that the driver's logs go to in place of its console
    /// logger; the session's log files are written as before. Not disposed by RaySharp: the host owns it.</summary>
    internal ILoggerFactory? HostLoggerFactory { get; init; }

    /// <summary>Embedded cluster only: start the dashboard (jobs REST API, see docs/jobs.md) on 127.0.0.1 at this port (0:
    /// any free port). Null: <c>RAY_DASHBOARD_PORT</c> when set, else no dashboard. Needs RaySharp.Dashboard.dll next to
    /// the runtime (reference the RaySharp.Dashboard project or package).</summary>
    public int? DashboardPort { get; set; }
}

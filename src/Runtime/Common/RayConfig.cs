using System.Globalization;

namespace RaySharp.Core;

/// <summary>
/// Tunables of the runtime with Ray's defaults. Each can be overridden by an environment variable
/// <c>RAY_&lt;name&gt;</c> (as Ray's <c>ray_config_def.h</c>), e.g. <c>RAY_max_direct_call_object_size</c>.
/// </summary>
internal sealed record RayConfig
{
    /// <summary>Objects up to this size are returned inline to the owner's in-process store.</summary>
    public long MaxDirectCallObjectSize { get; init; } = 100 * 1024;

    /// <summary>Critical utilization above which the hybrid policy stops packing a node.</summary>
    public double SchedulerSpreadThreshold { get; init; } = 0.5;

    /// <summary>Idle workers above the soft limit are stopped after this long.</summary>
    public TimeSpan IdleWorkerKillingTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Default task retries after system failures.</summary>
    public int TaskMaxRetries { get; init; } = 3;

    /// <summary>How long a new worker process may take to start and register with its raylet.</summary>
    public TimeSpan WorkerRegisterTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often raylets report their resources to the GCS and pull the cluster view back.</summary>
    public TimeSpan RayletReportPeriod { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A node that has not reported for this long is marked dead and its death broadcast.</summary>
    public TimeSpan HealthCheckTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long an actor call whose worker died waits for the GCS's notice of what became of the actor
    /// (restarted: retry; dead: fail with the cause) before it fails with the worker's death.</summary>
    public TimeSpan TaskWaitForDeathInfo { get; init; } = TimeSpan.FromSeconds(1);

    public static RayConfig FromEnvironment()
    {
        var c = new RayConfig();
        return c with
        {
            MaxDirectCallObjectSize = Env("max_direct_call_object_size", c.MaxDirectCallObjectSize),
            SchedulerSpreadThreshold = Env("scheduler_spread_threshold", c.SchedulerSpreadThreshold),
            IdleWorkerKillingTime = TimeSpan.FromMilliseconds(Env("idle_worker_killing_time_threshold_ms", (long)c.IdleWorkerKillingTime.TotalMilliseconds)),
            TaskMaxRetries = (int)Env("task_max_retries", c.TaskMaxRetries),
            WorkerRegisterTimeout = TimeSpan.FromMilliseconds(Env("worker_register_timeout_ms", (long)c.WorkerRegisterTimeout.TotalMilliseconds)),
            RayletReportPeriod = TimeSpan.FromMilliseconds(Env("raylet_report_resources_period_ms", (long)c.RayletReportPeriod.TotalMilliseconds)),
            HealthCheckTimeout = TimeSpan.FromMilliseconds(Env("health_check_timeout_ms", (long)c.HealthCheckTimeout.TotalMilliseconds)),
            TaskWaitForDeathInfo = TimeSpan.FromMilliseconds(Env("timeout_ms_task_wait_for_death_info", (long)c.TaskWaitForDeathInfo.TotalMilliseconds)),
        };
    }

    private static long Env(string name, long fallback) =>
        Environment.GetEnvironmentVariable("RAY_" + name) is { } s && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    private static double Env(string name, double fallback) =>
        Environment.GetEnvironmentVariable("RAY_" + name) is { } s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

using System.Globalization;

namespace RaySharp.Core;

/// <summary>
/// Tunables of the runtime. Each has the name Ray gives it in <c>ray_config_def.h</c> (or, where Ray has no such
/// setting, a name in the same style, marked RaySharp-only in docs/configuration.md) and can be overridden by the
/// environment variable <c>RAY_&lt;name&gt;</c>, e.g. <c>RAY_max_direct_call_object_size=204800</c>. Each process reads
/// its configuration once at start (<see cref="FromEnvironment()"/>), logs it, and passes it to its components.
/// </summary>
internal sealed record RayConfig
{
    /// <summary>The defaults, for components built without a process's configuration (tests, tools).</summary>
    public static RayConfig Default { get; } = new();

    /// <summary>Objects up to this size are returned inline to the owner's in-process store.</summary>
    public long MaxDirectCallObjectSize { get; init; } = 100 * 1024;

    /// <summary>Critical utilization above which the hybrid policy stops packing a node.</summary>
    public double SchedulerSpreadThreshold { get; init; } = 0.5;

    /// <summary>Idle workers above the soft limit are stopped after this long.</summary>
    public TimeSpan IdleWorkerKillingTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Worker processes a raylet starts at once; 0: the node's CPU count (Ray's default).</summary>
    public int MaximumStartupConcurrency { get; init; }

    /// <summary>Idle workers a raylet keeps, and the task workers (not blocked in Get) it runs for leases that request
    /// no resources; 0: the node's CPU count, at least 1 (Ray's default).</summary>
    public int NumWorkersSoftLimit { get; init; }

    /// <summary>Live workers (not blocked in Get) above which a raylet starts no more, for any lease; 0: four per CPU
    /// plus 64 (RaySharp-only).</summary>
    public int MaxWorkerProcessesPerNode { get; init; }

    /// <summary>Default task retries after system failures.</summary>
    public int TaskMaxRetries { get; init; } = 3;

    /// <summary>How long a new worker process may take to start and register with its raylet.</summary>
    public TimeSpan WorkerRegisterTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often raylets report their resources to the GCS and pull the cluster view back.</summary>
    public TimeSpan RayletReportPeriod { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the GCS checks that each node has reported since its last check.</summary>
    public TimeSpan HealthCheckPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Consecutive failed health checks after which a node is marked dead and its death broadcast.</summary>
    public int HealthCheckFailureThreshold { get; init; } = 3;

    /// <summary>How long a GCS that restarted waits before it health-checks the nodes it read back from its storage
    /// (Ray's <c>health_check_initial_delay_ms</c>): their raylets need time to notice the new GCS and report again.</summary>
    public TimeSpan HealthCheckInitialDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an actor call whose worker died waits for the GCS's notice of what became of the actor
    /// (restarted: retry; dead: fail with the cause) before it fails with the worker's death.</summary>
    public TimeSpan TaskWaitForDeathInfo { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Worker lease requests a submitter keeps in flight per scheduling class.</summary>
    public int MaxPendingLeaseRequestsPerSchedulingCategory { get; init; } = 10;

    /// <summary>How long a submitter keeps an idle worker lease after its scheduling class ran out of queued tasks, so that
    /// the next task of the class (a driver calling in a loop) is pushed at once instead of paying a lease round trip
    /// (RaySharp-only; 0: return it at once, as Ray does).</summary>
    public TimeSpan WorkerLeaseLinger { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a submitter keeps pushing tasks to one worker lease before it returns the lease and asks for a
    /// new one (Ray's <c>worker_lease_timeout_milliseconds</c>): other owners queued at the raylet get their turn.</summary>
    public TimeSpan WorkerLeaseTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Most tasks a submitter has in flight on one leased worker (Ray's <c>max_tasks_in_flight_per_worker</c>):
    /// tasks queued behind the running one on the worker's stream, so its next task starts without waiting for a round
    /// trip. The submitter pipelines only as deep as keeps about 10 ms of the class's work queued on a worker.</summary>
    public int MaxTasksInFlightPerWorker { get; init; } = 32;

    /// <summary>Raylet-to-raylet forwards a lease request may take; after half of them the chosen node must queue it.</summary>
    public int MaxSpillbacks { get; init; } = 8;

    /// <summary>Most task pushes or replies written in one message of a worker's task stream.</summary>
    public int RpcMaxBatchSize { get; init; } = 512;

    /// <summary>Deadline of a call to the GCS.</summary>
    public TimeSpan GcsRequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a GCS client keeps retrying a call while the GCS is unreachable (a GCS that restarts over Redis
    /// storage) before it fails (Ray's <c>gcs_rpc_server_reconnect_timeout_s</c>).</summary>
    public TimeSpan GcsRpcServerReconnectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Deadline of a raylet's periodic resource report to the GCS.</summary>
    public TimeSpan GcsReportResourcesTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Calls an actor with async methods runs at once when its options do not say.</summary>
    public int AsyncActorDefaultMaxConcurrency { get; init; } = 1000;

    /// <summary>Idle time after which a gRPC client pings its server.</summary>
    public TimeSpan GrpcKeepAliveTime { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a gRPC client waits for a ping's answer before it drops the connection.</summary>
    public TimeSpan GrpcKeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The cluster token every RPC carries and every server checks (<c>RAY_AUTH_TOKEN</c>; never logged or
    /// described). Null in a process that has not been given one: its servers cannot start.</summary>
    public ClusterToken? AuthToken { get; init; }

    /// <summary>TLS between processes over TCP (<c>RAY_USE_TLS</c> with <c>RAY_TLS_SERVER_CERT</c>, <c>RAY_TLS_SERVER_KEY</c>,
    /// <c>RAY_TLS_CA_CERT</c>); null: clear text. Not a tunable: kept out of <see cref="Describe"/>.</summary>
    public ClusterTls? Tls { get; init; }

    /// <summary>Largest message the GCS's service accepts (RaySharp-only; a larger one fails with ResourceExhausted).</summary>
    public int GcsGrpcMaxReceiveMessageSize { get; init; } = 64 * 1024 * 1024;

    /// <summary>Largest message a raylet's service accepts (RaySharp-only).</summary>
    public int RayletGrpcMaxReceiveMessageSize { get; init; } = 64 * 1024 * 1024;

    /// <summary>Largest message a core worker's service accepts: task pushes with inline arguments, objects (RaySharp-only).</summary>
    public int CoreWorkerGrpcMaxReceiveMessageSize { get; init; } = 512 * 1024 * 1024;

    /// <summary>Largest value the GCS's internal KV stores (RaySharp-only).</summary>
    public long InternalKvMaxValueSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>Most bytes (keys and values) the GCS's internal KV holds in all (RaySharp-only).</summary>
    public long InternalKvMaxTotalBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>Longest key (namespace and key each, in characters) of the internal KV (RaySharp-only).</summary>
    public int InternalKvMaxKeyLength { get; init; } = 1024;

    /// <summary>Bytes per message when an object moves between nodes (Ray's <c>object_manager_default_chunk_size</c>).</summary>
    public int ObjectManagerChunkSize { get; init; } = 5 * 1024 * 1024;

    /// <summary>Spilling writes objects in files of at least this size when that many bytes are spillable.</summary>
    public long MinSpillingSize { get; init; } = 100L * 1024 * 1024;

    /// <summary>How long a create in a full object store keeps waiting for room after evicting, collecting garbage and
    /// spilling (RaySharp-only).</summary>
    public TimeSpan ObjectStoreFullGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Most bytes of finished tasks' specs an owner keeps as lineage, to re-execute them when their outputs are
    /// lost (Ray's <c>max_lineage_bytes</c>); beyond it the oldest lineage is evicted, and its outputs cannot be rebuilt.</summary>
    public long MaxLineageBytes { get; init; } = 1024L * 1024 * 1024;

    /// <summary>How often a process sends its buffered task events to the GCS (Ray's
    /// <c>task_events_report_interval_ms</c>); zero turns task events off in that process.</summary>
    public TimeSpan TaskEventsReportInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Most task events a process holds before it drops the oldest (Ray's <c>task_events_max_buffer_size</c>).</summary>
    public int TaskEventsMaxBufferSize { get; init; } = 100_000;

    /// <summary>Most task events in one report to the GCS (Ray's <c>task_events_send_batch_size</c>).</summary>
    public int TaskEventsSendBatchSize { get; init; } = 10_000;

    /// <summary>Most task attempts the GCS keeps; beyond it the oldest are evicted and counted (Ray's
    /// <c>task_events_max_num_task_in_gcs</c>).</summary>
    public int TaskEventsMaxNumTaskInGcs { get; init; } = 100_000;

    /// <summary>How long after a job finished the GCS marks its tasks that never reported an end as failed (Ray's
    /// <c>gcs_mark_task_failed_on_job_done_delay_ms</c>): events still on their way get there first.</summary>
    public TimeSpan GcsMarkTaskFailedOnJobDoneDelay { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>How often workers and drivers send their metrics to their node's raylet (Ray's <c>metrics_report_interval_ms</c>).</summary>
    public TimeSpan MetricsReportInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a node's log monitor looks for new output in its workers' log files (RaySharp-only).</summary>
    public TimeSpan LogMonitorPollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Most lines one batch of worker output to a driver carries; the rest follow in the next batch (RaySharp-only).</summary>
    public int LogMonitorBatchMaxLines { get; init; } = 500;

    /// <summary>Most bytes the log monitor reads from one file per poll, so one chatty worker cannot starve the others
    /// (RaySharp-only).</summary>
    public int LogMonitorMaxBytesPerRead { get; init; } = 256 * 1024;

    /// <summary>A node is dead after this long without a report (<see cref="HealthCheckPeriod"/> ×
    /// <see cref="HealthCheckFailureThreshold"/>).</summary>
    public TimeSpan HealthCheckTimeout => HealthCheckPeriod * HealthCheckFailureThreshold;

    /// <summary>One overridable setting: its Ray name (the variable is <c>RAY_</c> + name), how to read it from a
    /// configuration and how to set it from text (null: the text does not parse or is out of range).</summary>
    private sealed record Entry(string Name, Func<RayConfig, string> Get, Func<RayConfig, string, RayConfig?> Set);

    private static readonly Entry[] s_entries =
    [
        Long("max_direct_call_object_size", c => c.MaxDirectCallObjectSize, (c, v) => c with { MaxDirectCallObjectSize = v }, min: 0),
        Fraction("scheduler_spread_threshold", c => c.SchedulerSpreadThreshold, (c, v) => c with { SchedulerSpreadThreshold = v }),
        Millis("idle_worker_killing_time_threshold_ms", c => c.IdleWorkerKillingTime, (c, v) => c with { IdleWorkerKillingTime = v }),
        Long("maximum_startup_concurrency", c => c.MaximumStartupConcurrency, (c, v) => c with { MaximumStartupConcurrency = (int)v },
            min: 0, max: 10_000),
        Long("num_workers_soft_limit", c => c.NumWorkersSoftLimit, (c, v) => c with { NumWorkersSoftLimit = (int)v }, min: 0, max: 100_000),
        Long("max_worker_processes_per_node", c => c.MaxWorkerProcessesPerNode, (c, v) => c with { MaxWorkerProcessesPerNode = (int)v },
            min: 0, max: 100_000),
        Long("task_max_retries", c => c.TaskMaxRetries, (c, v) => c with { TaskMaxRetries = (int)v }, min: -1, max: int.MaxValue),
        Seconds("worker_register_timeout_seconds", c => c.WorkerRegisterTimeout, (c, v) => c with { WorkerRegisterTimeout = v }),
        Millis("raylet_report_resources_period_milliseconds", c => c.RayletReportPeriod, (c, v) => c with { RayletReportPeriod = v }),
        Millis("health_check_period_ms", c => c.HealthCheckPeriod, (c, v) => c with { HealthCheckPeriod = v }),
        Millis("health_check_initial_delay_ms", c => c.HealthCheckInitialDelay, (c, v) => c with { HealthCheckInitialDelay = v }),
        Long("health_check_failure_threshold", c => c.HealthCheckFailureThreshold, (c, v) => c with { HealthCheckFailureThreshold = (int)v }, min: 1, max: int.MaxValue),
        Millis("timeout_ms_task_wait_for_death_info", c => c.TaskWaitForDeathInfo, (c, v) => c with { TaskWaitForDeathInfo = v }, allowZero: true),
        Long("max_pending_lease_requests_per_scheduling_category", c => c.MaxPendingLeaseRequestsPerSchedulingCategory,
            (c, v) => c with { MaxPendingLeaseRequestsPerSchedulingCategory = (int)v }, min: 1, max: int.MaxValue),
        Millis("worker_lease_linger_ms", c => c.WorkerLeaseLinger, (c, v) => c with { WorkerLeaseLinger = v }, allowZero: true),
        Millis("worker_lease_timeout_milliseconds", c => c.WorkerLeaseTimeout, (c, v) => c with { WorkerLeaseTimeout = v }),
        Long("max_tasks_in_flight_per_worker", c => c.MaxTasksInFlightPerWorker, (c, v) => c with { MaxTasksInFlightPerWorker = (int)v },
            min: 1, max: 10_000),
        Long("max_spillbacks", c => c.MaxSpillbacks, (c, v) => c with { MaxSpillbacks = (int)v }, min: 1, max: 1000),
        Long("rpc_max_batch_size", c => c.RpcMaxBatchSize, (c, v) => c with { RpcMaxBatchSize = (int)v }, min: 1, max: 1_000_000),
        Seconds("gcs_server_request_timeout_seconds", c => c.GcsRequestTimeout, (c, v) => c with { GcsRequestTimeout = v }),
        Seconds("gcs_rpc_server_reconnect_timeout_s", c => c.GcsRpcServerReconnectTimeout, (c, v) => c with { GcsRpcServerReconnectTimeout = v }),
        Millis("gcs_report_resources_timeout_ms", c => c.GcsReportResourcesTimeout, (c, v) => c with { GcsReportResourcesTimeout = v }),
        Long("async_actor_default_max_concurrency", c => c.AsyncActorDefaultMaxConcurrency,
            (c, v) => c with { AsyncActorDefaultMaxConcurrency = (int)v }, min: 1, max: int.MaxValue),
        Millis("grpc_client_keepalive_time_ms", c => c.GrpcKeepAliveTime, (c, v) => c with { GrpcKeepAliveTime = v }),
        Millis("grpc_client_keepalive_timeout_ms", c => c.GrpcKeepAliveTimeout, (c, v) => c with { GrpcKeepAliveTimeout = v }),
        Long("gcs_grpc_max_receive_message_size", c => c.GcsGrpcMaxReceiveMessageSize,
            (c, v) => c with { GcsGrpcMaxReceiveMessageSize = (int)v }, min: 1024, max: int.MaxValue),
        Long("raylet_grpc_max_receive_message_size", c => c.RayletGrpcMaxReceiveMessageSize,
            (c, v) => c with { RayletGrpcMaxReceiveMessageSize = (int)v }, min: 1024, max: int.MaxValue),
        Long("core_worker_grpc_max_receive_message_size", c => c.CoreWorkerGrpcMaxReceiveMessageSize,
            (c, v) => c with { CoreWorkerGrpcMaxReceiveMessageSize = (int)v }, min: 1024, max: int.MaxValue),
        Long("internal_kv_max_value_size", c => c.InternalKvMaxValueSize, (c, v) => c with { InternalKvMaxValueSize = v }, min: 0),
        Long("internal_kv_max_total_bytes", c => c.InternalKvMaxTotalBytes, (c, v) => c with { InternalKvMaxTotalBytes = v }, min: 0),
        Long("object_manager_default_chunk_size", c => c.ObjectManagerChunkSize, (c, v) => c with { ObjectManagerChunkSize = (int)v },
            min: 4096, max: 256 * 1024 * 1024),
        Long("min_spilling_size", c => c.MinSpillingSize, (c, v) => c with { MinSpillingSize = v }, min: 0),
        Millis("object_store_full_grace_period_ms", c => c.ObjectStoreFullGracePeriod, (c, v) => c with { ObjectStoreFullGracePeriod = v }, allowZero: true),
        Long("internal_kv_max_key_length", c => c.InternalKvMaxKeyLength, (c, v) => c with { InternalKvMaxKeyLength = (int)v }, min: 1, max: int.MaxValue),
        Long("max_lineage_bytes", c => c.MaxLineageBytes, (c, v) => c with { MaxLineageBytes = v }, min: 0),
        Millis("task_events_report_interval_ms", c => c.TaskEventsReportInterval, (c, v) => c with { TaskEventsReportInterval = v }, allowZero: true),
        Long("task_events_max_buffer_size", c => c.TaskEventsMaxBufferSize, (c, v) => c with { TaskEventsMaxBufferSize = (int)v }, min: 1, max: 100_000_000),
        Long("task_events_send_batch_size", c => c.TaskEventsSendBatchSize, (c, v) => c with { TaskEventsSendBatchSize = (int)v }, min: 1,
            max: MaxTaskEventsPerBatch),
        Long("task_events_max_num_task_in_gcs", c => c.TaskEventsMaxNumTaskInGcs, (c, v) => c with { TaskEventsMaxNumTaskInGcs = (int)v },
            min: 1, max: 100_000_000),
        Millis("gcs_mark_task_failed_on_job_done_delay_ms", c => c.GcsMarkTaskFailedOnJobDoneDelay,
            (c, v) => c with { GcsMarkTaskFailedOnJobDoneDelay = v }, allowZero: true),
        Millis("metrics_report_interval_ms", c => c.MetricsReportInterval, (c, v) => c with { MetricsReportInterval = v }),
        Millis("log_monitor_poll_interval_ms", c => c.LogMonitorPollInterval, (c, v) => c with { LogMonitorPollInterval = v }),
        Long("log_monitor_batch_max_lines", c => c.LogMonitorBatchMaxLines, (c, v) => c with { LogMonitorBatchMaxLines = (int)v }, min: 1, max: 100_000),
        Long("log_monitor_max_bytes_per_read", c => c.LogMonitorMaxBytesPerRead, (c, v) => c with { LogMonitorMaxBytesPerRead = (int)v },
            min: 4096, max: 64 * 1024 * 1024),
    ];

    /// <summary>The most events a report may carry (the GCS refuses larger batches).</summary>
    public const int MaxTaskEventsPerBatch = 100_000;

    /// <summary>The Ray names of every setting, in the order they are logged.</summary>
    public static IEnumerable<string> Names => s_entries.Select(e => e.Name);

    /// <summary>The configuration from this process's <c>RAY_*</c> variables; values that do not parse are ignored.</summary>
    public static RayConfig FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable, out _);

    /// <summary>The defaults with each <c>RAY_&lt;name&gt;</c> that <paramref name="getVariable"/> returns applied. A value
    /// that does not parse, or is out of range, keeps the default and is described in <paramref name="problems"/>
    /// (naming the variable) for the caller to log.</summary>
    public static RayConfig FromEnvironment(Func<string, string?> getVariable, out IReadOnlyList<string> problems)
    {
        var config = new RayConfig();
        var found = new List<string>();
        foreach (var entry in s_entries)
        {
            string variable = "RAY_" + entry.Name;
            if (getVariable(variable) is not { } text) continue;
            if (entry.Set(config, text.Trim()) is { } updated) config = updated;
            else found.Add($"{variable}='{text}' is not a valid value; keeping the default {entry.Get(config)}.");
        }
        problems = found;
        // The token is a secret, not a tunable: read here so every process gets it, kept out of Describe().
        return config with { AuthToken = ClusterToken.From(getVariable(ClusterToken.Variable)), Tls = ClusterTls.FromEnvironment(getVariable) };
    }

    /// <summary>Every setting as <c>name=value</c>, for the log line each process writes at start.</summary>
    public string Describe() => string.Join(", ", s_entries.Select(e => $"{e.Name}={e.Get(this)}"));

    private static string Format(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static Entry Long(string name, Func<RayConfig, long> get, Func<RayConfig, long, RayConfig> set, long min = 0, long max = long.MaxValue) =>
        new(name, c => Format(get(c)), (c, s) =>
            long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max ? set(c, v) : null);

    private static Entry Fraction(string name, Func<RayConfig, double> get, Func<RayConfig, double, RayConfig> set) =>
        new(name, c => get(c).ToString(CultureInfo.InvariantCulture), (c, s) =>
            double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is >= 0 and <= 1 ? set(c, v) : null);

    private static Entry Millis(string name, Func<RayConfig, TimeSpan> get, Func<RayConfig, TimeSpan, RayConfig> set, bool allowZero = false) =>
        new(name, c => Format((long)get(c).TotalMilliseconds), (c, s) =>
            long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && (v > 0 || (allowZero && v == 0)) && v <= int.MaxValue
                ? set(c, TimeSpan.FromMilliseconds(v)) : null);

    private static Entry Seconds(string name, Func<RayConfig, TimeSpan> get, Func<RayConfig, TimeSpan, RayConfig> set) =>
        new(name, c => Format((long)get(c).TotalSeconds), (c, s) =>
            long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 && v <= int.MaxValue / 1000
                ? set(c, TimeSpan.FromSeconds(v)) : null);
}

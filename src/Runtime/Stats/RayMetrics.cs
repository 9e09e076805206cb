using System.Diagnostics.Metrics;

namespace RaySharp.Core.Stats;

/// <summary>
/// Every instrument the runtime records, on the meter <c>RaySharp</c> (Ray's <c>metric_defs</c>). Instruments are
/// created once per process; a measurement nobody listens to costs one check of the instrument's <c>Enabled</c> flag.
/// Names are OpenTelemetry style (<c>raysharp.tasks</c>); the Prometheus export turns them into <c>raysharp_tasks_total</c>,
/// <c>raysharp_task_latency_seconds</c> and so on (docs/observability.md lists them all).
/// </summary>
internal static class RayMetrics
{
    public const string MeterName = "RaySharp";

    public static readonly Meter Meter = new(MeterName, typeof(RayMetrics).Assembly.GetName().Version?.ToString());

    /// <summary>Bucket bounds (seconds) of the latency histograms: 0.5 ms to a minute.</summary>
    internal static readonly IReadOnlyList<double> SecondsBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    // Tag names and values: constants, so a measurement allocates nothing.
    public const string State = "state", Type = "type", Outcome = "outcome", Method = "method", Side = "side", Code = "code";
    public const string Submitted = "submitted", Finished = "finished", Failed = "failed", Retried = "retried";
    public const string NormalTask = "normal_task", ActorTask = "actor_task", ActorCreation = "actor_creation_task";

    private static readonly KeyValuePair<string, object?> s_normalTask = new(Type, NormalTask), s_actorTask = new(Type, ActorTask),
        s_actorCreation = new(Type, ActorCreation);

    /// <summary>A <c>state</c> tag, for the gauges read by state.</summary>
    public static KeyValuePair<string, object?> StateTag(string state) => new(State, state);

    /// <summary>The <c>type</c> tag of a task's measurements.</summary>
    public static KeyValuePair<string, object?> TypeTag(TaskType type) => type switch
    {
        Core.TaskType.ActorTask => s_actorTask,
        Core.TaskType.ActorCreationTask => s_actorCreation,
        _ => s_normalTask,
    };

    // ---- Tasks, at the owner (submitter) ----

    /// <summary>Task state transitions seen by owners: submitted, finished, failed, retried.</summary>
    public static readonly Counter<long> Tasks = Meter.CreateCounter<long>("raysharp.tasks", "{task}",
        "Tasks by state transition at their owner: submitted, finished, failed, retried");

    /// <summary>Tasks submitted and not yet finished or failed, at their owners.</summary>
    public static readonly UpDownCounter<long> TasksPending = Meter.CreateUpDownCounter<long>("raysharp.tasks.pending", "{task}",
        "Tasks their owners submitted that have not finished or failed yet");

    /// <summary>Submit-to-result time at the owner.</summary>
    public static readonly Histogram<double> TaskLatency = Meter.CreateHistogram("raysharp.task.latency", "s",
        "Time from submission to result (finished or failed) at the task's owner", null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    // ---- Tasks, at the executing worker ----

    /// <summary>Tasks executing now on workers.</summary>
    public static readonly UpDownCounter<long> TasksRunning = Meter.CreateUpDownCounter<long>("raysharp.tasks.running", "{task}",
        "Tasks executing on workers now");

    /// <summary>Executions finished at workers, by outcome (ok, error, cancelled).</summary>
    public static readonly Counter<long> TaskExecutions = Meter.CreateCounter<long>("raysharp.task.executions", "{task}",
        "Task executions completed by workers, by outcome: ok, error, cancelled");

    /// <summary>How long the user code of a task ran.</summary>
    public static readonly Histogram<double> TaskExecutionTime = Meter.CreateHistogram("raysharp.task.execution.time", "s",
        "Execution time of tasks at the worker that ran them", null, new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    // ---- Leases, at the raylet ----

    /// <summary>Lease requests and what became of them: requested, granted, spilled_back, canceled, rejected.</summary>
    public static readonly Counter<long> Leases = Meter.CreateCounter<long>("raysharp.leases", "{lease}",
        "Worker lease requests at raylets by outcome: requested, granted, spilled_back, canceled, rejected");

    public static readonly ObservableSources<long> LeaseSources = new();

    /// <summary>Leases granted and not yet returned (state=granted), and requests queued (state=queued).</summary>
    public static readonly ObservableGauge<long> LeasesInFlight = Meter.CreateObservableGauge("raysharp.leases.in_flight", LeaseSources.Observe,
        "{lease}", "Worker leases held now (state=granted) and requests waiting at the raylet (state=queued)");

    // ---- Workers, at the raylet ----

    public static readonly ObservableSources<long> WorkerSources = new();

    /// <summary>Worker processes of the node: alive (registered), starting, idle.</summary>
    public static readonly ObservableGauge<long> Workers = Meter.CreateObservableGauge("raysharp.workers", WorkerSources.Observe, "{worker}",
        "Worker processes of the node: state=alive (registered), starting (not registered yet), idle (registered, not leased)");

    // ---- Object store, at the raylet ----

    public static readonly ObservableSources<long> StoreGaugeSources = new();
    public static readonly ObservableSources<long> StoreCounterSources = new();

    /// <summary>Bytes by kind: used (allocated to objects in memory), capacity, fallback (in disk files because
    /// /dev/shm was full), spilled (objects in spill files now).</summary>
    public static readonly ObservableGauge<long> StoreMemory = Meter.CreateObservableGauge("raysharp.object_store.memory", StoreGaugeSources.Observe,
        "By", "Object store bytes by kind: used (objects in memory), capacity (object_store_memory), fallback (in disk files), spilled (in spill files)");

    public static readonly ObservableSources<long> StoreObjectSources = new();

    public static readonly ObservableGauge<long> StoreObjects = Meter.CreateObservableGauge("raysharp.object_store.objects", StoreObjectSources.Observe,
        "{object}", "Objects in the node's object store by location: in_memory, spilled");

    /// <summary>Bytes restored from spill files (kind=restored) and copies evicted (kind=evicted) since the store started.</summary>
    public static readonly ObservableCounter<long> StoreTransfers = Meter.CreateObservableCounter("raysharp.object_store.io", StoreCounterSources.Observe,
        "By", "Object store bytes since the node started by kind: restored (read back from spill files), evicted (secondary copies dropped)");

    // ---- Actors, at the GCS ----

    public static readonly ObservableSources<long> ActorSources = new();

    public static readonly ObservableGauge<long> Actors = Meter.CreateObservableGauge("raysharp.actors", ActorSources.Observe, "{actor}",
        "Actors in the GCS's table by state: pending_creation, alive, restarting, dead");

    // ---- GCS health ----

    public static readonly ObservableSources<long> NodeSources = new();

    public static readonly ObservableGauge<long> GcsNodes = Meter.CreateObservableGauge("raysharp.gcs.nodes", NodeSources.Observe, "{node}",
        "Nodes in the GCS's node table by state: alive, dead");

    /// <summary>Calls to the GCS that succeeded after the GCS had been unreachable (it restarted, or the network came back).</summary>
    public static readonly Counter<long> GcsReconnects = Meter.CreateCounter<long>("raysharp.gcs.reconnects", "{reconnect}",
        "Times a client reached the GCS again after it had been unreachable");

    // ---- RPC ----

    /// <summary>Completed calls by method, side (client, server) and status code.</summary>
    public static readonly Counter<long> RpcCalls = Meter.CreateCounter<long>("raysharp.rpc.calls", "{call}",
        "RPCs completed, by method, side (client or server) and gRPC status code");

    public static readonly Histogram<double> RpcLatency = Meter.CreateHistogram("raysharp.rpc.latency", "s",
        "RPC duration by method and side (client: until the reply arrived; server: in the handler)", null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
}

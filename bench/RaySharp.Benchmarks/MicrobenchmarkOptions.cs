namespace RaySharp.Benchmarks;

/// <summary>Options of <see cref="Microbenchmarks.RunAsync"/>.</summary>
public sealed record MicrobenchmarkOptions
{
    /// <summary>How long each benchmark is measured, after its warm-up. A call that is still running when
    /// the time is up is finished and counted, so a benchmark may run a little longer.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(2.5);

    /// <summary>How long each benchmark runs before it is measured (workers start, code is jitted).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Runs only the workloads whose name contains this text (case-insensitive), as Ray's
    /// <c>TESTS_TO_RUN</c>; null runs all. The raw gRPC baselines always run: every ratio needs them. An Orleans row runs
    /// when this matches its name or the name of the RaySharp workload it mirrors.</summary>
    public string? Filter { get; init; }

    /// <summary>After the workloads, measures "single client tasks async" again on fresh clusters with task events
    /// turned off (<c>RAY_task_events_report_interval_ms=0</c>) and on, twice each, alternating, so the cost of task
    /// events is a ratio within one run.</summary>
    public bool CompareTaskEvents { get; init; }

    /// <summary>The Orleans peer: an Orleans silo in a child process and this process as its client, measured on the
    /// RaySharp actor workloads' shapes after them, each row followed by its RaySharp counterpart's ratio to it.</summary>
    public OrleansPeerRows Orleans { get; init; } = OrleansPeerRows.Included;

    /// <summary>The scale rows after the workloads: <see cref="QueuedTasks"/> tasks queued at once, worker process start to
    /// first task, and <see cref="ActorsAtOnce"/> actors created at once. They take minutes, not seconds.</summary>
    public ScaleRows Scale { get; init; } = ScaleRows.Included;

    /// <summary>Tasks the driver submits before waiting for any, in "tasks queued on one node" (Ray's 1,000,000).</summary>
    public int QueuedTasks { get; init; } = 1_000_000;

    /// <summary>Actors created before any is waited for, in "actors created at once" (200).</summary>
    public int ActorsAtOnce { get; init; } = 200;

    /// <summary>Fresh worker processes timed from their start to their first task, one after another.</summary>
    public int WorkerStarts { get; init; } = 20;

    /// <summary>Under each workload row, the types this process allocated most while it was measured (sampled from the
    /// runtime's allocation ticks), with their estimated bytes per operation.</summary>
    public bool ProfileAllocations { get; init; }

    /// <summary>When set, the results are also written to this file as JSON.</summary>
    public string? JsonPath { get; init; }

    /// <summary>How RaySharp is started for the workloads; null starts an embedded single-node cluster (or
    /// joins <c>RAY_ADDRESS</c>), as <see cref="Ray.Init"/> with no options does.</summary>
    public RayOptions? RayOptions { get; init; }
}

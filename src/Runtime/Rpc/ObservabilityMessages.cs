using MemoryPack;

namespace RaySharp.Core.Rpc;

// ---- Metrics (a worker's or driver's report to its raylet, and a collector's snapshot) ----

internal enum MetricKind : byte { Counter, UpDownCounter, Gauge, Histogram }

/// <summary>One instrument's values: its series, each with its labels.</summary>
/// <param name="Name">The instrument's name (<c>raysharp.tasks</c>).</param>
/// <param name="Unit">Its unit in UCUM form (<c>s</c>, <c>By</c>, <c>{task}</c>).</param>
/// <param name="Description">What it measures (the Prometheus HELP line).</param>
/// <param name="Kind">How its values add up across processes.</param>
/// <param name="Bounds">A histogram's bucket upper bounds, ascending (the last bucket, +Inf, is implicit).</param>
/// <param name="Points">Its series.</param>
[MemoryPackable] internal sealed partial record MetricFamily(string Name, string Unit, string Description, MetricKind Kind, double[]? Bounds,
    MetricPoint[] Points);

/// <summary>One series: its labels as name, value, name, value... sorted by name; a counter's or gauge's value, or a
/// histogram's sum with its count and per-bucket (not cumulative) counts, one more than the bounds.</summary>
[MemoryPackable] internal sealed partial record MetricPoint(string[] Labels, double Value, long Count = 0, long[]? Buckets = null);

/// <summary>A process's metrics, sent to its node's raylet every <c>metrics_report_interval_ms</c>: cumulative values,
/// so a lost report loses nothing but freshness.</summary>
[MemoryPackable] internal sealed partial record MetricsReport(WorkerId Reporter, MetricFamily[] Families);

// ---- Logs (raysharp logs) ----

/// <summary>A log file of a node: its name in the node's log directory, size, last write, and, for a worker's files,
/// the worker, its process and the actor it hosts.</summary>
[MemoryPackable] internal sealed partial record LogFileInfo(string Name, long Size, long ModifiedUnixMs, WorkerId WorkerId = default, int ProcessId = 0,
    string? ActorName = null);

[MemoryPackable] internal sealed partial record LogFileList(NodeId NodeId, LogFileInfo[] Files);

/// <summary>Up to <paramref name="MaxBytes"/> of log file <paramref name="Name"/> from <paramref name="Offset"/>; a
/// negative offset counts from the end (the tail).</summary>
[MemoryPackable] internal sealed partial record ReadLogRequest(string Name, long Offset, int MaxBytes);

/// <summary>The bytes read, where they start, and the file's size now (a reader that follows asks again from
/// <c>Offset + Data.Length</c>; a size below that means the file was truncated or replaced).</summary>
[MemoryPackable] internal sealed partial record ReadLogReply(bool Found, byte[] Data, long Offset, long Size);

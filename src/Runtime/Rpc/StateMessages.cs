using MemoryPack;

namespace RaySharp.Core.Rpc;

// The state API's messages (Ray's gcs_service.proto TaskInfoGcsService: AddTaskEventData, GetTaskEvents; and
// node_manager.proto / core_worker.proto GetObjectsInfo, GetCoreWorkerStats).

/// <summary>A predicate of a list: the row's field <see cref="Key"/> equals (or, not <see cref="Equal"/>, differs from)
/// <see cref="Value"/>.</summary>
[MemoryPackable] internal sealed partial record WireStateFilter(string Key, string Value, bool Equal);

[MemoryPackable] internal sealed partial record ListTasksRequest(int Limit, WireStateFilter[] Filters);

/// <summary>At most the limit of attempts that passed the filters (<see cref="Total"/> passed), and the events lost.</summary>
[MemoryPackable] internal sealed partial record ListTasksReply(TaskAttemptData[] Tasks, int Total, long NumDroppedAtWorkers, long NumDroppedAtGcs);

/// <summary>Up to <see cref="Limit"/> references of each core worker asked.</summary>
[MemoryPackable] internal sealed partial record GetObjectRefsRequest(int Limit);

/// <summary>What the workers of one node hold; <see cref="Unreachable"/> names those that did not answer.</summary>
[MemoryPackable] internal sealed partial record NodeObjectRefsReply(CoreWorkerObjects[] Workers, string[] Unreachable);

[MemoryPackable] internal sealed partial record ListObjectsRequest(int Limit, WireStateFilter[] Filters);

/// <summary>The references that passed the filters, at most the limit, grouped by the process holding them
/// (<see cref="Total"/> passed); <see cref="Warnings"/> says which nodes or processes did not answer or were cut short.</summary>
[MemoryPackable] internal sealed partial record ListObjectsReply(CoreWorkerObjects[] Workers, int Total, string[] Warnings);

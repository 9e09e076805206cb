using MemoryPack;

namespace RaySharp.Core.Rpc;

// ---- The autoscaler's view of the cluster (Ray's autoscaler.proto: GetClusterResourceState, ReportAutoscalingState,
// DrainNode) ----

/// <summary>What kind of work a demand is.</summary>
internal enum DemandKind : byte { Task, Actor }

/// <summary><paramref name="Count"/> requests of one resource shape queued at a raylet, waiting for room
/// (<paramref name="Infeasible"/>: no node in the cluster could ever fit them).</summary>
[MemoryPackable] internal sealed partial record ResourceDemand(Dictionary<string, double> Shape, int Count, DemandKind Kind, bool Infeasible);

/// <summary>A placement group still waiting for nodes, with the bundles it has not placed (Ray's gang resource request).</summary>
[MemoryPackable] internal sealed partial record PendingBundles(PlacementGroupId Group, PlacementStrategy Strategy, Dictionary<string, double>[] Bundles,
    bool Infeasible);

/// <summary>A node's state as the autoscaler sees it: Running with work, Idle (no leases, bundles or primary objects for
/// <see cref="NodeResourceState.IdleMs"/>), Draining (accepted a drain), Dead.</summary>
internal enum NodeActivity : byte { Running, Idle, Draining, Dead }

/// <summary>One node of <see cref="ClusterResourceState"/>.</summary>
[MemoryPackable]
internal sealed partial record NodeResourceState
{
    public required NodeId NodeId { get; init; }
    public string? InstanceId { get; init; }
    public string? NodeTypeName { get; init; }
    public bool IsHead { get; init; }
    public required NodeActivity Activity { get; init; }
    public required Dictionary<string, double> Total { get; init; }
    public required Dictionary<string, double> Available { get; init; }
    public long IdleMs { get; init; }
}

/// <summary>The reply of GetClusterResourceState: every node, the demand queued at the raylets, placement groups
/// waiting for nodes, and the autoscaler's last reported state.</summary>
[MemoryPackable]
internal sealed partial record ClusterResourceState
{
    public required NodeResourceState[] Nodes { get; init; }
    public required ResourceDemand[] Demand { get; init; }
    public required PendingBundles[] PendingGroups { get; init; }
    public AutoscalingState? Autoscaler { get; init; }
}

/// <summary>Where an instance of the node provider is in its life.</summary>
internal enum InstanceStatus : byte { Launching, Active, Idle, Draining, Terminating }

/// <summary>One instance the autoscaler launched (or adopted), for <c>raysharp status</c>.</summary>
[MemoryPackable] internal sealed partial record AutoscalerInstance(string InstanceId, string NodeType, InstanceStatus Status, NodeId NodeId, long SinceMs);

/// <summary>What the autoscaler last did and saw (Ray's <c>ReportAutoscalingState</c>): its instances, the demand no node
/// type can meet, and what failed in its last pass.</summary>
[MemoryPackable]
internal sealed partial record AutoscalingState
{
    public required long TimeMs { get; init; }
    public required AutoscalerInstance[] Instances { get; init; }
    public required ResourceDemand[] Infeasible { get; init; }
    public required PendingBundles[] InfeasibleGroups { get; init; }
    public string? LastError { get; init; }
}

/// <summary>Why a node is drained: Ray's IDLE_TERMINATION (refused when the node is busy again) or PREEMPTION (always taken).</summary>
internal enum DrainReason : byte { IdleTermination, Preemption }

[MemoryPackable] internal sealed partial record DrainNodeRequest(NodeId NodeId, DrainReason Reason, string Message);

/// <summary>Accepted: the node takes no new work and waits to be terminated; otherwise <paramref name="RejectionReason"/> says why.</summary>
[MemoryPackable] internal sealed partial record DrainNodeReply(bool Accepted, string? RejectionReason);

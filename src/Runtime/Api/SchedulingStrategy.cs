namespace RaySharp;

/// <summary>Where a task or actor may run. See <see cref="Default"/>, <see cref="Spread"/>,
/// <see cref="NodeAffinitySchedulingStrategy"/> and <see cref="PlacementGroupSchedulingStrategy"/>.</summary>
public abstract record SchedulingStrategy
{
    private protected SchedulingStrategy() { }

    /// <summary>Ray's hybrid policy: pack the local node until it is half used, then spread.</summary>
    public static SchedulingStrategy Default { get; } = new DefaultSchedulingStrategy();

    /// <summary>Spread over nodes with free resources, round robin.</summary>
    public static SchedulingStrategy Spread { get; } = new SpreadSchedulingStrategy();
}

/// <summary>Ray's default hybrid policy.</summary>
public sealed record DefaultSchedulingStrategy : SchedulingStrategy;

/// <summary>Round-robin spreading over nodes with free resources.</summary>
public sealed record SpreadSchedulingStrategy : SchedulingStrategy;

/// <summary>Run on one node. Hard affinity fails with <see cref="TaskUnschedulableException"/> /
/// <see cref="ActorUnschedulableException"/> when the node is dead or unknown; soft affinity falls back to
/// the default policy.</summary>
/// <param name="NodeId">The node to run on.</param>
/// <param name="Soft">Fall back to other nodes when the node is dead or lacks resources.</param>
public sealed record NodeAffinitySchedulingStrategy(NodeId NodeId, bool Soft = false) : SchedulingStrategy;

/// <summary>Run in resources reserved by a placement group.</summary>
/// <param name="PlacementGroup">The group whose reserved resources to use.</param>
/// <param name="BundleIndex">The bundle to use, or -1 for any bundle.</param>
/// <param name="CaptureChildTasks">Schedule tasks and actors submitted from inside into the same group.</param>
public sealed record PlacementGroupSchedulingStrategy(PlacementGroup PlacementGroup, int BundleIndex = -1,
    bool CaptureChildTasks = false) : SchedulingStrategy;

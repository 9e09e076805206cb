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
public sealed record NodeAffinitySchedulingStrategy : SchedulingStrategy
{
    /// <param name="nodeId">The node to run on.</param>
    /// <param name="soft">Fall back to other nodes when the node is dead, unknown or lacks resources.</param>
    public NodeAffinitySchedulingStrategy(NodeId nodeId, bool soft = false)
    {
        NodeId = nodeId;
        Soft = soft;
    }

    /// <summary>The node to run on.</summary>
    public NodeId NodeId { get; init; }

    /// <summary>Fall back to other nodes when the node is dead, unknown or lacks resources.</summary>
    public bool Soft { get; init; }
}

/// <summary>Run in resources reserved by a placement group.</summary>
public sealed record PlacementGroupSchedulingStrategy : SchedulingStrategy
{
    /// <param name="pg">The group whose reserved resources to use.</param>
    /// <param name="bundleIndex">The bundle to use, or -1 for any bundle.</param>
    /// <param name="captureChildTasks">Schedule tasks and actors submitted from inside into the same group.</param>
    public PlacementGroupSchedulingStrategy(PlacementGroup pg, int bundleIndex = -1, bool captureChildTasks = false)
    {
        ArgumentNullException.ThrowIfNull(pg);
        if (bundleIndex < -1)
            throw new ArgumentOutOfRangeException(nameof(bundleIndex), bundleIndex, "A bundle index is -1 (any bundle) or the index of a bundle.");
        if (pg.KnownBundleCount is { } count && bundleIndex >= count)
            throw new ArgumentOutOfRangeException(nameof(bundleIndex), bundleIndex,
                $"Placement group {pg.Id} has {count} bundle{(count == 1 ? "" : "s")}: use an index below {count}, or -1 for any bundle.");
        PlacementGroup = pg;
        BundleIndex = bundleIndex;
        CaptureChildTasks = captureChildTasks;
    }

    /// <summary>The group whose reserved resources to use.</summary>
    public PlacementGroup PlacementGroup { get; init; }

    /// <summary>The bundle to use, or -1 for any bundle.</summary>
    public int BundleIndex { get; init; }

    /// <summary>Schedule tasks and actors submitted from inside into the same group.</summary>
    public bool CaptureChildTasks { get; init; }
}

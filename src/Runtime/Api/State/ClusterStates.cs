namespace RaySharp.State;

/// <summary>A node of the cluster (Ray's <c>NodeState</c>).</summary>
public sealed record NodeState
{
    /// <summary>The node (lowercase hex).</summary>
    public required string NodeId { get; init; }

    /// <summary>The host of the node's raylet endpoint.</summary>
    public required string NodeIp { get; init; }
    /// <summary>The head node (it hosts the GCS).</summary>
    public bool IsHeadNode { get; init; }

    /// <summary><c>ALIVE</c> or <c>DEAD</c>.</summary>
    public required string State { get; init; }

    /// <summary>Why a dead node died.</summary>
    public string? StateMessage { get; init; }
    /// <summary>The node's resources, by name.</summary>
    public IReadOnlyDictionary<string, double> ResourcesTotal { get; init; } = new Dictionary<string, double>();
}

/// <summary>An actor (Ray's <c>ActorState</c>).</summary>
public sealed record ActorState
{
    /// <summary>The actor (lowercase hex).</summary>
    public required string ActorId { get; init; }
    /// <summary>The actor's class.</summary>
    public required string ClassName { get; init; }

    /// <summary><c>PENDING_CREATION</c>, <c>ALIVE</c>, <c>RESTARTING</c> or <c>DEAD</c>.</summary>
    public required string State { get; init; }
    /// <summary>The job (lowercase hex).</summary>
    public required string JobId { get; init; }
    /// <summary>Its name, if it was given one.</summary>
    public string? Name { get; init; }
    /// <summary>The node (lowercase hex).</summary>
    public string? NodeId { get; init; }
    /// <summary>The namespace its name lives in.</summary>
    public required string RayNamespace { get; init; }
    /// <summary>It outlives its creator's job.</summary>
    public bool IsDetached { get; init; }
    /// <summary>How often it was restarted.</summary>
    public int NumRestarts { get; init; }
    /// <summary>Why it died, once dead.</summary>
    public string? DeathCause { get; init; }
}

/// <summary>A job (a driver) as the GCS's job table has it (Ray's <c>JobState</c>).</summary>
public sealed record JobState
{
    /// <summary>The job (lowercase hex).</summary>
    public required string JobId { get; init; }

    /// <summary><c>DRIVER</c>: every job in the table has a driver.</summary>
    public string Type { get; init; } = "DRIVER";

    /// <summary><c>RUNNING</c> or <c>FINISHED</c>.</summary>
    public required string Status { get; init; }
    /// <summary>The driver's namespace.</summary>
    public required string Namespace { get; init; }
    /// <summary>The driver's process ID.</summary>
    public int DriverPid { get; init; }
    /// <summary>The node the driver runs on.</summary>
    public string? DriverNodeId { get; init; }

    /// <summary>Ms since the Unix epoch.</summary>
    public long StartTime { get; init; }

    /// <summary>Ms since the Unix epoch; null while it runs.</summary>
    public long? EndTime { get; init; }
}

/// <summary>One bundle of a placement group.</summary>
public sealed record PlacementGroupBundleState(int BundleIndex, string? NodeId, IReadOnlyDictionary<string, double> UnitResources);

/// <summary>A placement group (Ray's <c>PlacementGroupState</c>).</summary>
public sealed record PlacementGroupState
{
    /// <summary>The group (lowercase hex).</summary>
    public required string PlacementGroupId { get; init; }
    /// <summary>Its name, if it was given one.</summary>
    public string? Name { get; init; }
    /// <summary>The job that created it.</summary>
    public required string CreatorJobId { get; init; }

    /// <summary><c>PENDING</c>, <c>PREPARED</c>, <c>CREATED</c>, <c>REMOVED</c> or <c>RESCHEDULING</c>.</summary>
    public required string State { get; init; }

    /// <summary><c>PACK</c>, <c>SPREAD</c>, <c>STRICT_PACK</c> or <c>STRICT_SPREAD</c>.</summary>
    public required string Strategy { get; init; }
    /// <summary>It outlives its creator's job.</summary>
    public bool IsDetached { get; init; }
    /// <summary>Its bundles, each with the node it is placed on.</summary>
    public IReadOnlyList<PlacementGroupBundleState> Bundles { get; init; } = [];
}

namespace RaySharp.Dashboard.Live;

/// <summary>
/// What the web UI's overview shows, read once for every watcher (serialized with snake_case names): the nodes with what
/// they use, cluster totals, counts of tasks, actors and placement groups per state, and the most recent submitted jobs.
/// <see cref="Error"/> says why the GCS could not be read (the rest is then empty).
/// </summary>
internal sealed record ClusterSnapshot
{
    public long TimeMs { get; init; }
    public string? Error { get; init; }
    public IReadOnlyList<NodeUsage> Nodes { get; init; } = [];
    public int NodesAlive { get; init; }
    public int NodesDead { get; init; }

    /// <summary>Per resource of the alive nodes (bundle resources of placement groups left out): total and used.</summary>
    public IReadOnlyDictionary<string, ResourceUsage> Resources { get; init; } = new Dictionary<string, ResourceUsage>();

    /// <summary>Bytes in the alive nodes' object stores; null when no node reported its store yet.</summary>
    public ResourceUsage? ObjectStore { get; init; }

    /// <summary>Task attempts per Ray state (<c>RUNNING</c>, <c>FINISHED</c>, ...), from the GCS's task-event store.</summary>
    public IReadOnlyDictionary<string, int> TasksByState { get; init; } = new Dictionary<string, int>();

    public IReadOnlyDictionary<string, int> ActorsByState { get; init; } = new Dictionary<string, int>();
    public IReadOnlyDictionary<string, int> PlacementGroupsByState { get; init; } = new Dictionary<string, int>();

    /// <summary>The newest submitted jobs first, at most <see cref="ClusterSnapshots.RecentJobs"/>.</summary>
    public IReadOnlyList<RecentJob> Jobs { get; init; } = [];

    /// <summary>Browsers following <c>/api/events</c> now.</summary>
    public int EventClients { get; init; }
}

/// <summary>An amount of a resource: what the nodes have and what is in use.</summary>
internal sealed record ResourceUsage(double Total, double Used);

/// <summary>A node of the overview: its state, each resource's total and use, and its object store.</summary>
internal sealed record NodeUsage(string NodeId, string NodeIp, bool IsHeadNode, string State, string? StateMessage,
    IReadOnlyDictionary<string, ResourceUsage> Resources, ResourceUsage? ObjectStore, int? ObjectStoreObjects);

/// <summary>A submitted job as the overview lists it (the full record is at <c>/api/jobs/{id}</c>).</summary>
internal sealed record RecentJob(string SubmissionId, string? JobId, string Status, string Entrypoint, string? Message, long? StartTime, long? EndTime,
    int? DriverExitCode);

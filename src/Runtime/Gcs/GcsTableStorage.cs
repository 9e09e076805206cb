using System.Collections.Concurrent;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>
/// Where the GCS keeps its tables (Ray's <c>GcsTableStorage</c> over a <c>StoreClient</c>): nodes, jobs, actors,
/// placement groups and the internal KV. The in-memory implementation loses everything with the GCS process; a Redis
/// implementation behind the same interface lets a restarted GCS reload them.
/// </summary>
internal interface IGcsTableStorage
{
    void PutNode(NodeRecord node);
    IReadOnlyList<NodeRecord> GetNodes();
    void PutJob(JobRecord job);
    JobRecord? GetJob(JobId id);
    IReadOnlyList<JobRecord> GetJobs();
    /// <summary>The next job number (1, 2, ...), atomically: a GCS restarted over the same storage never reuses one.</summary>
    long NextJobCounter();
    void PutActor(ActorInfo actor, WireTaskSpec creationTask);
    IReadOnlyList<(ActorInfo Actor, WireTaskSpec CreationTask)> GetActors();
    void PutPlacementGroup(PlacementGroupTableData group);
    void DeletePlacementGroup(PlacementGroupId id);
    IReadOnlyList<PlacementGroupTableData> GetPlacementGroups();
    bool KvPut(string ns, string key, byte[] value, bool overwrite);
    byte[]? KvGet(string ns, string key);
    bool KvDelete(string ns, string key);
    IReadOnlyList<string> KvKeys(string ns, string prefix);
}

/// <summary>The default storage: tables in this process's memory.</summary>
internal sealed class InMemoryGcsTableStorage : IGcsTableStorage
{
    private readonly ConcurrentDictionary<NodeId, NodeRecord> _nodes = new();
    private readonly ConcurrentDictionary<JobId, JobRecord> _jobs = new();
    private readonly ConcurrentDictionary<ActorId, (ActorInfo, WireTaskSpec)> _actors = new();
    private readonly ConcurrentDictionary<(string, string), byte[]> _kv = new();
    private readonly ConcurrentDictionary<PlacementGroupId, PlacementGroupTableData> _placementGroups = new();
    private long _jobCounter;

    public void PutNode(NodeRecord node) => _nodes[node.NodeId] = node;
    public IReadOnlyList<NodeRecord> GetNodes() => [.. _nodes.Values];
    public void PutJob(JobRecord job) => _jobs[job.JobId] = job;
    public JobRecord? GetJob(JobId id) => _jobs.GetValueOrDefault(id);
    public IReadOnlyList<JobRecord> GetJobs() => [.. _jobs.Values.OrderBy(j => j.StartTimeMs)];
    public long NextJobCounter() => Interlocked.Increment(ref _jobCounter);
    public void PutActor(ActorInfo actor, WireTaskSpec creationTask) => _actors[actor.ActorId] = (actor, creationTask);
    public IReadOnlyList<(ActorInfo Actor, WireTaskSpec CreationTask)> GetActors() => [.. _actors.Values];
    public void PutPlacementGroup(PlacementGroupTableData group) => _placementGroups[group.Spec.Id] = group;
    public void DeletePlacementGroup(PlacementGroupId id) => _placementGroups.TryRemove(id, out _);
    public IReadOnlyList<PlacementGroupTableData> GetPlacementGroups() => [.. _placementGroups.Values.OrderBy(g => g.CreateTimeMs)];

    public bool KvPut(string ns, string key, byte[] value, bool overwrite)
    {
        if (overwrite)
        {
            bool added = !_kv.ContainsKey((ns, key));
            _kv[(ns, key)] = value;
            return added;
        }
        return _kv.TryAdd((ns, key), value);
    }

    public byte[]? KvGet(string ns, string key) => _kv.GetValueOrDefault((ns, key));
    public bool KvDelete(string ns, string key) => _kv.TryRemove((ns, key), out _);

    public IReadOnlyList<string> KvKeys(string ns, string prefix) =>
        [.. _kv.Keys.Where(k => k.Item1 == ns && k.Item2.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k.Item2).Order(StringComparer.Ordinal)];
}

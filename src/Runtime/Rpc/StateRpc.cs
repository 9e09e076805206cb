using Grpc.Core;
using RaySharp.Core.Raylet;
using RaySharp.State;

namespace RaySharp.Core.Rpc;

// The state API's record, not the core worker's actor state.
using ActorState = RaySharp.State.ActorState;

/// <summary>
/// How the state API's object listing reaches the core workers (Ray's <c>GetObjectsInfo</c> fan-out): the GCS asks each
/// alive node's raylet, which asks the workers registered with it, and asks each running job's driver itself (drivers are
/// not registered with a raylet). Every hop has a deadline and every reply is bounded; whoever does not answer in time is
/// left out and named in a warning.
/// </summary>
internal static class StateRpc
{
    /// <summary>The most references one core worker reports (the rest are counted in its total and warned of).</summary>
    public const int MaxObjectsPerWorker = 10_000;

    /// <summary>How long a raylet waits for its workers, and the GCS for a raylet or driver.</summary>
    public static readonly TimeSpan WorkerTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A core worker's references; null when it does not answer in time.</summary>
    public static async Task<CoreWorkerObjects?> FromWorkerAsync(string endpoint, RayConfig config, int limit, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            return await RpcChannels.Invoker(endpoint, config).AsyncUnaryCall(CoreWorkerService.GetObjectRefsMethod, null,
                new CallOptions(deadline: DateTime.UtcNow + timeout, cancellationToken: ct), new GetObjectRefsRequest(limit)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException)
        {
            return null;
        }
    }

    /// <summary>What the workers of the raylet at <paramref name="endpoint"/> hold; null when it does not answer in time.</summary>
    public static async Task<NodeObjectRefsReply?> FromNodeAsync(string endpoint, RayConfig config, int limit, CancellationToken ct)
    {
        try
        {
            return await RpcChannels.Invoker(endpoint, config).AsyncUnaryCall(NodeManagerService.GetObjectRefsMethod, null,
                new CallOptions(deadline: DateTime.UtcNow + NodeTimeout, cancellationToken: ct), new GetObjectRefsRequest(limit)).ResponseAsync
                .ConfigureAwait(false);
        }
        catch (RpcException)
        {
            return null;
        }
    }

    /// <summary>Gathers the references of every worker of the alive <paramref name="nodes"/> and of every running
    /// <paramref name="drivers"/>, each process once, and keeps those passing <paramref name="filters"/>, at most
    /// <paramref name="limit"/>.</summary>
    public static async Task<ListObjectsReply> ListObjectsAsync(IReadOnlyList<(NodeId Id, string Endpoint)> nodes, IReadOnlyList<Address> drivers,
        RayConfig config, int limit, IReadOnlyList<StateFilter> filters, CancellationToken ct)
    {
        var nodeCalls = nodes.Select(n => FromNodeAsync(n.Endpoint, config, MaxObjectsPerWorker, ct)).ToList();
        var driverCalls = drivers.Select(d => FromWorkerAsync(d.Endpoint, config, MaxObjectsPerWorker, NodeTimeout, ct)).ToList();
        var warnings = new List<string>();
        var byWorker = new Dictionary<WorkerId, CoreWorkerObjects>();
        void Take(CoreWorkerObjects w)
        {
            WireValidation.ObjectRefs(w, MaxObjectsPerWorker);
            // In local mode the worker threads serve the driver's own table: each process is listed once, as a driver if it is one.
            if (!byWorker.TryGetValue(w.WorkerId, out var seen) || (w.IsDriver && !seen.IsDriver)) byWorker[w.WorkerId] = w;
        }
        for (int i = 0; i < nodes.Count; i++)
        {
            var reply = await nodeCalls[i].ConfigureAwait(false);
            if (reply is null)
            {
                warnings.Add($"Node {nodes[i].Id} did not answer within {NodeTimeout.TotalSeconds:0} s: the references its workers hold are missing.");
                continue;
            }
            WireValidation.ObjectRefs(reply);
            foreach (var w in reply.Workers) Take(w);
            warnings.AddRange(reply.Unreachable.Select(u => $"Node {nodes[i].Id}: {u}"));
        }
        for (int i = 0; i < drivers.Count; i++)
        {
            if (await driverCalls[i].ConfigureAwait(false) is { } w) Take(w);
            else warnings.Add($"The driver {drivers[i].WorkerId} at {drivers[i].Endpoint} did not answer: the references it holds are missing.");
        }
        foreach (var w in byWorker.Values.Where(w => w.Total > w.Objects.Length))
            warnings.Add($"{(w.IsDriver ? "Driver" : "Worker")} {w.WorkerId} holds {w.Total} references; only {w.Objects.Length} were listed.");
        var rows = byWorker.Values.SelectMany(w => w.Objects.Select(o => (Worker: w, Object: o)));
        var matching = StateFilter.Apply(rows, r => r.Object.ToObjectState(r.Worker), filters, "objects").ToList();
        var kept = matching.Take(limit).GroupBy(r => r.Worker.WorkerId)
            .Select(g => g.First().Worker with { Objects = [.. g.Select(r => r.Object)] }).ToArray();
        return new ListObjectsReply(kept, matching.Count, [.. warnings]);
    }
}

/// <summary>The state API over a GCS client (the driver's connection, or the CLI's to a cluster at an address), and the
/// sink of this process's task events.</summary>
internal sealed class GcsStateSource(GcsClient gcs) : IStateSource, ITaskEventSink
{
    public Task SendAsync(TaskEventBatch batch, CancellationToken ct) => gcs.AddTaskEventsAsync(batch, ct);

    private static WireStateFilter[] ToWire(IReadOnlyList<StateFilter> filters) => [.. filters.Select(f => new WireStateFilter(f.Key, f.Value, f.Equal))];

    public TaskListResult ListTasks(int limit, IReadOnlyList<StateFilter> filters)
    {
        var reply = gcs.ListTasks(new ListTasksRequest(limit, ToWire(filters)));
        var warnings = new List<string>();
        if (reply.NumDroppedAtWorkers > 0)
            warnings.Add($"{reply.NumDroppedAtWorkers} task events were dropped by workers whose buffers were full (RAY_task_events_max_buffer_size): " +
                "some tasks may be missing or show an earlier state.");
        if (reply.NumDroppedAtGcs > 0)
            warnings.Add($"The GCS evicted {reply.NumDroppedAtGcs} task attempts, oldest first, to keep at most RAY_task_events_max_num_task_in_gcs.");
        return new TaskListResult([.. reply.Tasks.Select(t => t.ToTaskState())], reply.Total, reply.NumDroppedAtWorkers, reply.NumDroppedAtGcs, warnings);
    }

    public ListResult<ObjectState> ListObjects(int limit, IReadOnlyList<StateFilter> filters)
    {
        var reply = gcs.ListObjects(new ListObjectsRequest(limit, ToWire(filters)));
        return new ListResult<ObjectState>([.. reply.Workers.SelectMany(w => w.Objects.Select(o => o.ToObjectState(w)))], reply.Total, reply.Warnings);
    }

    public IReadOnlyList<NodeState> Nodes() => [.. gcs.GetAllNodes().Nodes.Select(n => new NodeState
    {
        NodeId = n.NodeId.ToString(), NodeIp = StateRows.HostOf(n.RayletEndpoint) ?? "127.0.0.1", IsHeadNode = n.IsHead,
        State = n.Alive ? "ALIVE" : "DEAD", StateMessage = n.DeathReason, ResourcesTotal = n.Total,
    })];

    public IReadOnlyList<ActorState> Actors() => [.. gcs.GetAllActors().Select(a => new ActorState
    {
        ActorId = a.ActorId.ToString(), ClassName = a.Creation.ClassName, State = ActorStateName(a.State), JobId = a.JobId.ToString(),
        Name = a.Creation.Name, NodeId = a.NodeId.IsNil ? null : a.NodeId.ToString(), RayNamespace = a.Creation.Namespace,
        IsDetached = a.Creation.Lifetime == ActorLifetime.Detached, NumRestarts = a.NumRestarts, DeathCause = a.DeathCause?.Message,
    })];

    /// <summary>Ray's name of an actor state (<c>PENDING_CREATION</c>, <c>ALIVE</c>, <c>RESTARTING</c>, <c>DEAD</c>).</summary>
    private static string ActorStateName(ActorLifecycleState state) => state switch
    {
        ActorLifecycleState.PendingCreation => "PENDING_CREATION",
        _ => state.ToString().ToUpperInvariant(),
    };

    public IReadOnlyList<JobState> Jobs() => [.. gcs.GetAllJobs().Select(j => new JobState
    {
        JobId = j.JobId.ToString(), Status = j.IsDead ? "FINISHED" : "RUNNING", Namespace = j.Namespace, DriverPid = j.DriverProcessId,
        DriverNodeId = j.Driver?.NodeId.ToString(), StartTime = j.StartTimeMs, EndTime = j.IsDead ? j.EndTimeMs : null,
    })];

    public IReadOnlyList<RaySharp.State.PlacementGroupState> PlacementGroups() =>
        [.. gcs.GetAllPlacementGroups().OrderBy(g => g.CreateTimeMs).Select(g => new RaySharp.State.PlacementGroupState
    {
        PlacementGroupId = g.Spec.Id.ToString(), Name = g.Spec.Name, CreatorJobId = g.Spec.JobId.ToString(), State = g.State.ToString().ToUpperInvariant(),
        Strategy = System.Text.Json.JsonNamingPolicy.SnakeCaseUpper.ConvertName(g.Spec.Strategy.ToString()),
        IsDetached = g.Spec.Lifetime == PlacementGroupLifetime.Detached,
        Bundles = [.. g.Spec.Bundles.Select((b, i) => new PlacementGroupBundleState(i,
            i < g.BundleNodes.Length && !g.BundleNodes[i].IsNil ? g.BundleNodes[i].ToString() : null, b))],
    })];
}

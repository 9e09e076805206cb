using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>
/// The cluster's control plane (Ray's GCS server): one per cluster, on the head node. It owns the node table and
/// health checks, the job table, the actor table, the internal KV and log pub/sub, all kept in an
/// <see cref="IGcsTableStorage"/>.
/// </summary>
internal sealed class GcsServer : IDisposable
{
    /// <param name="config">Tunables.</param>
    /// <param name="loggers">The GCS's logs (a category per component).</param>
    /// <param name="storage">Table storage (in memory by default).</param>
    /// <param name="raylets">How the GCS reaches raylets (RPC by default).</param>
    /// <param name="workers">How the GCS reaches workers (RPC by default).</param>
    public GcsServer(RayConfig config, ILoggerFactory loggers, IGcsTableStorage? storage = null, IRayletClientPool? raylets = null,
        ICoreWorkerClientPool? workers = null)
    {
        Config = config;
        Storage = storage ?? new InMemoryGcsTableStorage();
        Nodes = new GcsNodeManager(Storage, config, loggers.CreateLogger<GcsNodeManager>());
        Actors = new GcsActorManager(Nodes.RayletFor, Storage, raylets ?? new RayletRpcClientPool(config, loggers.CreateLogger<RayletRpcClientPool>(), Nodes.DeathOf), workers ?? new CoreWorkerRpcClientPool(config, loggers.CreateLogger<CoreWorkerConnection>()),
            loggers.CreateLogger<GcsActorManager>());
        Jobs = new GcsJobManager(Storage, Actors, loggers.CreateLogger<GcsJobManager>());
        Logs = new LogPublisher(loggers.CreateLogger<LogPublisher>());
        Kv = new GcsInternalKv(Storage, config);
        PlacementGroups = new GcsPlacementGroupManager(new RayletBundleReservationClient(Nodes, config), Nodes.BundleNodes,
            loggers.CreateLogger<GcsPlacementGroupManager>(), Storage);
        Events = new ClusterEventPublisher(loggers.CreateLogger<ClusterEventPublisher>());
        Tasks = new GcsTaskManager(config.TaskEventsMaxNumTaskInGcs, config.GcsMarkTaskFailedOnJobDoneDelay, loggers.CreateLogger<GcsTaskManager>());
        Jobs.JobFinished += Tasks.OnJobFinished;
        Nodes.NodeDied += (id, reason) => Events.Publish(new ClusterEvent(ClusterEventKind.NodeDead, id, default, reason));
        Nodes.NodeDied += (id, reason) => Actors.OnNodeDied(id, reason);
        Nodes.NodeDied += (id, _) => PlacementGroups.OnNodeDead(id);
        Nodes.NodeAdded += _ => PlacementGroups.Kick();
        Jobs.JobFinished += PlacementGroups.OnJobFinished;
        Actors.ActorDead += PlacementGroups.OnActorDead;
        // A removed group's actors die for good (their callers learn why); its bundles are returned after.
        PlacementGroups.GroupRemoved += (id, reason) => Actors.KillActorsInPlacementGroup(id, reason);
        // A GCS restarted over external storage picks up where the last one stopped (in memory there is nothing yet).
        if (Storage is not InMemoryGcsTableStorage)
        {
            int nodes = Nodes.Reload(), groups = PlacementGroups.Reload(), actors = Actors.Reload(Nodes.RayletOf), jobs = Jobs.Reload();
            loggers.CreateLogger<GcsServer>().TablesLoaded(Storage, nodes, jobs, actors, groups);
            // Actor workers an earlier GCS leased but never recorded would hold their resources forever: every node
            // known now, and every node that registers again, is told which ones are in use.
            foreach (var node in Nodes.View().Nodes.Where(n => n.Alive)) _ = Actors.ReleaseUnusedActorWorkersAsync(node.NodeId, Nodes.RayletOf);
            Nodes.NodeAdded += id => _ = Actors.ReleaseUnusedActorWorkersAsync(id, Nodes.RayletOf);
        }
        PlacementGroups.Start();
        Autoscaler = new GcsAutoscalerStateManager(Nodes, PlacementGroups.PendingBundles,
            (endpoint, request, ct) => RayletRpc.DrainAsync(config, endpoint, request, config.GcsRequestTimeout, ct), loggers.CreateLogger<GcsAutoscalerStateManager>());
        Service = new GcsService(this);
        _gauges =
        [
            Stats.RayMetrics.ActorSources.Add(Actors.Measurements),
            Stats.RayMetrics.NodeSources.Add(() =>
            {
                var nodes = Nodes.View().Nodes;
                int alive = nodes.Count(n => n.Alive);
                return [new(alive, Stats.RayMetrics.StateTag("alive")),
                    new(nodes.Length - alive, Stats.RayMetrics.StateTag("dead"))];
            }),
        ];
    }

    public RayConfig Config { get; }
    private readonly IDisposable[] _gauges;

    public IGcsTableStorage Storage { get; }

    /// <summary>The task-event store behind the state API's task listing.</summary>
    public GcsTaskManager Tasks { get; }
    public GcsNodeManager Nodes { get; }
    public GcsJobManager Jobs { get; }
    public GcsActorManager Actors { get; }
    public LogPublisher Logs { get; }
    public GcsInternalKv Kv { get; }
    public GcsPlacementGroupManager PlacementGroups { get; }
    public ClusterEventPublisher Events { get; }
    /// <summary>Demand, idle time and drains for the autoscaler.</summary>
    public GcsAutoscalerStateManager Autoscaler { get; }
    public GcsService Service { get; }

    public void OnWorkerFailure(WorkerId workerId, NodeId nodeId, string reason)
    {
        Events.Publish(new ClusterEvent(ClusterEventKind.WorkerDead, nodeId, workerId, reason));
        Actors.OnWorkerDied(workerId, reason);
        Tasks.OnWorkerDead(workerId, reason);
    }

    public void Dispose()
    {
        foreach (var g in _gauges) g.Dispose();
        PlacementGroups.Dispose();
        Tasks.Dispose();
        Jobs.Dispose();
        Nodes.Dispose();
        Actors.Dispose();
    }
}

/// <summary>The node table and health checks (Ray's <c>GcsNodeManager</c> + <c>GcsHealthCheckManager</c>). Raylets
/// report their available resources every ~100 ms and get the cluster view back. Every <c>health_check_period_ms</c>
/// the GCS checks each node; a node that has not reported for <c>health_check_failure_threshold</c> periods is marked
/// dead, and its death reaches every raylet with the next view.</summary>
internal sealed class GcsNodeManager : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<NodeId, (NodeRecord Record, long LastReport)> _nodes = [];
    private readonly IGcsTableStorage _storage;
    private readonly RayConfig _config;
    private readonly ILogger<GcsNodeManager> _logger;
    private readonly Timer _healthCheck;

    public GcsNodeManager(IGcsTableStorage storage, RayConfig config, ILogger<GcsNodeManager> logger)
    {
        _storage = storage;
        _config = config;
        _logger = logger;
        _healthCheck = new Timer(_ => CheckHealth(), null, config.HealthCheckPeriod, config.HealthCheckPeriod);
    }

    public event Action<NodeId, string>? NodeDied;

    /// <summary>A node registered (its resources may let pending work run).</summary>
    public event Action<NodeId>? NodeAdded;

    public void Register(NodeRecord node)
    {
        lock (_lock) _nodes[node.NodeId] = (node with { Alive = true, Available = node.Available.Count == 0 ? node.Total : node.Available }, Environment.TickCount64);
        _storage.PutNode(node);
        if (_logger.IsEnabled(LogLevel.Information))
            _logger.NodeRegistered(node.NodeId, node.RayletEndpoint, node.IsHead, string.Join(", ", node.Total.Select(r => $"{r.Key}={r.Value}")));
        try
        {
            NodeAdded?.Invoke(node.NodeId);
        }
        catch (Exception e)
        {
            _logger.NodeRegistrationFailed(e, node.NodeId);
        }
    }

    public ClusterView Report(ResourceReport report)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(report.NodeId, out var n))
                return ViewLocked() with { UnknownNode = true }; // a GCS restarted without this node: it registers again
            if (n.Record.Alive)
                _nodes[report.NodeId] = (n.Record with { Available = report.Available, Total = report.Total ?? n.Record.Total }, Environment.TickCount64);
            return ViewLocked();
        }
    }

    /// <summary>A raylet answered a bundle request with its own resources (bundle resources left out): the view has
    /// them before its next report, beside the bundle resources it last reported.</summary>
    public void UpdateResources(NodeId nodeId, Dictionary<string, double> ownTotal, Dictionary<string, double> ownAvailable)
    {
        lock (_lock)
            if (_nodes.TryGetValue(nodeId, out var n) && n.Record.Alive)
                _nodes[nodeId] = (n.Record with { Total = WithOwn(n.Record.Total, ownTotal), Available = WithOwn(n.Record.Available, ownAvailable) },
                    n.LastReport);
    }

    private static Dictionary<string, double> WithOwn(Dictionary<string, double> reported, Dictionary<string, double> own)
    {
        var merged = new Dictionary<string, double>(own);
        foreach (var (name, amount) in reported)
            if (BundleResources.IsBundleResource(name)) merged[name] = amount;
        return merged;
    }

    /// <summary>The node accepted a drain: the next cluster view tells every raylet to send it no work.</summary>
    public void MarkDraining(NodeId nodeId)
    {
        NodeRecord draining;
        lock (_lock)
        {
            if (!_nodes.TryGetValue(nodeId, out var n) || !n.Record.Alive || n.Record.Draining) return;
            draining = n.Record with { Draining = true };
            _nodes[nodeId] = (draining, n.LastReport);
        }
        _storage.PutNode(draining);
    }

    /// <summary>The alive nodes as the placement-group scheduler sees them (draining ones left out): their own resources, bundles left out.</summary>
    public IReadOnlyList<BundleNode> BundleNodes()
    {
        lock (_lock)
            return [.. _nodes.Values.Where(n => n.Record.Alive && !n.Record.Draining).Select(n => new BundleNode(n.Record.NodeId,
                BundleResources.WithoutBundles(n.Record.Total.FromWire()), BundleResources.WithoutBundles(n.Record.Available.FromWireAvailable())))];
    }

    /// <summary>The raylet endpoint of exactly this node, if it is alive.</summary>
    public string? RayletOf(NodeId nodeId)
    {
        lock (_lock) return _nodes.TryGetValue(nodeId, out var n) && n.Record.Alive ? n.Record.RayletEndpoint : null;
    }

    public ClusterView View()
    {
        lock (_lock) return ViewLocked();
    }

    private ClusterView ViewLocked() => new([.. _nodes.Values.Select(n => n.Record)]) { FaultTolerant = _storage is not InMemoryGcsTableStorage };

    /// <summary>A restarted GCS reads the node table back from its storage. Alive nodes get a fresh health-check clock,
    /// started <see cref="RayConfig.HealthCheckInitialDelay"/> from now: their raylets kept running, and need time to
    /// reconnect to the new GCS and report before the health-check timeout starts counting.</summary>
    public int Reload()
    {
        var nodes = _storage.GetNodes();
        long now = Environment.TickCount64 + (long)_config.HealthCheckInitialDelay.TotalMilliseconds;
        lock (_lock)
            foreach (var node in nodes)
                _nodes[node.NodeId] = (node, now);
        return nodes.Count;
    }

    /// <summary>The raylet endpoint of <paramref name="preferred"/> if it is alive, else of any alive node (the head first).</summary>
    public string? RayletFor(NodeId preferred)
    {
        lock (_lock)
        {
            if (_nodes.TryGetValue(preferred, out var n) && n.Record.Alive) return n.Record.RayletEndpoint;
            return _nodes.Values.Where(x => x.Record.Alive).OrderByDescending(x => x.Record.IsHead).Select(x => x.Record.RayletEndpoint).FirstOrDefault();
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, CancellationTokenSource> _deaths = new();

    /// <summary>Fires when the node is declared dead (at once if it is already): calls waiting on its raylet stop.</summary>
    public CancellationToken DeathOf(NodeId nodeId)
    {
        var death = _deaths.GetOrAdd(nodeId, _ => new CancellationTokenSource());
        lock (_lock)
            if (_nodes.TryGetValue(nodeId, out var n) && !n.Record.Alive) death.Cancel();
        return death.Token;
    }

    public void MarkDead(NodeId nodeId, string reason)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(nodeId, out var n) || !n.Record.Alive) return;
            var dead = n.Record with { Alive = false, DeathReason = reason, Available = [] };
            _nodes[nodeId] = (dead, n.LastReport);
            _storage.PutNode(dead);
        }
        if (_deaths.TryGetValue(nodeId, out var death)) death.Cancel();
        _logger.NodeDead(nodeId, reason);
        if (NodeDied is { } handlers)
            foreach (var h in handlers.GetInvocationList().Cast<Action<NodeId, string>>())
            {
                // Every listener hears of the death even if one of them throws.
                try
                {
                    h(nodeId, reason);
                }
                catch (Exception e)
                {
                    _logger.NodeDeathHandlingFailed(e, nodeId);
                }
            }
    }

    private void CheckHealth()
    {
        // A timer callback that threw would be lost (or take the process down); one bad pass must not stop the checks.
        try
        {
            CheckHealthOnce();
        }
        catch (Exception e)
        {
            _logger.HealthCheckFailed(e, _config.HealthCheckPeriod);
        }
    }

    private void CheckHealthOnce()
    {
        // A node fails a check when it has not reported for a whole period; it is dead after the threshold's worth of
        // consecutive failed checks, i.e. when it has been silent for period × threshold.
        List<NodeId> silent;
        long deadline = Environment.TickCount64 - (long)_config.HealthCheckTimeout.TotalMilliseconds;
        lock (_lock) silent = [.. _nodes.Where(n => n.Value.Record.Alive && n.Value.LastReport < deadline).Select(n => n.Key)];
        foreach (var id in silent)
            MarkDead(id, $"its raylet missed {_config.HealthCheckFailureThreshold} health checks in a row ({_config.HealthCheckTimeout.TotalSeconds:0.#} s " +
                "without a report): the process died or the node is unreachable");
    }

    public void Dispose() => _healthCheck.Dispose();
}

/// <summary>The job table (Ray's <c>GcsJobManager</c>): job IDs, each driver's namespace and code search path. A driver
/// that joins a cluster holds a watch stream open (<see cref="WatchDriverAsync"/>); when it breaks and is not reopened
/// within a grace period — the driver exited or was killed without calling Shutdown — the job is marked finished, as
/// Ray's GCS does when a driver's connection to its raylet closes. Raylets learn of finished jobs with the cluster view
/// and return their leases and stop their workers.</summary>
internal sealed class GcsJobManager(IGcsTableStorage storage, GcsActorManager actors, ILogger<GcsJobManager> logger) : IDisposable
{
    /// <summary>How long after a driver's watch broke the GCS waits for it to come back (a GCS restart, a blip).</summary>
    internal static TimeSpan DriverReconnectGrace { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a finished job stays in the cluster view raylets get (they act on it once).</summary>
    private static readonly TimeSpan s_finishedJobsInView = TimeSpan.FromMinutes(5);

    private readonly Lock _lock = new();
    private readonly Dictionary<JobId, int> _watches = [];
    private readonly Dictionary<JobId, long> _finished = [];
    private readonly CancellationTokenSource _stopping = new();
    /// <summary>A new job ID from the storage's counter: a GCS restarted over the same storage never hands one out twice.</summary>
    public JobId NextJobId() => new((uint)storage.NextJobCounter());

    public void Add(JobRecord job) => storage.PutJob(job with { StartTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });

    public void MarkFinished(JobId id)
    {
        if (storage.GetJob(id) is { IsDead: false } job)
            storage.PutJob(job with { IsDead = true, EndTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
        lock (_lock) _finished.TryAdd(id, Environment.TickCount64);
        actors.OnJobFinished(id);
        try
        {
            JobFinished?.Invoke(id);
        }
        catch (Exception e)
        {
            logger.JobEndHandlingFailed(e, id);
        }
    }

    /// <summary>A job finished (its placement groups go, but for detached ones).</summary>
    public event Action<JobId>? JobFinished;

    /// <summary>Jobs that finished recently, for the raylets to free their leases and workers.</summary>
    public JobId[] RecentlyFinished()
    {
        long cutoff = Environment.TickCount64 - (long)s_finishedJobsInView.TotalMilliseconds;
        lock (_lock)
        {
            if (_finished.Count == 0) return [];
            foreach (var (id, at) in _finished)
                if (at < cutoff) _finished.Remove(id);
            return [.. _finished.Keys];
        }
    }

    /// <summary>Holds the driver's watch until the driver goes away (<paramref name="ct"/> fires when its connection
    /// breaks), then marks its job finished unless the driver watches again within the grace period.</summary>
    public async Task WatchDriverAsync(JobId jobId, CancellationToken ct)
    {
        lock (_lock) _watches[jobId] = _watches.GetValueOrDefault(jobId) + 1;
        try
        {
            await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_lock)
                if (--_watches[jobId] == 0) _watches.Remove(jobId);
        }
        try
        {
            await Task.Delay(DriverReconnectGrace, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // the GCS is stopping: its streams end, the drivers did not
        }
        lock (_lock)
            if (_watches.ContainsKey(jobId)) return;
        if (storage.GetJob(jobId) is not { IsDead: false }) return;
        logger.DriverDisconnected(jobId);
        MarkFinished(jobId);
    }

    /// <summary>How long a restarted GCS waits for the driver of a running job to watch again before it finishes the job.</summary>
    internal static TimeSpan ReloadedDriverGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A restarted GCS: the drivers of running jobs reconnect their watches; a job whose driver does not within
    /// <see cref="ReloadedDriverGrace"/> (it died while the GCS was down) is finished. Returns how many jobs are stored.</summary>
    public int Reload()
    {
        var jobs = storage.GetJobs();
        foreach (var job in jobs.Where(j => !j.IsDead && j.Driver is not null))
            _ = FinishUnlessWatchedAsync(job.JobId);
        return jobs.Count;
    }

    private async Task FinishUnlessWatchedAsync(JobId jobId)
    {
        try
        {
            await Task.Delay(ReloadedDriverGrace, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_lock)
            if (_watches.ContainsKey(jobId)) return;
        if (storage.GetJob(jobId) is not { IsDead: false }) return;
        logger.DriverDidNotReconnect(jobId);
        MarkFinished(jobId);
    }

    public JobRecord? Get(JobId id) => storage.GetJob(id);

    public IReadOnlyList<JobRecord> All() => storage.GetJobs();

    public void Dispose() => _stopping.Cancel();
}

/// <summary>Node and worker deaths, for every process that subscribes (one stream per process): owners stop waiting on
/// workers that are gone, and know which nodes' copies of objects are lost.</summary>
internal sealed class ClusterEventPublisher(ILogger<ClusterEventPublisher> logger)
{
    private readonly Lock _lock = new();
    private readonly List<Action<ClusterEvent>> _subscribers = [];

    public void Publish(ClusterEvent e)
    {
        Action<ClusterEvent>[] subscribers;
        lock (_lock) subscribers = [.. _subscribers];
        foreach (var s in subscribers)
        {
            try
            {
                s(e);
            }
            catch (Exception ex)
            {
                logger.ClusterEventSubscriberFailed(ex, e.Kind, e.NodeId);
            }
        }
    }

    public IDisposable Subscribe(Action<ClusterEvent> sink)
    {
        lock (_lock) _subscribers.Add(sink);
        return new Unsubscribe(() => { lock (_lock) _subscribers.Remove(sink); });
    }

    private sealed class Unsubscribe(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}

/// <summary>Worker output published by raylets and streamed to the drivers of the job (Ray's log monitor).</summary>
internal sealed class LogPublisher(ILogger<LogPublisher> logger)
{
    private readonly Lock _lock = new();
    private readonly List<(JobId Job, Action<LogBatch> Sink)> _subscribers = [];

    public void Publish(LogBatch batch)
    {
        lock (_lock)
            foreach (var (job, sink) in _subscribers)
                if (job == batch.JobId)
                {
                    // One subscriber that throws must not cut the others off.
                    try
                    {
                        sink(batch);
                    }
                    catch (Exception e)
                    {
                        logger.LogSubscriberFailed(e, job);
                    }
                }
    }

    public IDisposable Subscribe(JobId job, Action<LogBatch> sink)
    {
        var entry = (job, sink);
        lock (_lock) _subscribers.Add(entry);
        return new Unsubscribe(() => { lock (_lock) _subscribers.Remove(entry); });
    }

    private sealed class Unsubscribe(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}

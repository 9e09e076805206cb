using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;

using RaySharp.Core.Packaging;

namespace RaySharp.Core.Raylet;

/// <summary>
/// The raylet (Ray's <c>NodeManager</c> with its <c>LocalLeaseManager</c>): exact accounting of this node's
/// resources, the worker lease protocol — Granted, Spillback to a better node, or Canceled with a reason — with
/// the hybrid and spread policies over the cluster view the GCS sends back every report, a pool of worker
/// processes, and CPU released while a task blocks in Get. Work no node can ever fit waits here and is
/// reported; it is re-examined whenever the cluster changes.
/// </summary>
internal sealed partial class NodeManager : IDisposable
{
    private sealed class PendingLease(WireLeaseRequest request, ResourceSet resources, ResourceSet placement, CancellationToken ct)
    {
        public WireLeaseRequest Request { get; } = request;
        public ResourceSet Resources { get; } = resources;
        public ResourceSet Placement { get; } = placement;
        public CancellationToken Cancellation { get; } = ct;
        public bool Infeasible { get; set; }
        public TaskCompletionSource<WireLeaseReply> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Lease(long id, WorkerProcess worker, ResourceSet resources)
    {
        public long Id { get; } = id;
        public WorkerProcess Worker { get; } = worker;
        public ResourceSet Resources { get; } = resources;
        public bool Blocked { get; set; }

        /// <summary>The GCS process that leased the worker for an actor (0: not an actor lease from the GCS).</summary>
        public long GcsIncarnation { get; init; }

        /// <summary>The worker that holds the lease (nil: not named, as on the GCS's actor leases).</summary>
        public WorkerId Holder { get; init; }

        /// <summary>Where the holder serves (null: not named): asked to give back idle leases when others wait.</summary>
        public Address? HolderAddress { get; init; }
    }

    /// <summary>Asks a lease holder to give back the leases it keeps idle on this node (by default an RPC to its core
    /// worker; component tests record the asks).</summary>
    internal Action<Address>? AskToReturnIdleLeases { get; init; }

    // When each holder was last asked (Environment.TickCount64): at most once per ReturnIdleAskInterval each.
    private readonly Dictionary<WorkerId, long> _askedToReturn = [];
    private const long ReturnIdleAskIntervalMs = 2;

    private readonly Lock _lock = new();
    private readonly LinkedList<PendingLease> _queue = new();
    private readonly Dictionary<long, Lease> _leases = [];
    private readonly Dictionary<long, PendingLease> _granting = [];
    private readonly HashSet<long> _voidedGrants = [];
    private long _removalsSeen;
    private readonly HashSet<string> _reportedInfeasible = [];
    private readonly HashSet<JobId> _finishedJobs = [];
    private readonly ClusterResourceScheduler _scheduler;
    private readonly RayConfig _config;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Dictionary<NodeId, NodeRecord> _view = [];
    private ResourceSet _total;
    private readonly double _baseCpus;
    private ResourceSet _available;
    private long _nextLeaseId;
    private bool _disposed;
    private Task? _reportLoop;
    private IDisposable? _deathWatch;
    /// <summary>The node accepted a drain: it grants nothing new and waits to be removed.</summary>
    private bool _draining;
    /// <summary>When the node last had work (a lease, a bundle, a queued request, a primary object): its idle time counts from here.</summary>
    private long _busyAt = Environment.TickCount64;

    /// <param name="nodeId">This node.</param>
    /// <param name="total">The node's resources.</param>
    /// <param name="isHead">The node hosts the GCS.</param>
    /// <param name="config">Tunables.</param>
    /// <param name="loggers">The raylet's logs (a category per component).</param>
    /// <param name="launcher">Starts this node's workers (processes, or threads in local mode).</param>
    /// <param name="store">The node's shared-memory object store (null: this raylet has none, as in component tests).</param>
    /// <param name="sessionDir">The session directory, where working-dir packages unpack (null: jobs cannot use them).</param>
    public NodeManager(NodeId nodeId, ResourceSet total, bool isHead, RayConfig config, ILoggerFactory loggers, IWorkerLauncher launcher,
        PlasmaStore? store = null, string? sessionDir = null)
    {
        if (sessionDir is not null)
            _workingDirs = new WorkingDirCache(sessionDir, (uri, ct) => Task.Run(() => Gcs.KvGet(WorkingDirPackage.KvNamespace, uri), ct),
                loggers.CreateLogger<WorkingDirCache>());
        NodeId = nodeId;
        _total = total;
        _available = total;
        _baseCpus = total[ResourceSet.Cpu];
        IsHead = isHead;
        _config = config;
        _logger = loggers.CreateLogger<NodeManager>();
        _scheduler = new ClusterResourceScheduler(config.SchedulerSpreadThreshold);
        Pool = new WorkerPool(nodeId, (int)Math.Ceiling(total[ResourceSet.Cpu]), config, launcher,
            () => Socket is null ? Endpoint : "unix:" + Socket, () => GcsEndpoint, GetJobAsync, OnWorkerDied, loggers.CreateLogger<WorkerPool>());
        if (store is not null)
        {
            Objects = new ObjectManager(store, nodeId, EndpointOf, config, loggers.CreateLogger<ObjectManager>());
            store.RequestGarbageCollection = CollectGarbageAsync;
            store.ObjectSpilled = (id, owner, url) => RpcChannels.Fire(RpcChannels.Invoker(RpcChannels.EndpointFor(owner, NodeId), _config),
                Rpc.CoreWorkerService.AddObjectLocationMethod, new ObjectLocationRequest(id, NodeId, url), _logger);
        }
        Service = new NodeManagerService(this);
        // The node's export: this process's collector (started only when something scrapes) and its workers' reports.
        Metrics = new NodeMetrics(() => MetricsCollector.Process.Collect(), config.MetricsReportInterval);
        _gauges =
        [
            RayMetrics.WorkerSources.Add(() => Pool.Measurements()),
            RayMetrics.LeaseSources.Add(LeaseMeasurements),
        ];
        if (store is not null)
        {
            _gauges.Add(RayMetrics.StoreGaugeSources.Add(() => StoreMeasurements(store, counters: false)));
            _gauges.Add(RayMetrics.StoreCounterSources.Add(() => StoreMeasurements(store, counters: true)));
            _gauges.Add(RayMetrics.StoreObjectSources.Add(() =>
            {
                var stats = store.Stats();
                return [new(stats.Objects, new KeyValuePair<string, object?>("location", "in_memory")),
                    new(stats.SpilledObjects, new KeyValuePair<string, object?>("location", "spilled"))];
            }));
        }
    }

    private readonly List<IDisposable> _gauges;

    /// <summary>What the node exports: its process's metrics and its workers' and drivers' reports.</summary>
    public NodeMetrics Metrics { get; }

    /// <summary>The node's log monitor (null when its workers are threads, in local mode).</summary>
    public LogMonitor? Logs { get; init; }

    /// <summary>The port this node exports Prometheus metrics on, advertised in its registration (0: none).</summary>
    public int MetricsExportPort { get; set; }

    /// <summary>The node provider's instance this node runs as (registered for the autoscaler; null: not launched by one).</summary>
    public string? InstanceId { get; init; }

    /// <summary>The autoscaler's node type of this node (registered; null: not launched by the autoscaler).</summary>
    public string? NodeTypeName { get; init; }

    private IEnumerable<Measurement<long>> LeaseMeasurements()
    {
        int granted, queued;
        lock (_lock) (granted, queued) = (_leases.Count, _queue.Count);
        return [new(granted, RayMetrics.StateTag("granted")),
            new(queued, RayMetrics.StateTag("queued"))];
    }

    private static IEnumerable<Measurement<long>> StoreMeasurements(PlasmaStore store, bool counters)
    {
        var s = store.Stats();
        return counters
            ? [new(s.RestoredBytes, Kind("restored")), new(s.EvictedBytes, Kind("evicted"))]
            : [new(s.Used, Kind("used")), new(s.Capacity, Kind("capacity")), new(s.FallbackBytes, Kind("fallback")), new(s.SpilledBytes, Kind("spilled"))];

        static KeyValuePair<string, object?> Kind(string kind) => new("kind", kind);
    }

    private static readonly KeyValuePair<string, object?> s_requested = new(RayMetrics.Outcome, "requested"),
        s_granted = new(RayMetrics.Outcome, "granted"), s_spilledBack = new(RayMetrics.Outcome, "spilled_back"),
        s_canceled = new(RayMetrics.Outcome, "canceled"), s_rejected = new(RayMetrics.Outcome, "rejected");

    private static void CountLease(WireLeaseReply reply) => RayMetrics.Leases.Add(1, reply.Kind switch
    {
        LeaseReplyKind.Granted => s_granted,
        LeaseReplyKind.Spillback => s_spilledBack,
        LeaseReplyKind.Rejected => s_rejected,
        _ => s_canceled,
    });

    /// <summary>The raylet's configuration (its calls to other raylets carry its token).</summary>
    public RayConfig Config => _config;

    /// <summary>The raylet's log (its service logs refused notices here).</summary>
    public ILogger Logger => _logger;

    /// <summary>The node's object store and transfers (null when the raylet has no store).</summary>
    public ObjectManager? Objects { get; }

    /// <summary>The raylet endpoint of an alive node, from the last cluster view.</summary>
    private string? EndpointOf(NodeId node)
    {
        if (node == NodeId) return Socket is null ? Endpoint : "unix:" + Socket;
        lock (_lock) return _view.TryGetValue(node, out var n) && n.Alive ? n.RayletEndpoint : null;
    }

    /// <summary>Asks this process (which hosts the embedded driver, or local mode's) and every worker of the node to
    /// collect garbage: refs dropped without Dispose are finalized, and their objects freed.</summary>
    private async Task CollectGarbageAsync(CancellationToken ct)
    {
        var calls = Pool.WorkerAddresses().Select(a => RpcChannels.TryCallAsync(RpcChannels.Invoker(RpcChannels.EndpointFor(a, NodeId), _config),
            Rpc.CoreWorkerService.CollectGarbageMethod, Empty.Instance, ct)).ToList();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        await Task.WhenAll(calls).ConfigureAwait(false);
    }

    /// <summary>The raylet endpoints of these nodes, other than this one, that are alive.</summary>
    public IReadOnlyList<string> EndpointsOf(IEnumerable<NodeId> nodes)
    {
        lock (_lock)
            return [.. nodes.Where(n => n != NodeId).Distinct().Select(n => _view.TryGetValue(n, out var r) && r.Alive ? r.RayletEndpoint : null)
                .OfType<string>()];
    }

    /// <summary>The raylet endpoints of the other alive nodes.</summary>
    public IReadOnlyList<string> OtherNodeEndpoints()
    {
        lock (_lock) return [.. _view.Values.Where(n => n.Alive && n.NodeId != NodeId).Select(n => n.RayletEndpoint)];
    }

    public NodeId NodeId { get; }
    /// <summary>The node's resources, with the bundle resources of the placement groups committed here.</summary>
    public ResourceSet Total
    {
        get { lock (_lock) return _total; }
    }
    public bool IsHead { get; }
    public string GcsEndpoint => _gcs?.Endpoint ?? "";
    private IRayletGcsClient? _gcs;
    private IRayletGcsClient Gcs => _gcs ?? throw new InvalidOperationException("The raylet has not started.");
    public WorkerPool Pool { get; }
    public NodeManagerService Service { get; }
    public string Endpoint { get; private set; } = "";
    public string? Socket { get; private set; }

    /// <summary>Registers with the GCS at the endpoints the RPC server bound, and starts reporting resources.</summary>
    public async Task StartAsync(IRayletGcsClient gcs, string endpoint, string? socket, CancellationToken ct)
    {
        _gcs = gcs;
        Endpoint = endpoint;
        Socket = socket;
        var record = new NodeRecord
        {
            NodeId = NodeId, RayletEndpoint = endpoint, RayletSocket = socket, Total = Total.ToWire(), IsHead = IsHead,
            ProcessId = Environment.ProcessId, MetricsExportPort = MetricsExportPort, InstanceId = InstanceId, NodeTypeName = NodeTypeName,
        };
        _registration = record;
        await Gcs.RegisterNodeAsync(record, ct).ConfigureAwait(false);
        _logger.Started(NodeId, endpoint, IsHead, Total, gcs.Endpoint);
        _reportLoop = ReportLoopAsync();
        _deathWatch = WatchWorkerDeaths();
    }

    private NodeRecord? _registration;

    private async Task ReportLoopAsync()
    {
        using var timer = new PeriodicTimer(_config.RayletReportPeriod);
        bool warned = false;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                Dictionary<string, double> available, total;
                long removalsSeen, idleMs;
                ResourceDemand[] demand;
                // The store is looked at only when nothing else keeps the node busy (it walks the store's objects).
                bool otherwiseIdle;
                lock (_lock) otherwiseIdle = IsIdleLocked();
                bool holdsObjects = otherwiseIdle && (Objects?.Store.HoldsPrimaryCopies() ?? false);
                lock (_lock)
                {
                    (available, total, removalsSeen) = (_available.ToWire(), _total.ToWire(), _removalsSeen);
                    demand = DemandLocked();
                    idleMs = IdleMsLocked(holdsObjects);
                }
                var view = await Gcs.ReportResourcesAsync(new ResourceReport(NodeId, available, total, removalsSeen, demand, idleMs), _stopping.Token)
                    .ConfigureAwait(false);
                if (view.UnknownNode && _registration is { } registration)
                {
                    // A GCS that restarted without this node in its table: register again (the next report carries the state).
                    _logger.RegisteringAgain(Gcs.Endpoint, NodeId);
                    await Gcs.RegisterNodeAsync(registration, _stopping.Token).ConfigureAwait(false);
                }
                if (warned) _logger.GcsReachedAgain(NodeId, Gcs.Endpoint);
                OnClusterView(view);
                warned = false;
            }
            catch (RayException e) when (!_stopping.IsCancellationRequested)
            {
                if (!warned) _logger.GcsUnreachable(NodeId, e.Message);
                warned = true;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                // One bad view (or a call that timed out) must not stop the node from reporting.
                _logger.ClusterViewFailed(e, NodeId);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                if (!await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false)) return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void OnClusterView(ClusterView view)
    {
        if (view.FinishedJobs is { Length: > 0 } finished)
            foreach (var job in finished) OnJobFinished(job);
        if (view.RemovedPlacementGroups is { Length: > 0 } removed)
            foreach (var group in removed) OnPlacementGroupRemoved(group);
        lock (_lock) _removalsSeen = Math.Max(_removalsSeen, view.RemovalsSeq);
        List<(PendingLease, WireLeaseReply)> replies;
        lock (_lock)
        {
            _view = view.Nodes.ToDictionary(n => n.NodeId);
            replies = RescheduleQueuedLocked();
        }
        foreach (var (p, r) in replies) p.Reply.TrySetResult(r);
    }

    /// <summary>
    /// The job finished (its driver called Shutdown, exited or was killed): as Ray's raylet does on a finished job, its
    /// queued lease requests are canceled, the workers leased to it are stopped and their resources come back (its
    /// driver will never return those leases), and its idle workers exit. Actor workers are left to the GCS, which kills
    /// the job's non-detached actors and keeps its detached ones.
    /// </summary>
    public void OnJobFinished(JobId jobId)
    {
        List<PendingLease> canceled = [];
        List<long> leases;
        lock (_lock)
        {
            if (_disposed || !_finishedJobs.Add(jobId)) return;
            TakeQueuedLocked(p => p.Request.JobId == jobId, canceled);
            leases = [.. _leases.Values.Where(l => l.Worker.JobId == jobId && !l.Worker.IsActor).Select(l => l.Id)];
        }
        lock (_jobs) _jobs.Remove(jobId);
        if (canceled.Count > 0 || leases.Count > 0)
            _logger.JobFinished(jobId, canceled.Count, leases.Count);
        foreach (var p in canceled) p.Reply.TrySetResult(Canceled($"{p.Request.Description} belongs to job {jobId}, which finished."));
        foreach (var id in leases) ReturnWorker(id, disconnect: true, $"its job {jobId} finished");
        Pool.OnJobFinished(jobId);
        if (Objects is not null) _ = FreeDriverObjectsAsync(jobId);
    }

    /// <summary>A finished job's driver owned objects that nothing can read any more: their copies here go.</summary>
    private async Task FreeDriverObjectsAsync(JobId jobId)
    {
        try
        {
            var job = await Gcs.GetJobAsync(jobId, _stopping.Token).ConfigureAwait(false);
            if (job?.Driver is { } driver && Objects is { } objects)
            {
                int freed = objects.Store.FreeOwnedBy(driver.WorkerId);
                if (freed > 0) _logger.JobObjectsFreed(jobId, freed);
            }
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            _logger.JobObjectsNotFreed(e, jobId);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The nodes work may go to, this one first (unless it is draining); draining nodes take no new work.</summary>
    private List<SchedulingNode> NodesLocked()
    {
        var nodes = new List<SchedulingNode>();
        if (!_draining) nodes.Add(new(NodeId, Endpoint, _total, _available));
        foreach (var n in _view.Values)
            if (n.Alive && !n.Draining && n.NodeId != NodeId)
                nodes.Add(new SchedulingNode(n.NodeId, n.RayletEndpoint, n.Total.FromWire(), n.Available.FromWireAvailable()));
        return nodes;
    }

    // ---- The lease protocol ----

    public Task<WireLeaseReply> RequestWorkerLeaseAsync(WireLeaseRequest request, CancellationToken ct)
    {
        var resources = request.Resources.FromWire();
        var placement = request.PlacementResources?.FromWire() ?? resources;
        var pending = new PendingLease(request, resources, placement, ct);
        LogLeaseRequested(_logger, request.Description, request.JobId, request.GrantOrReject);
        RayMetrics.Leases.Add(1, s_requested);
        // Every answer is counted by its kind (a request the requester cancels is not answered).
        _ = pending.Reply.Task.ContinueWith(static t => { if (t.IsCompletedSuccessfully) CountLease(t.Result); }, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        // The job's first lease here: warm up workers up to the CPU count, less the one this lease starts.
        Pool.PrestartForJob(request.JobId, (int)Math.Ceiling(_baseCpus) - 1);
        List<Address>? askToReturn = null;
        lock (_lock)
        {
            if (_disposed) return Task.FromResult(Canceled("the node is shutting down"));
            if (_finishedJobs.Contains(request.JobId))
                return Task.FromResult(Canceled($"{request.Description} belongs to job {request.JobId}, which finished."));
            if (Decide(pending) is { } immediate)
            {
                LogLeaseAnswered(_logger, request.Description, immediate.Kind, immediate.NodeId);
                CountLease(immediate);
                return Task.FromResult(immediate);
            }
            _queue.AddLast(pending);
            if (!pending.Infeasible && !_queue.Any(p => p != pending && !p.Infeasible) && placement.IsSubsetOf(_available))
            {
                _queue.Remove(pending);
                GrantLocked(pending);
            }
            else if (!pending.Infeasible) askToReturn = HoldersToAskLocked(request.Holder, pending.Resources);
        }
        // It waits for resources: owners keeping leases idle here for reuse give them back, so the CPU goes to this one.
        if (askToReturn is not null)
            foreach (var holder in askToReturn) AskToReturnIdle(holder);
        ct.Register(() =>
        {
            lock (_lock)
            {
                if (!_queue.Remove(pending)) return;
            }
            pending.Reply.TrySetCanceled(ct);
        });
        return pending.Reply.Task;
    }

    /// <summary>The other owners holding task leases here, not asked within the last few milliseconds, whose leases hold a
    /// resource that <paramref name="needed"/> is short of (an owner keeping CPUs idle is not asked for a GPU). A request
    /// short of nothing waits behind earlier ones: every holder may help those.</summary>
    private List<Address>? HoldersToAskLocked(WorkerId requester, ResourceSet needed)
    {
        List<Address>? holders = null;
        long now = Environment.TickCount64;
        bool shortOfSomething = !needed.IsSubsetOf(_available);
        foreach (var lease in _leases.Values)
        {
            if (lease.HolderAddress is not { } address || lease.Holder.IsNil || lease.Holder == requester) continue;
            if (shortOfSomething && !needed.WouldGainFrom(lease.Resources, _available)) continue;
            if (_askedToReturn.TryGetValue(lease.Holder, out long at) && now - at < ReturnIdleAskIntervalMs) continue;
            _askedToReturn[lease.Holder] = now;
            (holders ??= []).Add(address);
        }
        if (_askedToReturn.Count > 1024)
            foreach (var (holder, at) in _askedToReturn)
                if (now - at >= ReturnIdleAskIntervalMs) _askedToReturn.Remove(holder);
        return holders;
    }

    /// <summary>Whether requests of owners other than <paramref name="holder"/> wait here for resources.</summary>
    private bool OthersWaitLocked(WorkerId holder)
    {
        foreach (var p in _queue)
            if (!p.Infeasible && p.Request.Holder != holder) return true;
        return false;
    }

    private void AskToReturnIdle(Address holder)
    {
        if (AskToReturnIdleLeases is { } ask)
        {
            ask(holder);
            return;
        }
        RpcChannels.Fire(RpcChannels.Invoker(RpcChannels.EndpointFor(holder, NodeId), _config), Rpc.CoreWorkerService.ReturnIdleLeasesMethod,
            new ReturnIdleLeasesRequest(NodeId), _logger);
    }

    /// <summary>The requester canceled a request it numbered (Ray's <c>CancelWorkerLease</c>): true when it was still queued
    /// here (it is answered Canceled); false when it is being granted, was answered, or never came here.</summary>
    public bool CancelWorkerLease(long leaseRequestId)
    {
        PendingLease? canceled = null;
        lock (_lock)
        {
            for (var node = _queue.First; node is not null; node = node.Next)
                if (node.Value.Request.LeaseRequestId == leaseRequestId)
                {
                    canceled = node.Value;
                    _queue.Remove(node);
                    break;
                }
        }
        if (canceled is null) return false;
        LogLeaseCanceledByOwner(_logger, canceled.Request.Description);
        canceled.Reply.TrySetResult(new WireLeaseReply
        {
            Kind = LeaseReplyKind.Canceled, CanceledByOwner = true, CancelMessage = $"{canceled.Request.Description}: its owner canceled the request.",
        });
        return true;
    }

    /// <summary>A reply to send at once (spillback or cancel), or null to queue the request here.</summary>
    private WireLeaseReply? Decide(PendingLease p)
    {
        if (_draining) return DecideDraining(p);
        var strategy = p.Request.Strategy;
        if (strategy.Kind == WireStrategyKind.PlacementGroup && _removedGroups.Contains(strategy.PlacementGroup))
            return GroupRemoved(p);
        bool hardAffinity = strategy.Kind == WireStrategyKind.NodeAffinity && !strategy.Soft;
        if (strategy.Kind == WireStrategyKind.NodeAffinity)
        {
            if (strategy.NodeId != NodeId)
            {
                // Soft affinity goes to the node only if it could ever fit the work; otherwise the default policy
                // places it (sending it there would bounce it back and forth between that node and the ones that fit).
                if (_view.TryGetValue(strategy.NodeId, out var target) && target.Alive && (hardAffinity || p.Placement.IsSubsetOf(target.Total.FromWire())))
                    return new WireLeaseReply { Kind = LeaseReplyKind.Spillback, NodeId = target.NodeId, SpillbackEndpoint = target.RayletEndpoint };
                if (hardAffinity)
                    return Canceled($"{p.Request.Description} has hard node affinity to node {strategy.NodeId}, which is " +
                        (_view.ContainsKey(strategy.NodeId) ? "dead" : "not in the cluster") + ". Use soft: true to fall back to other nodes.");
            }
            else if (p.Placement.IsSubsetOf(_total))
            {
                return null;
            }
            else if (hardAffinity)
            {
                return Canceled($"{p.Request.Description} requires {p.Placement}, but node {NodeId}, which it has hard affinity to, has only {_total}.");
            }
        }
        // Work another raylet sent here stays if it fits now (as in Ray): choosing again by this raylet's view would
        // pass it on again, bounce it between nodes until it must queue somewhere, possibly where nothing is free,
        // and spread work submitted together would no longer land on distinct nodes.
        if (p.Request.Spilled && p.Placement.IsSubsetOf(_available)) return null;
        if (p.Request.GrantOrReject)
        {
            p.Infeasible = !p.Placement.IsSubsetOf(_total);
            if (p.Infeasible) ReportInfeasibleLocked(p);
            return null;
        }
        var chosen = _scheduler.Choose(NodesLocked(), p.Placement, strategy.Kind == WireStrategyKind.Spread);
        if (chosen is null)
        {
            p.Infeasible = true;
            ReportInfeasibleLocked(p);
            return null;
        }
        p.Infeasible = false;
        return chosen.NodeId == NodeId ? null
            : new WireLeaseReply { Kind = LeaseReplyKind.Spillback, NodeId = chosen.NodeId, SpillbackEndpoint = chosen.Endpoint };
    }

    private static WireLeaseReply Canceled(string message) => new() { Kind = LeaseReplyKind.Canceled, CancelMessage = message };

    private void ReportInfeasibleLocked(PendingLease p)
    {
        // Work for a placement group waits for its bundles, which come with the group (or its removal fails the work).
        if (p.Request.Strategy.Kind == WireStrategyKind.PlacementGroup) return;
        if (!_reportedInfeasible.Add(p.Placement.ToString())) return;
        LogInfeasible(_logger, p.Request.Description, p.Placement, _total);
    }

    /// <summary>Queued requests that another node can now serve move there (spillback); infeasible ones that
    /// became feasible are scheduled.</summary>
    private List<(PendingLease, WireLeaseReply)> RescheduleQueuedLocked()
    {
        var replies = new List<(PendingLease, WireLeaseReply)>();
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            var p = node.Value;
            bool fitsHere = p.Placement.IsSubsetOf(_available);
            // Requests that had to queue here (GrantOrReject included) move when another node has room for them now.
            if (p.Request.Strategy.Kind != WireStrategyKind.NodeAffinity && !fitsHere)
            {
                var chosen = _scheduler.Choose(NodesLocked(), p.Placement, p.Request.Strategy.Kind == WireStrategyKind.Spread);
                if (chosen is not null && chosen.NodeId != NodeId && p.Placement.IsSubsetOf(chosen.Available))
                {
                    _queue.Remove(node);
                    replies.Add((p, new WireLeaseReply { Kind = LeaseReplyKind.Spillback, NodeId = chosen.NodeId, SpillbackEndpoint = chosen.Endpoint }));
                }
                else if (chosen is not null) p.Infeasible = false;
            }
            node = next;
        }
        GrantQueuedLocked();
        return replies;
    }

    private void GrantQueuedLocked()
    {
        if (_draining) return;
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            var p = node.Value;
            // The node's totals grow when bundles are committed here: work that waited for them fits now.
            if (p.Infeasible && p.Placement.IsSubsetOf(_total)) p.Infeasible = false;
            if (!p.Infeasible && p.Placement.IsSubsetOf(_available))
            {
                _queue.Remove(node);
                GrantLocked(p);
            }
            node = next;
        }
    }

    /// <summary>Reserves the resources now and hands over a worker once one is ready.</summary>
    private void GrantLocked(PendingLease p)
    {
        _busyAt = Environment.TickCount64;
        _available = _available.Subtract(p.Resources);
        long leaseId = ++_nextLeaseId;
        _granting[leaseId] = p;
        _ = CompleteGrantAsync(p, leaseId);
    }

    /// <summary>The grant is done (or failed): false when its bundle was returned meanwhile, so that its resources are
    /// gone and must not be given back or used.</summary>
    private bool EndGrantLocked(long leaseId)
    {
        _granting.Remove(leaseId);
        return !_voidedGrants.Remove(leaseId);
    }

    private async Task CompleteGrantAsync(PendingLease p, long leaseId)
    {
        WorkerProcess worker;
        try
        {
            var use = p.Request.IsActorCreation ? WorkerUse.Actor : p.Resources.IsEmpty ? WorkerUse.ZeroResourceTask : WorkerUse.Task;
            string? workingDir = p.Request.WorkingDirUri is { } uri ? await UnpackAsync(uri, p.Cancellation).ConfigureAwait(false) : null;
            worker = await Pool.PopWorkerAsync(p.Request.JobId, p.Request.RuntimeEnvKey, p.Request.EnvVars, use, p.Cancellation, workingDir).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            bool valid;
            lock (_lock) valid = EndGrantLocked(leaseId);
            if (valid) ReleaseResources(p.Resources);
            string message = $"{p.Request.Description} could not get a worker on node {NodeId}: {e.Message}";
            if (e is OperationCanceledException) p.Reply.TrySetCanceled();
            // The worker died or hung before registering: the work is still schedulable, so the requester asks again
            // (Ray's rejected reply). A job the GCS does not know or a worker that cannot be started at all cancels it.
            else if (e is not WorkerStartupFailedException) p.Reply.TrySetResult(Canceled(message));
            else p.Reply.TrySetResult(new WireLeaseReply
            {
                Kind = LeaseReplyKind.Rejected, CancelMessage = message,
            });
            return;
        }
        var lease = new Lease(leaseId, worker, p.Resources)
        {
            GcsIncarnation = p.Request.IsActorCreation ? p.Request.GcsIncarnation : 0, Holder = p.Request.Holder,
            HolderAddress = p.Request.IsActorCreation ? null : p.Request.HolderAddress,
        };
        bool voided, holderDead = false, contended = false;
        lock (_lock)
        {
            voided = !EndGrantLocked(leaseId);
            if (!voided)
            {
                worker.LeaseId = leaseId;
                _leases[leaseId] = lease;
                holderDead = !lease.Holder.IsNil && _deadHolders.Contains(lease.Holder);
                contended = !lease.Holder.IsNil && OthersWaitLocked(lease.Holder);
            }
        }
        if (holderDead)
        {
            // Its holder died while the worker was being found: no one will use or return it.
            ReturnWorker(leaseId, disconnect: false, null);
            p.Reply.TrySetResult(Canceled($"{p.Request.Description}: the worker that asked for it ({p.Request.Holder}) died."));
            return;
        }
        if (voided)
        {
            // Its placement group's bundle here was returned while the worker started: the worker was never used.
            Pool.PushWorker(worker);
            p.Reply.TrySetResult(p.Request.Strategy.Kind == WireStrategyKind.PlacementGroup && IsRemovedGroup(p.Request.Strategy.PlacementGroup)
                ? GroupRemoved(p)
                : new WireLeaseReply { Kind = LeaseReplyKind.Rejected, CancelMessage = $"the bundle {p.Request.Description} was granted in was returned" });
            return;
        }
        var reply = new WireLeaseReply
        {
            Kind = LeaseReplyKind.Granted, LeaseId = leaseId, Worker = worker.Address, NodeId = NodeId, Resources = p.Resources.ToWire(),
            Contended = contended,
        };
        LogLeaseGranted(_logger, leaseId, p.Request.Description, worker.WorkerId);
        // The task's in-store arguments start moving here while it is pushed (its worker joins these pulls).
        if (p.Request.StoreArgs is { Length: > 0 } args) Objects?.Prefetch(args);
        if (!p.Reply.TrySetResult(reply) || p.Cancellation.IsCancellationRequested) ReturnWorker(leaseId, disconnect: false);
    }

    private void ReleaseResources(ResourceSet resources)
    {
        lock (_lock)
        {
            _available = _available.Add(resources);
            GrantQueuedLocked();
        }
    }

    public void ReturnWorker(long leaseId, bool disconnect) => ReturnWorker(leaseId, disconnect, null);

    /// <summary>A GCS that restarted names the actor workers it knows here: actor leases an earlier GCS took that it does
    /// not name (an actor whose creation the old GCS had started but not recorded) are returned and their workers
    /// stopped, so their resources are not held forever. Returns how many.</summary>
    public int ReleaseUnusedActorWorkers(long gcsIncarnation, IReadOnlyCollection<WorkerId> inUse)
    {
        var used = inUse as IReadOnlySet<WorkerId> ?? inUse.ToHashSet();
        List<long> unused;
        lock (_lock)
            unused = [.. _leases.Values.Where(l => l.GcsIncarnation != 0 && l.GcsIncarnation != gcsIncarnation && !used.Contains(l.Worker.WorkerId))
                .Select(l => l.Id)];
        foreach (long id in unused) ReturnWorker(id, disconnect: true, "the GCS that leased it for an actor restarted, and no actor it knows uses it");
        if (unused.Count > 0) _logger.UnusedActorWorkersReleased(unused.Count);
        return unused.Count;
    }

    private void ReturnWorker(long leaseId, bool disconnect, string? why)
    {
        Lease? lease;
        lock (_lock)
        {
            if (!_leases.Remove(leaseId, out lease)) return;
            _busyAt = Environment.TickCount64;
            LogLeaseReturned(_logger, leaseId, disconnect);
        }
        // The worker is back in the pool before the queue is served, so a queued lease of its job and env reuses it
        // rather than starting a process.
        if (disconnect || lease.Worker.IsActor || lease.Worker.DeathReason is not null || _disposed)
            Pool.Kill(lease.Worker, why ?? (disconnect ? "its lease holder disconnected it" : "its actor is gone"));
        else
            Pool.PushWorker(lease.Worker);
        lock (_lock)
        {
            // A blocked task's CPU is already back in the pool.
            _available = _available.Add(lease.Blocked ? lease.Resources.Subtract(Cpus(lease.Resources)) : lease.Resources);
            GrantQueuedLocked();
        }
    }

    public void NotifyBlocked(long leaseId, bool blocked)
    {
        lock (_lock)
        {
            if (!_leases.TryGetValue(leaseId, out var lease) || lease.Blocked == blocked) return;
            lease.Blocked = blocked;
            Pool.SetBlocked(lease.Worker, blocked);
            var cpu = Cpus(lease.Resources);
            if (cpu.IsEmpty) return;
            if (blocked)
            {
                _available = _available.Add(cpu);
                GrantQueuedLocked();
            }
            else
            {
                _available = _available.Subtract(cpu);
            }
        }
    }

    /// <summary>The CPUs of a lease, the node's or a bundle's: what a task blocked in Get gives back while it waits.</summary>
    private static ResourceSet Cpus(ResourceSet resources) =>
        ResourceSet.From(resources.Names.Where(BundleResources.IsCpu).Select(n => new KeyValuePair<string, double>(n, resources[n])));

    public bool RegisterWorker(RegisterWorkerRequest request) => Pool.OnWorkerRegistered(request);

    public NodeStatsReply Stats()
    {
        lock (_lock)
            return new NodeStatsReply(_total.ToWire(), _available.ToDictionary().ToDictionary(kv => kv.Key, kv => Math.Max(0, kv.Value)), Pool.NumWorkers);
    }

    private readonly Dictionary<JobId, JobRecord> _jobs = [];

    private async Task<JobRecord> GetJobAsync(JobId jobId, CancellationToken ct)
    {
        lock (_jobs)
            if (_jobs.TryGetValue(jobId, out var cached)) return cached;
        var job = await Gcs.GetJobAsync(jobId, ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Job {jobId} is not registered with the GCS.");
        if (job.WorkingDirUri is { } uri) job = WorkerPool.InWorkingDir(job, await UnpackAsync(uri, ct).ConfigureAwait(false));
        lock (_jobs) _jobs[jobId] = job;
        return job;
    }

    private readonly WorkingDirCache? _workingDirs;

    /// <summary>The local directory of a working-dir package, unpacked on this node on first use.</summary>
    private Task<string> UnpackAsync(string uri, CancellationToken ct) => _workingDirs is null
        ? throw new InvalidOperationException($"This node has no session directory to unpack the working-dir package {uri} into.")
        : _workingDirs.GetAsync(uri, ct);

    private void OnWorkerDied(WorkerProcess worker, string reason)
    {
        _logger.WorkerDied(worker.WorkerId, reason);
        // What it was writing is dropped and what it was reading is released.
        Objects?.Store.DisconnectClient(worker.WorkerId.ToString());
        // The objects it owned are unreachable now.
        Objects?.Store.FreeOwnedBy(worker.WorkerId);
        // Its metrics stay counted in the node's totals; its gauges go.
        Metrics.Retire(worker.WorkerId);
        Gcs.ReportWorkerFailure(worker.WorkerId, NodeId, reason);
        ReleaseLeasesHeldBy(worker.WorkerId);
    }

    /// <summary>A worker of this node died: the leases it held come back (their workers are stopped: nothing will push
    /// to them, and what they run was its work), and its queued requests are dropped; a grant still under way for it is
    /// taken back when it completes. Otherwise its resources would stay taken for good (a lease it kept lingering, or
    /// got just as it died).</summary>
    internal void ReleaseLeasesHeldBy(WorkerId holder)
    {
        if (holder.IsNil) return;
        List<long> held;
        List<PendingLease> queued = [];
        lock (_lock)
        {
            _deadHolders.Add(holder);
            _deadHolderOrder.Enqueue(holder);
            while (_deadHolderOrder.Count > DeadHoldersRemembered) _deadHolders.Remove(_deadHolderOrder.Dequeue());
            held = [];
            foreach (var lease in _leases.Values)
                if (lease.Holder == holder) held.Add(lease.Id);
            TakeQueuedLocked(p => p.Request.Holder == holder, queued);
        }
        if (held.Count > 0 || queued.Count > 0) LogHolderDied(_logger, holder, held.Count, queued.Count);
        foreach (var p in queued) p.Reply.TrySetResult(Canceled($"{p.Request.Description}: the worker that asked for it ({holder}) died."));
        foreach (var id in held) ReturnWorker(id, disconnect: true, $"the worker holding its lease ({holder}) died");
    }

    /// <summary>Workers that die on other nodes may hold leases here (an actor there submitting tasks): the GCS's worker
    /// deaths reach the raylet through the same subscription every core worker has, and their leases come back too.
    /// This node's own workers were handled when their processes exited.</summary>
    private IDisposable WatchWorkerDeaths() => Rpc.GcsSubscription.Watch(Gcs.SubscribeClusterEvents, e =>
    {
        if (e.Kind == ClusterEventKind.WorkerDead && e.NodeId != NodeId) ReleaseLeasesHeldBy(e.WorkerId);
    }, "cluster event", _logger);

    /// <summary>Moves the queued requests that <paramref name="which"/> selects out of the queue into <paramref name="taken"/>.</summary>
    private void TakeQueuedLocked(Func<PendingLease, bool> which, List<PendingLease> taken)
    {
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            if (which(node.Value))
            {
                taken.Add(node.Value);
                _queue.Remove(node);
            }
            node = next;
        }
    }

    /// <summary>How many dead holders a node remembers, to take back a grant that completes after its holder died.</summary>
    private const int DeadHoldersRemembered = 4096;
    private readonly HashSet<WorkerId> _deadHolders = [];
    private readonly Queue<WorkerId> _deadHolderOrder = new();

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {Holder} died holding {Leases} leases and with {Queued} lease requests queued here: " +
        "they are taken back")]
    private static partial void LogHolderDied(ILogger logger, WorkerId holder, int leases, int queued);

    /// <summary>Worker output for the job's driver (through the GCS's log channel).</summary>
    public void PublishLogs(LogBatch batch) => _gcs?.PublishLogs(batch);

    public void Dispose()
    {
        List<PendingLease> queued;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            queued = [.. _queue];
            _queue.Clear();
        }
        _stopping.Cancel();
        _deathWatch?.Dispose();
        foreach (var g in _gauges) g.Dispose();
        foreach (var p in queued) p.Reply.TrySetResult(Canceled("the node shut down"));
        Pool.Dispose();
        // Last: the workers that mapped its objects are gone; every object and spill file goes with the node.
        Objects?.Store.Dispose();
    }

    // The lease path logs through source-generated methods: nothing is formatted unless the level is on.

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease requested for {Work} of job {JobId} (grant or reject: {GrantOrReject})")]
    private static partial void LogLeaseRequested(ILogger logger, string work, JobId jobId, bool grantOrReject);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease request for {Work} answered at once: {Kind} (node {NodeId})")]
    private static partial void LogLeaseAnswered(ILogger logger, string work, LeaseReplyKind kind, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease {LeaseId} granted for {Work} on worker {WorkerId}")]
    private static partial void LogLeaseGranted(ILogger logger, long leaseId, string work, WorkerId workerId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A queued lease request for {Work} was canceled by its owner")]
    private static partial void LogLeaseCanceledByOwner(ILogger logger, string work);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease {LeaseId} returned (disconnect the worker: {Disconnect})")]
    private static partial void LogLeaseReturned(ILogger logger, long leaseId, bool disconnect);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Work} requires {Required}, but no node in the cluster has that much (this node has {Total}): " +
        "it cannot be scheduled and waits until a node that can fit it joins. Lower its resource request or add a node with those resources.")]
    private static partial void LogInfeasible(ILogger logger, string work, ResourceSet required, ResourceSet total);
}

/// <summary>The GCS as a raylet calls it (the node and job accessors of Ray's <c>GcsClient</c>); the
/// <see cref="GcsClient"/> implements it, and a test of the raylet alone fakes it.</summary>
internal interface IRayletGcsClient
{
    /// <summary>The GCS's endpoint, which the raylet hands to the workers it starts.</summary>
    string Endpoint { get; }

    Task RegisterNodeAsync(NodeRecord node, CancellationToken ct);

    /// <summary>Reports this node's available resources; the reply is the cluster view.</summary>
    Task<ClusterView> ReportResourcesAsync(ResourceReport report, CancellationToken ct);

    Task<JobRecord?> GetJobAsync(JobId jobId, CancellationToken ct);

    /// <summary>An internal KV value (working-dir packages are kept there), or null.</summary>
    byte[]? KvGet(string @namespace, string key);

    void ReportWorkerFailure(WorkerId workerId, NodeId nodeId, string reason);

    void PublishLogs(LogBatch batch);

    /// <summary>Deaths of nodes and workers anywhere in the cluster, as the GCS publishes them (none by default).</summary>
    IAsyncEnumerable<ClusterEvent> SubscribeClusterEvents(CancellationToken ct) => AsyncEnumerable.Empty<ClusterEvent>();
}

using Microsoft.Extensions.Logging;

namespace RaySharp.Core.LocalMode;

/// <summary>
/// Local mode's raylet: exact accounting of the node's resources from <see cref="RayOptions"/>, leases granted
/// in request order as resources free up (work that does not fit waits; infeasible work waits and is reported),
/// and a pool of in-process workers reused per runtime environment.
/// </summary>
internal sealed class InProcessRaylet : IRayletClient
{
    private sealed class PendingLease(LeaseRequest request, TaskCompletionSource<WorkerLease> granted, bool infeasible)
    {
        public LeaseRequest Request { get; } = request;
        public bool Infeasible { get; } = infeasible;
        public TaskCompletionSource<WorkerLease> Granted { get; } = granted;
    }

    private readonly Lock _lock = new();
    private readonly ResourceSet _total;
    private ResourceSet _available;
    private readonly LinkedList<PendingLease> _queue = new();
    private readonly Dictionary<string, Stack<InProcessWorker>> _idleWorkers = [];
    private readonly List<InProcessWorker> _allWorkers = [];
    private readonly HashSet<string> _reportedInfeasible = [];
    private readonly ILogger _logger;
    private readonly Func<string, InProcessWorker> _startWorker;
    private readonly int _maxIdleWorkers;
    private long _nextLeaseId;
    private bool _disposed;

    public InProcessRaylet(ResourceSet total, NodeId nodeId, Func<InProcessRaylet, string, InProcessWorker> startWorker, ILogger logger)
    {
        _total = total;
        _available = total;
        NodeId = nodeId;
        _logger = logger;
        _startWorker = envKey => startWorker(this, envKey);
        _maxIdleWorkers = Math.Max(1, (int)Math.Ceiling(total[ResourceSet.Cpu]));
    }

    public NodeId NodeId { get; }

    public ValueTask<WorkerLease> RequestWorkerLeaseAsync(LeaseRequest request, CancellationToken ct)
    {
        switch (request.Strategy)
        {
            case NodeAffinitySchedulingStrategy { Soft: false } affinity when affinity.NodeId != NodeId:
                var message = $"{request.Description} has hard node affinity to node {affinity.NodeId}, which is not in the cluster " +
                    $"(this node is {NodeId}). Use Soft: true to fall back to other nodes.";
                throw request.IsActorCreation ? new ActorUnschedulableException(message) : new TaskUnschedulableException(message);
            case PlacementGroupSchedulingStrategy:
                throw new NotSupportedException("Placement groups are not supported in local mode; they need the cluster runtime.");
        }

        PendingLease pending;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var placement = request.PlacementResources ?? request.Resources;
            bool infeasible = !placement.IsSubsetOf(_total);
            if (infeasible) ReportInfeasible(request, placement);
            // Feasible requests are granted in order; infeasible ones wait aside (Ray's infeasible queue) and never
            // hold up the ones behind them.
            else if (!_queue.Any(p => !p.Infeasible) && placement.IsSubsetOf(_available))
                return ValueTask.FromResult(GrantLocked(request));
            pending = new PendingLease(request, new TaskCompletionSource<WorkerLease>(TaskCreationOptions.RunContinuationsAsynchronously), infeasible);
            _queue.AddLast(pending);
        }
        return new ValueTask<WorkerLease>(WaitForGrantAsync(pending, ct));
    }

    private async Task<WorkerLease> WaitForGrantAsync(PendingLease pending, CancellationToken ct)
    {
        await using var registration = ct.Register(() =>
        {
            lock (_lock)
            {
                if (!_queue.Remove(pending)) return;
            }
            pending.Granted.TrySetCanceled(ct);
        });
        return await pending.Granted.Task.ConfigureAwait(false);
    }

    private void ReportInfeasible(LeaseRequest request, ResourceSet placement)
    {
        if (!_reportedInfeasible.Add(placement.ToString())) return;
        _logger.LogWarning(
            "{Work} requires {Required}, but this node has only {Total}: it cannot be scheduled and waits until resources allow. " +
            "Lower its resource request or start RaySharp with more resources.", request.Description, placement, _total);
    }

    private WorkerLease GrantLocked(LeaseRequest request)
    {
        _available = _available.Subtract(request.Resources);
        var worker = PopWorkerLocked(request.RuntimeEnvKey);
        var lease = new WorkerLease(++_nextLeaseId, worker, NodeId, request.Resources);
        worker.Lease = lease;
        return lease;
    }

    private InProcessWorker PopWorkerLocked(string envKey)
    {
        if (_idleWorkers.TryGetValue(envKey, out var idle) && idle.Count > 0) return idle.Pop();
        var worker = _startWorker(envKey);
        _allWorkers.Add(worker);
        return worker;
    }

    public void ReturnWorker(WorkerLease lease, bool disconnectWorker)
    {
        var worker = (InProcessWorker)lease.Worker;
        List<(PendingLease, WorkerLease)> granted;
        InProcessWorker? stop = null;
        lock (_lock)
        {
            _available = _available.Add(lease.Resources);
            worker.Lease = null;
            if (disconnectWorker || worker.IsDead || worker.Actor is not null || _disposed)
            {
                stop = worker;
                _allWorkers.Remove(worker);
            }
            else
            {
                if (!_idleWorkers.TryGetValue(worker.RuntimeEnvKey, out var idle)) _idleWorkers[worker.RuntimeEnvKey] = idle = new();
                if (idle.Count < _maxIdleWorkers) idle.Push(worker);
                else { stop = worker; _allWorkers.Remove(worker); }
            }
            granted = GrantQueuedLocked();
        }
        stop?.Kill("the worker was released");
        foreach (var (p, l) in granted)
            if (!p.Granted.TrySetResult(l)) ReturnWorker(l, disconnectWorker: false);
    }

    private List<(PendingLease, WorkerLease)> GrantQueuedLocked()
    {
        var granted = new List<(PendingLease, WorkerLease)>();
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            var placement = node.Value.Request.PlacementResources ?? node.Value.Request.Resources;
            if (placement.IsSubsetOf(_available))
            {
                _queue.Remove(node);
                granted.Add((node.Value, GrantLocked(node.Value.Request)));
            }
            node = next;
        }
        return granted;
    }

    public void NotifyTaskBlocked(WorkerLease lease) => AdjustCpu(lease, release: true);

    public void NotifyTaskUnblocked(WorkerLease lease) => AdjustCpu(lease, release: false);

    private void AdjustCpu(WorkerLease lease, bool release)
    {
        var cpu = lease.Resources.Only(ResourceSet.Cpu);
        if (cpu.IsEmpty) return;
        List<(PendingLease, WorkerLease)> granted = [];
        lock (_lock)
        {
            if (release)
            {
                _available = _available.Add(cpu);
                granted = GrantQueuedLocked();
            }
            else
            {
                _available = _available.Subtract(cpu);
            }
        }
        foreach (var (p, l) in granted)
            if (!p.Granted.TrySetResult(l)) ReturnWorker(l, disconnectWorker: false);
    }

    public IReadOnlyList<NodeInfo> GetNodes() => [new NodeInfo(NodeId, true, "inproc", _total.ToDictionary())];

    public IReadOnlyDictionary<string, double> GetTotalResources() => _total.ToDictionary();

    public IReadOnlyDictionary<string, double> GetAvailableResources()
    {
        lock (_lock)
        {
            // A blocked worker re-acquiring its CPU may push an amount below zero for a moment; report zero.
            return _available.ToDictionary().ToDictionary(kv => kv.Key, kv => Math.Max(0, kv.Value));
        }
    }

    public int NumWorkers
    {
        get { lock (_lock) return _allWorkers.Count; }
    }

    public void Dispose()
    {
        List<InProcessWorker> workers;
        List<PendingLease> queued;
        lock (_lock)
        {
            _disposed = true;
            workers = [.. _allWorkers];
            _allWorkers.Clear();
            _idleWorkers.Clear();
            queued = [.. _queue];
            _queue.Clear();
        }
        foreach (var p in queued) p.Granted.TrySetCanceled();
        foreach (var w in workers) w.Kill("RaySharp was shut down");
    }
}

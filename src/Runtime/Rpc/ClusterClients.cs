using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;

namespace RaySharp.Core.Rpc;

/// <summary>The local raylet over RPC, as a core worker (driver or worker) uses it.</summary>
internal sealed class RayletRpcClient : IRayletClient
{
    private readonly string _raylet;
    private readonly GcsClient _gcs;
    private readonly JobId _jobId;
    private readonly RayConfig _config;
    private readonly ILogger _connectionLogger;
    private readonly ILogger _logger;

    /// <param name="raylet">The local raylet's endpoint (<c>unix:</c> socket, TCP or in process).</param>
    /// <param name="gcs">The GCS.</param>
    /// <param name="nodeId">This node.</param>
    /// <param name="jobId">The job whose workers are leased.</param>
    /// <param name="config">The process's configuration (spillbacks, batch size, keepalive).</param>
    /// <param name="loggers">The process's loggers.</param>
    public RayletRpcClient(string raylet, GcsClient gcs, NodeId nodeId, JobId jobId, RayConfig config, ILoggerFactory loggers)
    {
        _config = config;
        _connectionLogger = loggers.CreateLogger<CoreWorkerConnection>();
        _logger = loggers.CreateLogger<RayletRpcClient>();
        _raylet = raylet;
        _gcs = gcs;
        NodeId = nodeId;
        _jobId = jobId;
        _ = Task.Run(SendBlockNoticesAsync);
    }

    public NodeId NodeId { get; }

    /// <summary>The process whose leases these are (the core worker's ID), named in every lease request.</summary>
    public WorkerId Holder { get; init; }

    /// <summary>Where the holder serves, named in lease requests so that a raylet where others wait can ask it to give
    /// back idle leases (read at each request: the core worker's address is known once it exists).</summary>
    public Func<Address?>? HolderAddress { get; set; }

    public ValueTask<WorkerLease> RequestWorkerLeaseAsync(LeaseRequest request, CancellationToken ct) =>
        RequestWorkerLeaseAsync(request, ct, CancellationToken.None);

    /// <summary>Numbers the request so that <paramref name="cancel"/> can withdraw it where it waits (the raylet it was
    /// sent or spilled to): a cancel that races the grant leaves the grant to the caller, so no lease is leaked.</summary>
    public async ValueTask<WorkerLease> RequestWorkerLeaseAsync(LeaseRequest request, CancellationToken ct, CancellationToken cancel)
    {
        var envVars = request.EnvVars is { Count: > 0 } env ? new Dictionary<string, string>(env) : null;
        // The submitter asks under its lock: reading the node table (at most once a second) is I/O that must not run
        // on its thread, so that wait happens elsewhere.
        if (!request.PreferredNode.IsNil && request.PreferredNode != NodeId && EndpointsStale) await Task.Yield();
        var remote = !request.PreferredNode.IsNil && request.PreferredNode != NodeId && EndpointOf(request.PreferredNode) is { } endpoint
            ? (Node: request.PreferredNode, Endpoint: endpoint)
            : default((NodeId Node, string Endpoint)?);
        var wire = request.ToWire(_jobId, envVars) with { Holder = Holder, HolderAddress = HolderAddress?.Invoke() };
        string current = remote?.Endpoint ?? _raylet;
        CancellationTokenRegistration registration = default;
        if (cancel.CanBeCanceled)
        {
            long id = Random.Shared.NextInt64(1, long.MaxValue);
            wire = wire with { LeaseRequestId = id };
            registration = cancel.Register(() => RayletRpc.CancelWorkerLease(_config, Volatile.Read(ref current), id, _logger));
        }
        WireLeaseReply reply;
        string raylet;
        using (registration)
            (reply, raylet) = await RayletRpc.RequestLeaseAsync(_config, current, wire, ct, DeathOf, remote?.Node,
                onHop: e => Volatile.Write(ref current, e), canceled: cancel).ConfigureAwait(false);
        var resources = reply.Resources.FromWire();
        var worker = new RemoteCoreWorkerClient(reply.Worker!, NodeId, _jobId, reply.LeaseId, resources, _config, _connectionLogger);
        return new WorkerLease(reply.LeaseId, worker, reply.NodeId, resources) { Raylet = raylet, Contended = reply.Contended };
    }

    private readonly ConcurrentDictionary<NodeId, CancellationTokenSource> _deaths = new();

    /// <summary>The GCS published the node's death: lease requests waiting on its raylet stop waiting.</summary>
    public void OnNodeDead(NodeId node)
    {
        var death = _deaths.GetOrAdd(node, _ => new CancellationTokenSource());
        try { death.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>Fires when the node is declared dead (at once if it is already).</summary>
    private CancellationToken DeathOf(NodeId node) => _deaths.GetOrAdd(node, _ => new CancellationTokenSource()).Token;

    public async Task<bool> IsNodeDeadAsync(NodeId node, CancellationToken ct)
    {
        // This process's own node: were it dead, so would this process be.
        if (node == NodeId || node.IsNil) return false;
        if (_deaths.TryGetValue(node, out var death) && death.IsCancellationRequested) return true;
        try
        {
            var record = (await _gcs.GetAllNodesAsync(ct).ConfigureAwait(false)).Nodes.FirstOrDefault(n => n.NodeId == node);
            if (record is null || !record.Alive) return true;
            // The GCS declares a node dead only after its health checks fail (seconds): ask the node's raylet itself.
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
            probe.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                return await RpcChannels.TryCallAsync(RpcChannels.Invoker(record.RayletEndpoint, _config), NodeManagerService.GetNodeStatsMethod,
                    Empty.Instance, probe.Token).ConfigureAwait(false) is null;
            }
            catch (RpcException) when (probe.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                return true; // no answer within the probe's time: as good as gone
            }
        }
        catch (RayException e)
        {
            _logger.NodeDeathUnknown(node, e.Message);
            return false;
        }
    }

    private (DateTime At, Dictionary<NodeId, string> Endpoints)? _endpoints;

    /// <summary>The raylet endpoint of an alive node, from the GCS's node table (read again at most once a second). It
    /// never waits for a GCS that is away (restarting): the last table read stands meanwhile, and without one the
    /// request goes to the local raylet.</summary>
    private bool EndpointsStale => _endpoints is not { } cached || DateTime.UtcNow - cached.At > TimeSpan.FromSeconds(1);

    private string? EndpointOf(NodeId node)
    {
        var cached = _endpoints;
        if (cached is null || DateTime.UtcNow - cached.Value.At > TimeSpan.FromSeconds(1))
        {
            try
            {
                var fresh = (DateTime.UtcNow, _gcs.GetAllNodes(retry: false).Nodes.Where(n => n.Alive).ToDictionary(n => n.NodeId, n => n.RayletEndpoint));
                _endpoints = cached = fresh;
            }
            catch (RayException e)
            {
                if (cached is null)
                {
                    _logger.NodeTableUnreadable(e.Message);
                    return null;
                }
                _endpoints = cached = (DateTime.UtcNow, cached.Value.Endpoints); // try the GCS again in a second
            }
        }
        return cached.Value.Endpoints.GetValueOrDefault(node);
    }

    public void ReturnWorker(WorkerLease lease, bool disconnectWorker) =>
        RayletRpc.ReturnWorker(_config, lease.Raylet ?? _raylet, lease.LeaseId, disconnectWorker, _logger);

    /// <summary>One message per raylet that granted some of the leases.</summary>
    public void ReturnWorkers(IReadOnlyList<(WorkerLease Lease, bool Disconnect)> leases)
    {
        var byRaylet = new Dictionary<string, List<ReturnWorkerRequest>>(StringComparer.Ordinal);
        foreach (var (lease, disconnect) in leases)
        {
            string raylet = lease.Raylet ?? _raylet;
            if (!byRaylet.TryGetValue(raylet, out var list)) byRaylet[raylet] = list = [];
            list.Add(new ReturnWorkerRequest(lease.LeaseId, disconnect));
        }
        foreach (var (raylet, list) in byRaylet)
            if (list.Count == 1) RayletRpc.ReturnWorker(_config, raylet, list[0].LeaseId, list[0].Disconnect, _logger);
            else RayletRpc.ReturnWorkers(_config, raylet, [.. list], _logger);
    }

    // Blocked/unblocked notices must reach the raylet in the order they happened (an unblock overtaken by the next
    // block would leave the raylet counting a blocked task's CPU): one sender sends them one at a time.
    private readonly Channel<(long LeaseId, bool Blocked)> _blockNotices = Channel.CreateUnbounded<(long, bool)>(
        new UnboundedChannelOptions { SingleReader = true });

    public void NotifyTaskBlocked(WorkerLease lease) => Notify(lease.LeaseId, blocked: true);

    public void NotifyTaskUnblocked(WorkerLease lease) => Notify(lease.LeaseId, blocked: false);

    private void Notify(long leaseId, bool blocked)
    {
        _blockNotices.Writer.TryWrite((leaseId, blocked));
    }

    private async Task SendBlockNoticesAsync()
    {
        await foreach (var (leaseId, blocked) in _blockNotices.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await RayletRpc.CallAsync(_config, _raylet, blocked ? NodeManagerService.NotifyBlockedMethod : NodeManagerService.NotifyUnblockedMethod,
                    new LeaseIdRequest(leaseId)).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                // One lost notice must not stop the ones after it.
                _logger.BlockedNoticeRefused(_raylet, RpcErrors.Describe(e, _raylet));
            }
        }
    }

    private ClusterView View() => _gcs.GetAllNodes();

    public IReadOnlyList<NodeInfo> GetNodes() =>
        [.. View().Nodes.Select(n => new NodeInfo(n.NodeId, n.Alive, n.RayletEndpoint, n.Total))];

    public IReadOnlyDictionary<string, double> GetTotalResources() => Sum(View().Nodes.Where(n => n.Alive).Select(n => n.Total));

    /// <summary>Exact for this node, the last broadcast for the others.</summary>
    public IReadOnlyDictionary<string, double> GetAvailableResources()
    {
        var local = RpcChannels.Invoker(_raylet, _config).BlockingUnaryCall(NodeManagerService.GetNodeStatsMethod, null,
            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), Empty.Instance);
        return Sum(View().Nodes.Where(n => n.Alive).Select(n => n.NodeId == NodeId ? local.Available : n.Available));
    }

    private static Dictionary<string, double> Sum(IEnumerable<Dictionary<string, double>> sets)
    {
        var total = new Dictionary<string, double>();
        foreach (var set in sets)
            foreach (var (k, v) in set) total[k] = total.GetValueOrDefault(k) + v;
        return total;
    }

    public void Dispose() => _blockNotices.Writer.TryComplete();
}

/// <summary>The GCS's actor manager as a core worker uses it. Registration is synchronous (named actors are unique at
/// once); the creation task follows once its arguments are resolved, as in Ray's RegisterActor + CreateActor.</summary>
internal sealed class GcsActorClient : IGcsActorClient, IDisposable
{
    private readonly GcsClient _gcs;
    private readonly CoreWorker _worker;
    private readonly ConcurrentDictionary<ActorId, ActorLimits> _limits = new();
    private readonly CancellationTokenSource _closing = new();

    private readonly ILogger _logger;

    public GcsActorClient(GcsClient gcs, CoreWorker worker)
    {
        _gcs = gcs;
        _worker = worker;
        _logger = worker.Loggers.CreateLogger<GcsActorClient>();
    }

    /// <summary>The GCS client underneath (tests reach the GCS's other tables through it).</summary>
    internal GcsClient Client => _gcs;

    public ActorId RegisterActor(TaskSpec creationTask, bool getIfExists)
    {
        var wire = creationTask.ToWire(_worker.JobId);
        var reply = _gcs.RegisterActor(wire, getIfExists);
        if (reply.Error is { } error) throw new ArgumentException(error);
        var creation = creationTask.ActorCreation!;
        _limits[reply.ActorId] = new ActorLimits(creation.MaxTaskRetries, creation.MaxPendingCalls, creation.EnableTaskEvents);
        if (reply.ActorId == creation.ActorId) _ = CreateAsync(creationTask);
        return reply.ActorId;
    }

    private async Task CreateAsync(TaskSpec creationTask)
    {
        try
        {
            var (args, upstream) = await _worker.Resolver.ResolveAsync(creationTask.Args, _closing.Token).ConfigureAwait(false);
            if (upstream is not null)
            {
                KillActor(creationTask.ActorId, true, $"an argument of its constructor failed: {upstream.ToException().Message}");
                return;
            }
            await _gcs.CreateActorAsync(creationTask.WithArgs(args).ToWire(_worker.JobId), _closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The worker shut down before the constructor's arguments were ready.
        }
        catch (Exception e)
        {
            // Nothing may be lost in the background: an actor that cannot be created is dead, and its handles learn why.
            try { KillActor(creationTask.ActorId, true, $"its creation could not be submitted: {e.Message}"); }
            catch (RayException) { }
        }
    }

    public bool TryGetNamedActor(string name, string @namespace, out ActorId actorId, out Address? owner)
    {
        var info = _gcs.GetNamedActor(name, @namespace);
        actorId = info?.ActorId ?? default;
        owner = info?.Owner;
        if (info is not null) _limits.TryAdd(info.ActorId, LimitsOf(info.Creation));
        return info is not null;
    }

    public void KillActor(ActorId actorId, bool noRestart, string reason) => _gcs.KillActor(actorId, noRestart, reason);

    public void ReportActorOutOfScope(ActorId actorId) => _gcs.ReportActorOutOfScope(actorId);

    public ActorLimits? GetActorInfo(ActorId actorId)
    {
        if (_limits.TryGetValue(actorId, out var cached)) return cached;
        var info = _gcs.GetActorInfo(actorId);
        if (info is null) return null;
        return _limits[actorId] = LimitsOf(info.Creation);
    }

    /// <summary>What callers need of an actor's creation options.</summary>
    private static ActorLimits LimitsOf(WireActorCreation c) => new(c.MaxTaskRetries, c.MaxPendingCalls, c.EnableTaskEvents);

    public IDisposable SubscribeActor(ActorId actorId, Action<ActorStateUpdate> onUpdate)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        _ = ListenAsync(actorId, onUpdate, cts.Token);
        return new Subscription(cts);
    }

    /// <summary>Follows the actor's state. When the stream breaks while the GCS may be restarting (external storage), it
    /// subscribes again for up to <c>gcs_rpc_server_reconnect_timeout_s</c> — the actor keeps running meanwhile, its
    /// calls go worker to worker — and only then reports the actor dead, its state unknown.</summary>
    private async Task ListenAsync(ActorId actorId, Action<ActorStateUpdate> onUpdate, CancellationToken ct)
    {
        long brokenSince = 0;
        var backoff = TimeSpan.FromMilliseconds(100);
        (ActorLifecycleState State, int Restarts, WorkerId? Worker)? last = null;
        while (true)
        {
            Exception failure;
            try
            {
                await foreach (var info in _gcs.SubscribeActor(actorId, ct).ConfigureAwait(false))
                {
                    brokenSince = 0;
                    backoff = TimeSpan.FromMilliseconds(100);
                    // A resubscription starts with the state already known: not a change.
                    var now = (info.State, info.NumRestarts, info.Worker?.WorkerId);
                    if (last == now) continue;
                    last = now;
                    var worker = info.Worker is { } address ? new RemoteCoreWorkerClient(address, _worker.Raylet.NodeId, _worker.JobId, 0, ResourceSet.Empty,
                        _worker.Config, _worker.Loggers.CreateLogger<CoreWorkerConnection>()) : null;
                    onUpdate(new ActorStateUpdate(info.ActorId, info.State, worker, info.NumRestarts, info.DeathCause, info.NodeId));
                    if (info.State == ActorLifecycleState.Dead) return;
                }
                failure = new IOException("the GCS ended the actor's subscription");
            }
            catch (Exception e)
            {
                if (ct.IsCancellationRequested) return;
                failure = e;
            }
            if (brokenSince == 0) brokenSince = Environment.TickCount64;
            bool reconnect = failure is RpcException rpc ? _gcs.MayReconnect(rpc, brokenSince) : failure is IOException && _gcs.MayReconnect(brokenSince);
            if (!reconnect)
            {
                if (failure is not (RpcException or OperationCanceledException or IOException))
                    _logger.ActorStateLost(failure, actorId);
                onUpdate(new ActorStateUpdate(actorId, ActorLifecycleState.Dead, null, 0,
                    RayErrorInfo.ActorDied(actorId, $"the GCS at {_gcs.Endpoint} became unreachable, so the actor's state is unknown")));
                return;
            }
            try
            {
                await Task.Delay(backoff, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 1000));
        }
    }

    private sealed class Subscription(CancellationTokenSource cts) : IDisposable
    {
        public void Dispose()
        {
            try { cts.Cancel(); } catch (ObjectDisposedException) { }
        }
    }

    public void Dispose() => _closing.Cancel();
}

/// <summary>The GCS's placement-group manager over RPC (local mode's in-process GCS included).</summary>
internal sealed class GcsPlacementGroupClient(GcsClient gcs, JobId jobId, Func<Address> creator) : IGcsPlacementGroupClient
{
    public void Create(PlacementGroupId id, IReadOnlyList<IReadOnlyDictionary<string, double>> bundles, PlacementStrategy strategy, string? name,
        string @namespace, PlacementGroupLifetime lifetime, ActorId creatorActor)
    {
        var reply = gcs.CreatePlacementGroup(new WirePlacementGroupSpec
        {
            Id = id, Bundles = [.. bundles.Select(b => new Dictionary<string, double>(b))], Strategy = strategy, Name = name, Namespace = @namespace,
            JobId = jobId, Lifetime = lifetime, Creator = creator(), CreatorActor = creatorActor,
        });
        if (reply.Error is { } error) throw new ArgumentException(error, nameof(name));
    }

    public bool Remove(PlacementGroupId id) => gcs.RemovePlacementGroup(id);

    public PlacementGroupDescription? Get(PlacementGroupId id) => Describe(gcs.GetPlacementGroup(id));

    public PlacementGroupDescription? GetNamed(string name, string @namespace) => Describe(gcs.GetNamedPlacementGroup(name, @namespace));

    private static PlacementGroupDescription? Describe(PlacementGroupTableData? g) => g is null ? null
        : new(g.Spec.Id, [.. g.Spec.Bundles.Select(b => (IReadOnlyDictionary<string, double>)b)], g.Spec.Strategy, g.Spec.Name,
            g.State == PlacementGroupState.Removed);

    public async Task<bool> WaitUntilReadyAsync(PlacementGroupId id, TimeSpan timeout, CancellationToken ct)
    {
        var reply = await gcs.WaitPlacementGroupUntilReadyAsync(id, timeout, ct).ConfigureAwait(false);
        return reply.Error is { } error ? throw new PlacementGroupSchedulingException(error) : reply.Ready;
    }
}

/// <summary>The ownership protocol over RPC: fetch from owners, borrower registration.</summary>
internal sealed class OwnershipRpcClient(NodeId localNode, RayConfig config, ILogger? logger = null) : IOwnershipClient
{
    public async Task<RayObject> GetObjectAsync(Address owner, ObjectId id, NodeId lostAt = default)
    {
        string who = $"worker {owner.WorkerId} at {owner.Endpoint} on node {owner.NodeId}";
        WireObject? reply;
        try
        {
            reply = await CoreWorkerConnection.For(owner, localNode, config, logger).CallAsync(CoreWorkerService.GetObjectMethod, new GetObjectRequest(id, lostAt))
                .ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            // The owner is there but the call failed (refused, too large): the object cannot be had from it.
            return RayObject.FromError(new RayErrorInfo
            {
                Kind = ErrorKind.ObjectLost, ObjectId = id,
                Message = $"Object {id} could not be fetched from its owner ({who}): {RpcErrors.Describe(e, owner.Endpoint)}.",
            });
        }
        return reply?.FromWire() ?? RayObject.FromError(new RayErrorInfo
        {
            Kind = ErrorKind.OwnerDied, ObjectId = id,
            Message = $"The owner of object {id} ({who}) died or became unreachable, so the object is lost. " +
                "Objects live as long as the process that created them; keep the owner alive while others read its objects.",
        });
    }

    public Task AddBorrowerAsync(Address owner, ObjectId id, Address borrower) =>
        CoreWorkerConnection.For(owner, localNode, config, logger).CallAsync(CoreWorkerService.AddBorrowerMethod, new BorrowerRequest(id, borrower));

    public void RemoveBorrower(Address owner, ObjectId id, Address borrower) =>
        CoreWorkerConnection.For(owner, localNode, config, logger).Fire(CoreWorkerService.RemoveBorrowerMethod, new BorrowerRequest(id, borrower));

    public Task ReportGeneratorItemAsync(Address owner, TaskId taskId, int index, RayObject item) =>
        CoreWorkerConnection.For(owner, localNode, config, logger).CallAsync(CoreWorkerService.ReportGeneratorItemMethod,
            new GeneratorItemRequest(taskId, index, item.ToWire()));
}

/// <summary>A driver's watch on the GCS (see <c>GcsJobManager.WatchDriverAsync</c>): held open for the driver's life and
/// reopened after the GCS restarts, so a driver that dies without calling Shutdown still has its job finished.</summary>
internal static class DriverWatch
{
    public static IDisposable Start(GcsClient gcs, JobId jobId)
    {
        var cts = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                try
                {
                    await gcs.WatchDriverAsync(jobId, cts.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RpcException or OperationCanceledException or IOException or InvalidOperationException)
                {
                    // The GCS is restarting or the driver is shutting down: watch again (below) or stop.
                }
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
        return new CancelOnDispose(cts);
    }
}

/// <summary>The process's one subscription to node and worker deaths (Ray's failure pub/sub): connections to workers
/// that are gone break at once, and the raylet client remembers dead nodes. It resubscribes when the stream breaks (a
/// GCS that restarts), until disposed.</summary>
internal static class ClusterEventStream
{
    /// <summary>A core worker's subscription: node deaths reach its raylet client and connections, worker deaths its
    /// connections.</summary>
    public static IDisposable Start(GcsClient gcs, RayletRpcClient raylet, ILogger logger) => GcsSubscription.Watch(gcs.SubscribeClusterEvents, e =>
    {
        if (e.Kind == ClusterEventKind.NodeDead)
        {
            raylet.OnNodeDead(e.NodeId);
            CoreWorkerConnection.BreakNode(e.NodeId, e.Reason);
        }
        else
        {
            CoreWorkerConnection.BreakWorker(e.WorkerId, e.Reason);
        }
    }, "cluster event", logger);
}

/// <summary>A subscription to one of the GCS's streams that lasts: it hands each item on until disposed, subscribing
/// again (with backoff) whenever the stream breaks, as it does when the GCS restarts.</summary>
internal static class GcsSubscription
{
    /// <param name="subscribe">Opens the stream.</param>
    /// <param name="onItem">Handles each item; a failure is logged and the stream opened again.</param>
    /// <param name="what">What an item is, for the log.</param>
    /// <param name="logger">Where a failure is logged.</param>
    public static IDisposable Watch<T>(Func<CancellationToken, IAsyncEnumerable<T>> subscribe, Action<T> onItem, string what, ILogger logger)
    {
        var cts = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            var backoff = TimeSpan.FromMilliseconds(200);
            while (!cts.IsCancellationRequested)
            {
                try
                {
                    await foreach (var item in subscribe(cts.Token).ConfigureAwait(false))
                    {
                        backoff = TimeSpan.FromMilliseconds(200);
                        onItem(item);
                    }
                }
                catch (Exception e) when (e is RpcException or OperationCanceledException or IOException)
                {
                    // The GCS went away or this process is shutting down: subscribe again unless stopping.
                }
                catch (Exception e)
                {
                    logger.SubscriptionItemFailed(e, what);
                }
                try
                {
                    await Task.Delay(backoff, cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 2000));
            }
        });
        return new CancelOnDispose(cts);
    }
}

/// <summary>A driver's view of its job's worker output (Ray's log streaming to the driver): the lines its node's log
/// monitors publish to the GCS, printed on the driver's console with the worker's prefix.</summary>
internal sealed class DriverLogStream : IDisposable
{
    private readonly TimeSpan _quiet;
    private IDisposable? _subscription;
    private long _lastLine = Environment.TickCount64;

    /// <param name="quiet">How long the stream must have been quiet before it stops: output a worker wrote just before
    /// the driver ended reaches its node's log monitor's next poll and then this stream, so a stop waits that long.</param>
    private DriverLogStream(TimeSpan quiet) => _quiet = quiet;

    /// <summary>The most a stop waits for output that keeps coming.</summary>
    private static readonly TimeSpan MaxDrain = TimeSpan.FromSeconds(2);

    public static DriverLogStream Start(GcsClient gcs, JobId jobId, TimeSpan quiet, ILogger logger)
    {
        var stream = new DriverLogStream(quiet);
        stream._subscription = GcsSubscription.Watch(ct => gcs.SubscribeLogs(jobId, ct), batch =>
        {
            var target = batch.IsError ? Console.Error : Console.Out;
            foreach (var line in batch.Lines) target.WriteLine($"{batch.Prefix} {line}");
            Volatile.Write(ref stream._lastLine, Environment.TickCount64);
        }, "worker output batch", logger);
        return stream;
    }

    /// <summary>Stops once no output has arrived for the quiet time since the stop began (at most
    /// <see cref="MaxDrain"/>): what the job's workers printed last still reaches the driver's console.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _subscription, null) is not { } subscription) return;
        long start = Environment.TickCount64, quiet = (long)_quiet.TotalMilliseconds;
        while (true)
        {
            long now = Environment.TickCount64;
            long since = now - Math.Max(start, Volatile.Read(ref _lastLine));
            if (since >= quiet || now - start >= (long)MaxDrain.TotalMilliseconds) break;
            Thread.Sleep((int)Math.Min(quiet - since, 20) + 1);
        }
        subscription.Dispose();
    }
}

/// <summary>Stops a background loop (a subscription, a watch) when disposed, by cancelling its token.</summary>
internal sealed class CancelOnDispose(CancellationTokenSource cts) : IDisposable
{
    public void Dispose()
    {
        try { cts.Cancel(); } catch (ObjectDisposedException) { }
    }
}

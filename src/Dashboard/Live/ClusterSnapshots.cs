using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using RaySharp.Core;
using RaySharp.Core.Jobs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using RaySharp.Dashboard.State;
using RaySharp.State;

namespace RaySharp.Dashboard.Live;

/// <summary>
/// Reads the cluster once per <see cref="Interval"/> while anyone watches (<see cref="Watch"/>) and publishes the result as
/// a numbered, serialized <see cref="ClusterSnapshot"/>. Every watcher gets the same bytes: the GCS is asked once a second
/// however many browsers are open, and a watcher that falls behind skips to the newest snapshot (nothing queues per client).
/// Nothing is read while nobody watches. Object store figures are refreshed every <see cref="StoreInterval"/> (each raylet
/// lists its objects to answer).
/// </summary>
internal sealed class ClusterSnapshots(GcsClient gcs, JobInfoStore jobs, RayConfig config, ILogger<ClusterSnapshots> log) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan StoreInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_storeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Submitted jobs the overview lists.</summary>
    public const int RecentJobs = 20;

    private readonly GcsStateSource _state = new(gcs);
    private readonly SemaphoreSlim _building = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Lock _lock = new();
    private TaskCompletionSource _published = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Published? _latest;
    private int _watchers;
    private Dictionary<string, (ResourceUsage Usage, int Objects)> _stores = [];
    private DateTime _storesRead = DateTime.MinValue;
    private string? _lastError;

    /// <summary>A snapshot as sent: its number (increasing) and its JSON.</summary>
    public sealed record Published(long Version, DateTime At, byte[] Json);

    /// <summary>Watchers now (browsers on <c>/api/events</c>).</summary>
    public int Watchers => Volatile.Read(ref _watchers);

    /// <summary>Starts reading the cluster every second until the returned handle (and every other) is disposed.</summary>
    public IDisposable Watch()
    {
        Interlocked.Increment(ref _watchers);
        _wake.Release();
        return new Watcher(this);
    }

    private sealed class Watcher(ClusterSnapshots owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) Interlocked.Decrement(ref owner._watchers);
        }
    }

    /// <summary>The first snapshot newer than <paramref name="after"/> (waits for it).</summary>
    public async Task<Published> NextAsync(long after, CancellationToken ct)
    {
        while (true)
        {
            Task published;
            lock (_lock)
            {
                if (_latest is { } latest && latest.Version > after) return latest;
                published = _published.Task;
            }
            await published.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>A snapshot at most <paramref name="maxAge"/> old: the latest, or one read now.</summary>
    public async Task<Published> CurrentAsync(TimeSpan maxAge, CancellationToken ct)
    {
        lock (_lock)
        {
            if (_latest is { } latest && DateTime.UtcNow - latest.At <= maxAge) return latest;
        }
        return await RefreshAsync(ct).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (Watchers == 0)
                {
                    await _wake.WaitAsync(stoppingToken).ConfigureAwait(false);
                    continue;
                }
                await RefreshAsync(stoppingToken).ConfigureAwait(false);
                await Task.Delay(Interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task<Published> RefreshAsync(CancellationToken ct)
    {
        await _building.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ClusterSnapshot snapshot;
            try
            {
                snapshot = await BuildAsync(ct).ConfigureAwait(false);
                _lastError = null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // The loop carries on: the page says what is wrong and recovers when the GCS answers again.
                if (e.Message != _lastError) log.LogWarning(e, "The dashboard could not read the cluster's state");
                _lastError = e.Message;
                snapshot = new ClusterSnapshot { TimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Error = e.Message, EventClients = Watchers };
            }
            lock (_lock)
            {
                _latest = new Published((_latest?.Version ?? 0) + 1, DateTime.UtcNow, StateReply.Serialize(snapshot));
                var published = _published;
                _published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                published.SetResult();
                return _latest;
            }
        }
        finally
        {
            _building.Release();
        }
    }

    private async Task<ClusterSnapshot> BuildAsync(CancellationToken ct)
    {
        var nodes = gcs.GetAllNodes(retry: false).Nodes;
        var alive = nodes.Where(n => n.Alive).ToList();
        if (DateTime.UtcNow - _storesRead >= StoreInterval)
        {
            _stores = await ReadStoresAsync(alive, ct).ConfigureAwait(false);
            _storesRead = DateTime.UtcNow;
        }
        var nodeRows = nodes.OrderByDescending(n => n.IsHead).ThenBy(n => n.NodeId.ToString(), StringComparer.Ordinal).Select(n =>
        {
            string id = n.NodeId.ToString();
            (ResourceUsage Usage, int Objects)? store = n.Alive && _stores.TryGetValue(id, out var s) ? s : null;
            return new NodeUsage(id, StateRows.HostOf(n.RayletEndpoint) ?? n.RayletEndpoint, n.IsHead, n.Alive ? "ALIVE" : "DEAD",
                n.DeathReason, Usage([n]), store?.Usage, store?.Objects);
        }).ToList();
        var stores = nodeRows.Where(n => n.ObjectStore is not null).Select(n => n.ObjectStore!).ToList();

        var tasksByState = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var state in Enum.GetValues<RayTaskStatus>())
        {
            string name = JsonNamingPolicy.SnakeCaseUpper.ConvertName(state.ToString());
            int count = _state.ListTasks(1, [new StateFilter("state", name)]).Total; // counts without moving the rows
            if (count > 0) tasksByState[name] = count;
        }
        var groups = _state.PlacementGroups();
        var recent = jobs.All().OrderByDescending(j => j.StartTime ?? 0).Take(RecentJobs).Select(j =>
            new RecentJob(j.SubmissionId, j.JobId, j.Status, j.Entrypoint, j.Message, j.StartTime, j.EndTime, j.DriverExitCode)).ToList();
        return new ClusterSnapshot
        {
            TimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Nodes = nodeRows,
            NodesAlive = alive.Count,
            NodesDead = nodes.Length - alive.Count,
            Resources = Usage(alive),
            ObjectStore = stores.Count == 0 ? null : new ResourceUsage(stores.Sum(s => s.Total), stores.Sum(s => s.Used)),
            TasksByState = tasksByState,
            ActorsByState = _state.Actors().GroupBy(a => a.State, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            PlacementGroupsByState = groups.GroupBy(g => g.State, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            Jobs = recent,
            EventClients = Watchers,
        };
    }

    /// <summary>Total and used per resource over <paramref name="nodes"/>; placement-group bundle resources are left out
    /// (what a group reserves already counts as used of the plain resource).</summary>
    private static Dictionary<string, ResourceUsage> Usage(IEnumerable<NodeRecord> nodes)
    {
        var usage = new Dictionary<string, ResourceUsage>(StringComparer.Ordinal);
        foreach (var node in nodes)
            foreach (var (name, total) in node.Total)
            {
                if (BundleResources.IsBundleResource(name)) continue;
                var sum = usage.GetValueOrDefault(name) ?? new ResourceUsage(0, 0);
                usage[name] = new ResourceUsage(sum.Total + total, sum.Used + total - node.Available.GetValueOrDefault(name));
            }
        return usage;
    }

    private async Task<Dictionary<string, (ResourceUsage, int)>> ReadStoresAsync(IReadOnlyList<NodeRecord> nodes, CancellationToken ct)
    {
        var calls = nodes.Select(async n =>
        {
            try
            {
                var stats = await RpcChannels.Invoker(n.RayletEndpoint, config).AsyncUnaryCall(NodeManagerService.GetStoreStatsMethod, null,
                    new CallOptions(deadline: DateTime.UtcNow + s_storeTimeout, cancellationToken: ct), Empty.Instance).ResponseAsync.ConfigureAwait(false);
                return (n.NodeId.ToString(), Stats: ((ResourceUsage, int)?)(new ResourceUsage(stats.Capacity, stats.Used), stats.Objects.Length));
            }
            catch (RpcException)
            {
                return (n.NodeId.ToString(), Stats: null); // a node that does not answer shows no store figures this time
            }
        }).ToList();
        var stores = new Dictionary<string, (ResourceUsage, int)>(StringComparer.Ordinal);
        foreach (var (node, stats) in await Task.WhenAll(calls).ConfigureAwait(false))
            if (stats is { } s) stores[node] = s;
        return stores;
    }

    public override void Dispose()
    {
        _building.Dispose();
        _wake.Dispose();
        base.Dispose();
    }
}

using Microsoft.Extensions.Logging;
using RaySharp.Autoscaler.Providers;
using RaySharp.Core;
using RaySharp.Core.Rpc;

namespace RaySharp.Autoscaler;

/// <summary>The GCS as the autoscaler calls it (Ray's autoscaler state service); <see cref="GcsAutoscalerClient"/> over
/// gRPC, a fake in tests.</summary>
internal interface IAutoscalerGcs
{
    Task<ClusterResourceState> GetClusterResourceStateAsync(CancellationToken ct);

    Task ReportAutoscalingStateAsync(AutoscalingState state, CancellationToken ct);

    Task<DrainNodeReply> DrainNodeAsync(DrainNodeRequest request, CancellationToken ct);
}

/// <summary>The autoscaler's calls over the cluster's <see cref="GcsClient"/>.</summary>
internal sealed class GcsAutoscalerClient(GcsClient gcs) : IAutoscalerGcs
{
    public Task<ClusterResourceState> GetClusterResourceStateAsync(CancellationToken ct) => gcs.GetClusterResourceStateAsync(ct);

    public Task ReportAutoscalingStateAsync(AutoscalingState state, CancellationToken ct) => gcs.ReportAutoscalingStateAsync(state, ct);

    public Task<DrainNodeReply> DrainNodeAsync(DrainNodeRequest request, CancellationToken ct) => gcs.DrainNodeAsync(request, ct);
}

/// <summary>
/// The autoscaler (Ray's autoscaler v2 reconciler, run by the head's monitor process): every
/// <see cref="AutoscalingConfig.UpdateInterval"/> it reads the cluster's state from the GCS and the provider's instances,
/// joins them (a node registers its instance's <c>RAY_CLOUD_INSTANCE_ID</c>), terminates instances whose node failed,
/// that never came up, or that were drained; drains and terminates nodes idle longer than <c>idle_timeout_minutes</c>
/// (never going below <c>min_workers</c> of their type); has <see cref="ResourceDemandScheduler"/> decide what to launch
/// for the demand, and launches it; then reports what it did and the demand no node type can meet to the GCS, where
/// <c>raysharp status</c> reads it. A pass that fails is logged and the next one runs as usual.
/// </summary>
internal sealed class Autoscaler
{
    /// <summary>An instance whose node has not registered after this long is given up and terminated.</summary>
    internal static TimeSpan LaunchTimeout { get; set; } = TimeSpan.FromMinutes(10);

    private readonly AutoscalingConfig _config;
    private readonly IAutoscalerGcs _gcs;
    private readonly INodeProvider _provider;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private string? _lastError;
    private string _lastSummary = "";

    public Autoscaler(AutoscalingConfig config, IAutoscalerGcs gcs, INodeProvider provider, ILogger logger, TimeProvider? time = null)
    {
        _config = config;
        _gcs = gcs;
        _provider = provider;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>What the last pass saw and did (null before the first).</summary>
    public AutoscalingState? LastState { get; private set; }

    /// <summary>Runs passes until <paramref name="ct"/> is cancelled; a failed pass is logged and the loop goes on.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        _logger.LogInformation("The autoscaler runs every {Interval} s (provider {Provider}, idle timeout {Idle} min, node types: {Types})",
            _config.UpdateInterval.TotalSeconds, _config.Provider.Type, _config.IdleTimeout.TotalMinutes,
            string.Join(", ", _config.NodeTypes.Select(t => $"{t.Name} [{t.MinWorkers}..{t.MaxWorkers}]")));
        using var timer = new PeriodicTimer(_config.UpdateInterval, _time);
        do
        {
            try
            {
                await RunOnceAsync(ct).ConfigureAwait(false);
                if (_lastError is not null) _logger.LogInformation("The autoscaler's pass succeeded again");
                _lastError = null;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                if (_lastError != e.Message) _logger.LogError(e, "An autoscaler pass failed; the next runs in {Interval} s", _config.UpdateInterval.TotalSeconds);
                _lastError = e.Message;
                await TryReportErrorAsync(e.Message, ct).ConfigureAwait(false);
            }
        }
        while (await WaitAsync(timer, ct).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task TryReportErrorAsync(string error, CancellationToken ct)
    {
        try
        {
            var state = (LastState ?? new AutoscalingState { TimeMs = 0, Instances = [], Infeasible = [], InfeasibleGroups = [] }) with
            {
                TimeMs = _time.GetUtcNow().ToUnixTimeMilliseconds(), LastError = error,
            };
            await _gcs.ReportAutoscalingStateAsync(state, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogDebug(e, "Could not report the autoscaler's error to the GCS");
        }
    }

    private sealed record Tracked(CloudInstance Instance, NodeResourceState? Node, InstanceStatus Status);

    /// <summary>One pass: read, scale down, scale up, report.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        var state = await _gcs.GetClusterResourceStateAsync(ct).ConfigureAwait(false);
        var instances = await _provider.ListInstancesAsync(ct).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var types = _config.NodeTypes.ToDictionary(t => t.Name);

        var tracked = new List<Tracked>();
        foreach (var instance in instances.Where(i => types.ContainsKey(i.NodeType)))
        {
            var nodes = state.Nodes.Where(n => n.InstanceId == instance.InstanceId).ToList();
            var node = nodes.FirstOrDefault(n => n.Activity != NodeActivity.Dead);
            if (instance.State == CloudInstanceState.Terminating)
            {
                tracked.Add(new Tracked(instance, node, InstanceStatus.Terminating));
            }
            else if (node is null && nodes.Count > 0)
            {
                _logger.LogWarning("The node of instance {InstanceId} ({NodeType}) died: terminating the instance", instance.InstanceId, instance.NodeType);
                await _provider.TerminateAsync(instance, ct).ConfigureAwait(false);
                tracked.Add(new Tracked(instance, null, InstanceStatus.Terminating));
            }
            else if (node is null && now - instance.LaunchedAt > LaunchTimeout)
            {
                _logger.LogWarning("Instance {InstanceId} ({NodeType}) has not registered a node within {Minutes} min: terminating it", instance.InstanceId,
                    instance.NodeType, LaunchTimeout.TotalMinutes);
                await _provider.TerminateAsync(instance, ct).ConfigureAwait(false);
                tracked.Add(new Tracked(instance, null, InstanceStatus.Terminating));
            }
            else if (node is null)
            {
                tracked.Add(new Tracked(instance, null, InstanceStatus.Launching));
            }
            else if (node.Activity == NodeActivity.Draining)
            {
                // Drained (by this autoscaler, in an earlier pass whose terminate did not get through, or by someone else).
                await TerminateAsync(instance, node, "it was drained", ct).ConfigureAwait(false);
                tracked.Add(new Tracked(instance, node, InstanceStatus.Terminating));
            }
            else
            {
                tracked.Add(new Tracked(instance, node, node.Activity == NodeActivity.Idle ? InstanceStatus.Idle : InstanceStatus.Active));
            }
        }

        // What the demand needs, on the room of the nodes that take work (what is free on them; all of a launching node).
        var counts = _config.NodeTypes.ToDictionary(t => t.Name, t => tracked.Count(x => x.Instance.NodeType == t.Name && IsCounted(x.Status)));
        var leaving = tracked.Where(x => !IsCounted(x.Status) && x.Node is not null).Select(x => x.Node!.NodeId).ToHashSet();
        var roomNodes = state.Nodes.Where(n => n.Activity is NodeActivity.Running or NodeActivity.Idle && !leaving.Contains(n.NodeId)).ToList();
        var room = roomNodes.Select(n => n.Available.FromWireAvailable())
            .Concat(tracked.Where(x => x.Status == InstanceStatus.Launching).Select(x => ResourceSet.From(types[x.Instance.NodeType].Resources)))
            .ToList();
        var decision = ResourceDemandScheduler.Schedule(new SchedulingInput(_config.NodeTypes, counts, room, state.Demand, state.PendingGroups));
        var needed = decision.RoomUsed.Where(i => i < roomNodes.Count).Select(i => roomNodes[i].NodeId).ToHashSet();

        // Scale down: the longest idle first, per type while above min_workers, but not a node the demand is about to use
        // (work queued elsewhere moves to it). A drain the node refuses (it got work since the state was read) leaves it running.
        var idleLimit = (long)_config.IdleTimeout.TotalMilliseconds;
        foreach (var idle in tracked.Where(x => x.Status == InstanceStatus.Idle && x.Node!.IdleMs >= idleLimit && !needed.Contains(x.Node.NodeId))
                     .OrderByDescending(x => x.Node!.IdleMs).ToList())
        {
            var type = types[idle.Instance.NodeType];
            if (counts[type.Name] <= type.MinWorkers) continue;
            var reply = await _gcs.DrainNodeAsync(new DrainNodeRequest(idle.Node!.NodeId, DrainReason.IdleTermination,
                $"idle for {idle.Node.IdleMs / 1000.0:0.#} s (idle_timeout_minutes = {_config.IdleTimeout.TotalMinutes:0.###})"), ct).ConfigureAwait(false);
            if (!reply.Accepted)
            {
                _logger.LogInformation("Node {NodeId} ({InstanceId}) refused to drain: {Reason}", idle.Node.NodeId, idle.Instance.InstanceId, reply.RejectionReason);
                continue;
            }
            await TerminateAsync(idle.Instance, idle.Node, $"it was idle for {idle.Node.IdleMs / 1000.0:0.#} s", ct).ConfigureAwait(false);
            counts[type.Name]--;
            tracked[tracked.IndexOf(idle)] = idle with { Status = InstanceStatus.Terminating };
        }

        // Scale up.
        foreach (var (typeName, count) in decision.ToLaunch)
        {
            _logger.LogInformation("Launching {Count} node(s) of type {NodeType} ({Counted} running or launching, max_workers {Max})", count, typeName,
                counts[typeName], types[typeName].MaxWorkers);
            await _provider.LaunchAsync(types[typeName], count, ct).ConfigureAwait(false);
        }

        string summary = Summary(decision);
        if (summary != _lastSummary && summary.Length > 0) _logger.LogWarning("{Summary}", summary);
        _lastSummary = summary;
        var launched = decision.ToLaunch.Count == 0 ? [] : (await _provider.ListInstancesAsync(ct).ConfigureAwait(false))
            .Where(i => tracked.All(t => t.Instance.InstanceId != i.InstanceId)).Select(i => new Tracked(i, null, InstanceStatus.Launching));
        LastState = new AutoscalingState
        {
            TimeMs = now.ToUnixTimeMilliseconds(),
            Instances = [.. tracked.Concat(launched).Select(x => new AutoscalerInstance(x.Instance.InstanceId, x.Instance.NodeType, x.Status,
                x.Node?.NodeId ?? default, x.Instance.LaunchedAt.ToUnixTimeMilliseconds()))],
            Infeasible = [.. decision.Infeasible],
            InfeasibleGroups = [.. decision.InfeasibleGroups],
        };
        await _gcs.ReportAutoscalingStateAsync(LastState, ct).ConfigureAwait(false);
    }

    private static bool IsCounted(InstanceStatus status) => status is InstanceStatus.Launching or InstanceStatus.Active or InstanceStatus.Idle;

    private async Task TerminateAsync(CloudInstance instance, NodeResourceState node, string why, CancellationToken ct)
    {
        _logger.LogInformation("Terminating instance {InstanceId} ({NodeType}, node {NodeId}): {Why}", instance.InstanceId, instance.NodeType, node.NodeId, why);
        await _provider.TerminateAsync(instance, ct).ConfigureAwait(false);
    }

    /// <summary>The demand no node type can meet, said once when it changes.</summary>
    private static string Summary(SchedulingDecision d)
    {
        var parts = d.Infeasible.Select(x => $"{x.Count} {x.Kind.ToString().ToLowerInvariant()}(s) of {Shape(x.Shape)}")
            .Concat(d.InfeasibleGroups.Select(g => $"placement group {g.Group} ({g.Strategy}: {string.Join(", ", g.Bundles.Select(Shape))})"))
            .ToList();
        return parts.Count == 0 ? "" : $"No node type can meet this demand (it is not launched for): {string.Join("; ", parts)}";
    }

    internal static string Shape(IReadOnlyDictionary<string, double> shape) =>
        "{" + string.Join(", ", shape.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}: {r.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}")) + "}";
}

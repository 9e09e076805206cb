using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Gcs;

/// <summary>
/// The GCS's side of autoscaling (Ray's <c>GcsAutoscalerStateManager</c>): it keeps what each raylet last reported of
/// its queued work and idle time, answers GetClusterResourceState with every node, the demand queued at the raylets
/// (tasks and actors by shape), and the placement groups waiting for nodes, keeps the autoscaler's last reported state
/// for <c>raysharp status</c>, and drains nodes: the raylet is asked first (an idle-termination drain is refused by a
/// node that has work again), and once it accepts, the node is marked draining in the cluster view, so no raylet and
/// no placement group sends work there while the provider removes it.
/// </summary>
internal sealed class GcsAutoscalerStateManager
{
    private sealed record NodeLoad(ResourceDemand[] Demand, long IdleMs, long ReceivedAt);

    private readonly Lock _lock = new();
    private readonly Dictionary<NodeId, NodeLoad> _loads = [];
    private readonly GcsNodeManager _nodes;
    private readonly Func<IReadOnlyList<PendingBundles>> _pendingGroups;
    private readonly Func<string, DrainNodeRequest, CancellationToken, Task<DrainNodeReply>> _drainRaylet;
    private readonly ILogger _logger;
    private AutoscalingState? _autoscaler;

    /// <param name="nodes">The node table.</param>
    /// <param name="pendingGroups">The placement groups waiting for nodes, with their unplaced bundles.</param>
    /// <param name="drainRaylet">Asks the raylet at an endpoint to drain.</param>
    /// <param name="logger">The manager's log.</param>
    public GcsAutoscalerStateManager(GcsNodeManager nodes, Func<IReadOnlyList<PendingBundles>> pendingGroups,
        Func<string, DrainNodeRequest, CancellationToken, Task<DrainNodeReply>> drainRaylet, ILogger<GcsAutoscalerStateManager> logger)
    {
        _nodes = nodes;
        _pendingGroups = pendingGroups;
        _drainRaylet = drainRaylet;
        _logger = logger;
        _nodes.NodeDied += (id, _) =>
        {
            lock (_lock) _loads.Remove(id);
        };
    }

    /// <summary>A raylet's report (validated): its queued work and idle time replace what it reported before.</summary>
    public void OnReport(ResourceReport report)
    {
        lock (_lock) _loads[report.NodeId] = new NodeLoad(report.Demand ?? [], report.IdleMs, Environment.TickCount64);
    }

    /// <summary>The autoscaler's state after its last pass (validated).</summary>
    public void OnAutoscalingState(AutoscalingState state)
    {
        lock (_lock) _autoscaler = state;
    }

    public ClusterResourceState GetClusterResourceState()
    {
        var nodes = _nodes.View().Nodes;
        long now = Environment.TickCount64;
        var states = new List<NodeResourceState>(nodes.Length);
        var demand = new Dictionary<(string Key, DemandKind Kind, bool Infeasible), ResourceDemand>();
        AutoscalingState? autoscaler;
        lock (_lock)
        {
            autoscaler = _autoscaler;
            foreach (var node in nodes)
            {
                // Dead nodes the autoscaler did not launch are of no use to it (the table keeps every node that ever joined).
                if (!node.Alive && node.InstanceId is null) continue;
                var load = node.Alive ? _loads.GetValueOrDefault(node.NodeId) : null;
                long idleMs = load is { IdleMs: > 0 } ? load.IdleMs + (now - load.ReceivedAt) : 0;
                states.Add(new NodeResourceState
                {
                    NodeId = node.NodeId, InstanceId = node.InstanceId, NodeTypeName = node.NodeTypeName, IsHead = node.IsHead,
                    Activity = !node.Alive ? NodeActivity.Dead : node.Draining ? NodeActivity.Draining : idleMs > 0 ? NodeActivity.Idle : NodeActivity.Running,
                    Total = node.Total, Available = node.Alive ? node.Available : [], IdleMs = idleMs,
                });
                foreach (var d in load?.Demand ?? [])
                {
                    var key = (ResourceKey(d.Shape), d.Kind, d.Infeasible);
                    demand[key] = demand.TryGetValue(key, out var sum) ? sum with { Count = sum.Count + d.Count } : d;
                }
            }
        }
        return new ClusterResourceState
        {
            Nodes = [.. states], Demand = [.. demand.Values], PendingGroups = [.. _pendingGroups()], Autoscaler = autoscaler,
        };
    }

    private static string ResourceKey(Dictionary<string, double> shape) =>
        string.Join(',', shape.Where(r => r.Value > 0).OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value:R}"));

    /// <summary>Drains a node (Ray's <c>DrainNode</c>): the raylet decides (an idle-termination drain of a busy node is
    /// refused); once it accepts, the node is marked draining in the cluster view. A node that is not alive is drained already.</summary>
    public async Task<DrainNodeReply> DrainAsync(DrainNodeRequest request, CancellationToken ct)
    {
        var record = _nodes.View().Nodes.FirstOrDefault(n => n.NodeId == request.NodeId);
        if (record is null) return new DrainNodeReply(false, $"node {request.NodeId} is not in the cluster");
        if (!record.Alive) return new DrainNodeReply(true, null);
        if (record.IsHead) return new DrainNodeReply(false, $"node {request.NodeId} is the head node, which is never drained");
        DrainNodeReply reply;
        try
        {
            reply = await _drainRaylet(record.RayletEndpoint, request, ct).ConfigureAwait(false);
        }
        catch (RayletUnreachableException e)
        {
            return new DrainNodeReply(false, $"the raylet of node {request.NodeId} did not answer: {e.Message}");
        }
        if (reply.Accepted)
        {
            _nodes.MarkDraining(request.NodeId);
            _logger.NodeDraining(request.NodeId, request.Reason, request.Message);
        }
        return reply;
    }
}

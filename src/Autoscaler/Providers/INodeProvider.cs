namespace RaySharp.Autoscaler.Providers;

/// <summary>An instance of a node provider (a process, a pod) and where it is in its life: Pending until the provider
/// reports it started (the node registers later), Running, Terminating once asked to go.</summary>
internal enum CloudInstanceState : byte { Pending, Running, Terminating }

/// <summary>One instance as the provider lists it; <paramref name="InstanceId"/> is what the node registers as its
/// <c>RAY_CLOUD_INSTANCE_ID</c>.</summary>
internal sealed record CloudInstance(string InstanceId, string NodeType, CloudInstanceState State, DateTimeOffset LaunchedAt);

/// <summary>
/// Launches and removes worker nodes (Ray's node provider). The autoscaler asks it for its instances every pass, to
/// launch some of a node type, and to terminate an instance whose node it has drained. Every node an instance starts
/// registers with <c>RAY_CLOUD_INSTANCE_ID</c> and <c>RAY_NODE_TYPE_NAME</c> set, which is how the autoscaler joins
/// instances to nodes.
/// </summary>
internal interface INodeProvider : IAsyncDisposable
{
    /// <summary>The instances of every node type, not those that are gone.</summary>
    Task<IReadOnlyList<CloudInstance>> ListInstancesAsync(CancellationToken ct);

    /// <summary>Starts <paramref name="count"/> nodes of <paramref name="type"/> (returns once they are asked for, not
    /// when they are up).</summary>
    Task LaunchAsync(NodeTypeConfig type, int count, CancellationToken ct);

    /// <summary>Removes the instance (its node was drained).</summary>
    Task TerminateAsync(CloudInstance instance, CancellationToken ct);
}

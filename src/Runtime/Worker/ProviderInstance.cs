namespace RaySharp.Core.Worker;

/// <summary>
/// The node provider's instance a node runs as: the autoscaler's provider starts the node with
/// <c>RAY_CLOUD_INSTANCE_ID</c> and <c>RAY_NODE_TYPE_NAME</c> in its environment (the local provider for its processes,
/// a Kubernetes worker Deployment from the pod's name and its node type), and the raylet registers both, so the
/// autoscaler can tell which of its instances became which node.
/// </summary>
internal sealed record ProviderInstance(string? InstanceId, string? NodeTypeName)
{
    public const string InstanceIdVariable = "RAY_CLOUD_INSTANCE_ID";
    public const string NodeTypeVariable = "RAY_NODE_TYPE_NAME";

    /// <summary>The instance named in this process's environment, or null when the node was not started by a provider.</summary>
    public static ProviderInstance? FromEnvironment()
    {
        string? id = Environment.GetEnvironmentVariable(InstanceIdVariable), type = Environment.GetEnvironmentVariable(NodeTypeVariable);
        if (string.IsNullOrWhiteSpace(id) && string.IsNullOrWhiteSpace(type)) return null;
        if (id?.Length > 253 || type?.Length > 253)
            throw new ArgumentException($"{InstanceIdVariable} and {NodeTypeVariable} are names of at most 253 characters.");
        return new ProviderInstance(string.IsNullOrWhiteSpace(id) ? null : id, string.IsNullOrWhiteSpace(type) ? null : type);
    }
}

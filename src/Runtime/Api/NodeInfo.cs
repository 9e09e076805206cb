namespace RaySharp;

/// <summary>A node of the cluster as the GCS sees it.</summary>
/// <param name="Id">The node's ID.</param>
/// <param name="Alive">False once the node was removed or missed its health checks.</param>
/// <param name="Address">Where the node's raylet listens.</param>
/// <param name="Resources">The node's total resources.</param>
public sealed record NodeInfo(NodeId Id, bool Alive, string Address, IReadOnlyDictionary<string, double> Resources);

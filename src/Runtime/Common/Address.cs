using MemoryPack;

namespace RaySharp.Core;

/// <summary>Where a worker can be reached: the owner part of every ObjectRef (Ray's <c>rpc::Address</c>).</summary>
/// <param name="WorkerId">The worker (or driver).</param>
/// <param name="NodeId">The node it runs on.</param>
/// <param name="Endpoint">Its TCP RPC endpoint <c>host:port</c> (<c>inproc</c> in local mode).</param>
[MemoryPackable]
internal sealed partial record Address(WorkerId WorkerId, NodeId NodeId, string Endpoint)
{
    /// <summary>Its Unix domain socket, which processes on the same node use instead of TCP.</summary>
    public string? Socket { get; init; }

    /// <summary>Addresses are equal when they name the same worker.</summary>
    public bool Equals(Address? other) => other is not null && other.WorkerId == WorkerId;

    public override int GetHashCode() => WorkerId.GetHashCode();
}

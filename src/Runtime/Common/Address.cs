using MemoryPack;

namespace RaySharp.Core;

/// <summary>Where a worker can be reached: the owner part of every ObjectRef (Ray's <c>rpc::Address</c>).</summary>
/// <param name="WorkerId">The worker (or driver).</param>
/// <param name="NodeId">The node it runs on.</param>
/// <param name="Endpoint">Its RPC endpoint (<c>inproc</c> in local mode).</param>
[MemoryPackable]
internal sealed partial record Address(WorkerId WorkerId, NodeId NodeId, string Endpoint);

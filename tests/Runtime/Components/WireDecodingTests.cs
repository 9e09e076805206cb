using System.Buffers;
using Grpc.Core;
using MemoryPack;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>
/// What a process does with a message that is not what its type declares: bytes that do not decode, a missing
/// sub-message, an enum value out of range, a lease whose placement does not cover what it holds. Each is refused with
/// InvalidArgument before a handler runs (the wire fuzz of tests/Integration sends thousands of such messages to a
/// real cluster).
/// </summary>
public sealed class WireDecodingTests
{
    private static readonly WireStrategy Default = new(WireStrategyKind.Default, default, false);

    private static RpcException Refused<T>(byte[] bytes)
    {
        var e = Assert.Throws<RpcException>(() => RpcMarshaller.Decode<T>(new ReadOnlySequence<byte>(bytes)));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(typeof(T).Name, e.Status.Detail);
        return e;
    }

    private static WireLeaseRequest Lease() => new()
    {
        JobId = new JobId(1), Resources = new() { ["CPU"] = 1 }, Strategy = Default, RuntimeEnvKey = "", Description = "task f",
    };

    [Fact]
    public void Bytes_that_are_not_the_message_are_refused_not_thrown_from_the_reader()
    {
        var valid = MemoryPackSerializer.Serialize(new ReleasePinsRequest([ObjectId.Nil]));
        Refused<ReleasePinsRequest>(valid[..^3]);
        Refused<ReleasePinsRequest>([1, 0xF0, 0xFF, 0xFF, 0x7F]); // a count far past the end
        Refused<ReleasePinsRequest>([1, 0xFE, 0xFF, 0xFF, 0xFF]); // a negative count
        Refused<KvRequest>([9, 1, 2, 3]); // more members than the record has
        // A dictionary with a key twice.
        var twice = MemoryPackSerializer.Serialize(new NodeStatsReply(new() { ["a"] = 1, ["b"] = 2 }, [], 0));
        int b = Array.LastIndexOf(twice, (byte)'b');
        twice[b] = (byte)'a';
        Refused<NodeStatsReply>(twice);
    }

    [Fact]
    public void A_lease_request_without_its_strategy_is_refused_naming_the_member()
    {
        var bytes = MemoryPackSerializer.Serialize(Lease() with { Strategy = null! });
        var e = Refused<WireLeaseRequest>(bytes);
        Assert.Contains("Strategy is missing", e.Status.Detail);
        // Optional members may be absent.
        Assert.Null(RpcMarshaller.Decode<WireLeaseRequest>(new ReadOnlySequence<byte>(MemoryPackSerializer.Serialize(Lease()))).PlacementResources);
    }

    [Fact]
    public void Missing_elements_nested_records_and_undefined_enum_values_are_refused()
    {
        var task = new WireTaskSpec
        {
            TaskId = TaskId.ForDriver(new JobId(1)), Type = (TaskType)7, JobId = new JobId(1), FunctionId = 1, FunctionName = "f", Args = [],
            Owner = new Address(WorkerId.FromRandom(), NodeId.FromRandom(), "127.0.0.1:1"),
        };
        Assert.Contains("Type: 7 is not a TaskType", Refused<WireTaskSpec>(MemoryPackSerializer.Serialize(task)).Status.Detail);
        var push = new PushBatch([new PushTaskRequest(1, task with { Type = TaskType.NormalTask }, 0, []), null!]);
        Assert.Contains("Items: element 1 is missing", Refused<PushBatch>(MemoryPackSerializer.Serialize(push)).Status.Detail);
        var noOwner = new PushBatch([new PushTaskRequest(1, task with { Type = TaskType.NormalTask, Owner = null! }, 0, [])]);
        Assert.Contains("Owner is missing", Refused<PushBatch>(MemoryPackSerializer.Serialize(noOwner)).Status.Detail);
    }

    [Fact]
    public void A_lease_whose_placement_does_not_cover_its_resources_is_refused()
    {
        // Granted by its placement, such a lease would take resources the node does not have out of what is free.
        var request = Lease() with { Resources = new() { ["gpu-x"] = 2.5 }, PlacementResources = new() };
        var e = Assert.Throws<RpcException>(() => { _ = new NodeManagerService(null!).RequestWorkerLease(request, null!); });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("placement resources must cover", e.Status.Detail);
        WireValidation.Lease(Lease() with { PlacementResources = new() { ["CPU"] = 1, ["memory"] = 5 } });
    }

    [Fact]
    public void An_actor_spec_with_a_nan_resource_or_no_actor_is_refused_by_the_gcs()
    {
        using var gcs = new GcsServer(new RayConfig(), NullLoggerFactory.Instance);
        var spec = new WireTaskSpec
        {
            TaskId = TaskId.ForDriver(new JobId(1)), Type = TaskType.ActorCreationTask, JobId = new JobId(1), FunctionId = 1, FunctionName = "A..ctor",
            Args = [], Owner = new Address(WorkerId.FromRandom(), NodeId.FromRandom(), "127.0.0.1:1"), Resources = new() { ["CPU"] = double.NaN },
        };
        var nan = Assert.Throws<RpcException>(() => { _ = gcs.Service.RegisterActor(new RegisterActorRequest(spec, false), null!); });
        Assert.Equal(StatusCode.InvalidArgument, nan.StatusCode);
        var noActor = Assert.Throws<RpcException>(() => { _ = gcs.Service.CreateActor(spec with { Resources = [] }, null!); });
        Assert.Contains("creates no actor", noActor.Status.Detail);
    }

    [Fact]
    public async Task Over_grpc_malformed_bytes_are_invalid_and_without_the_token_they_are_not_even_read()
    {
        var config = RayConfig.Default with { AuthToken = ClusterToken.Generate() };
        using var gcs = new GcsServer(config, NullLoggerFactory.Instance);
        await using var server = await RpcServer.StartAsync("127.0.0.1", 0, null, [gcs.Service], config);
        var raw = new Method<byte[], byte[]>(MethodType.Unary, GcsService.Name, nameof(GcsService.RegisterNode),
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        var invoker = RpcChannels.Invoker(server.Endpoint, config);
        var bad = Assert.Throws<RpcException>(() => invoker.BlockingUnaryCall(raw, null, new CallOptions(), [0xFF, 3, 7]));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("Malformed NodeRecord", bad.Status.Detail);

        var stranger = Assert.Throws<RpcException>(() => RpcChannels.Invoker(server.Endpoint, RayConfig.Default)
            .BlockingUnaryCall(raw, null, new CallOptions(), [0xFF, 3, 7]));
        Assert.Equal(StatusCode.Unauthenticated, stranger.StatusCode);
        Assert.Equal(1, server.Authenticator.Rejected);
        Assert.Empty((await gcs.Service.GetAllNodes(Empty.Instance, null!)).Nodes);
    }
}

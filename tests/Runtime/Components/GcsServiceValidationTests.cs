using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The GCS's lookups by name refuse names no client could have made before they touch a table.</summary>
public sealed class GcsServiceValidationTests : IDisposable
{
    private readonly GcsServer _gcs = new(new RayConfig(), NullLoggerFactory.Instance);

    public void Dispose() => _gcs.Dispose();

    private static readonly string Overlong = new('n', WireValidation.MaxNameLength + 1);

    [Theory]
    [InlineData("name")]
    [InlineData("namespace")]
    public async Task An_overlong_actor_name_or_namespace_is_refused_with_InvalidArgument(string field)
    {
        var request = field == "name" ? new NamedActorRequest(Overlong, "ns") : new NamedActorRequest("a", Overlong);
        var e = await Assert.ThrowsAsync<RpcException>(() => _gcs.Service.GetNamedActor(request, null!));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("GetNamedActor", e.Status.Detail);
    }

    [Theory]
    [InlineData("name")]
    [InlineData("namespace")]
    public async Task An_overlong_placement_group_name_or_namespace_is_refused_with_InvalidArgument(string field)
    {
        var request = field == "name" ? new NamedPlacementGroupRequest(Overlong, "ns") : new NamedPlacementGroupRequest("g", Overlong);
        var e = await Assert.ThrowsAsync<RpcException>(() => _gcs.Service.GetNamedPlacementGroup(request, null!));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("GetNamedPlacementGroup", e.Status.Detail);
    }

    [Fact]
    public async Task A_missing_name_is_refused_and_an_unknown_one_answers_nothing()
    {
        await Assert.ThrowsAsync<RpcException>(() => _gcs.Service.GetNamedActor(new NamedActorRequest("", "ns"), null!));
        Assert.Null((await _gcs.Service.GetNamedActor(new NamedActorRequest("nobody", "ns"), null!)).Info);
        Assert.Null((await _gcs.Service.GetNamedPlacementGroup(new NamedPlacementGroupRequest("nothing", "ns"), null!)).Group);
    }
}

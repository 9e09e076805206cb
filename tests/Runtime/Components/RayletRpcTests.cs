using System.Net;
using System.Net.Sockets;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The lease request's client side (<see cref="RayletRpc.RequestLeaseAsync"/>) against raylets that do not answer.</summary>
public sealed class RayletRpcTests
{
    private static readonly RayConfig Config = RayConfig.Default with { AuthToken = ClusterToken.Generate() };

    private static readonly WireLeaseRequest Request = new()
    {
        JobId = new JobId(1), Resources = new() { ["CPU"] = 1 }, Strategy = new WireStrategy(default, default, false), RuntimeEnvKey = "", Description = "f",
    };

    /// <summary>A loopback port nothing listens on.</summary>
    private static string ClosedEndpoint()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    [Fact]
    public async Task A_request_sent_straight_to_another_node_names_that_node_when_it_does_not_answer()
    {
        // The submitter chose the node for its arguments (locality): its death must count as a remote node's, not the
        // submitter's own raylet's, so the task behind it is not charged a retry.
        var node = NodeId.FromRandom();
        var e = await Assert.ThrowsAsync<RayletUnreachableException>(() =>
            RayletRpc.RequestLeaseAsync(Config, ClosedEndpoint(), Request, CancellationToken.None, endpointNode: node));
        Assert.Equal(node, e.RemoteNode);
        Assert.Contains(node.ToString(), e.Message);
    }

    [Fact]
    public async Task A_request_to_the_own_raylet_names_no_remote_node()
    {
        var e = await Assert.ThrowsAsync<RayletUnreachableException>(() =>
            RayletRpc.RequestLeaseAsync(Config, ClosedEndpoint(), Request, CancellationToken.None));
        Assert.Null(e.RemoteNode);
    }

    [Fact]
    public async Task A_request_to_a_node_already_declared_dead_fails_at_once_naming_it()
    {
        var node = NodeId.FromRandom();
        using var dead = new CancellationTokenSource();
        dead.Cancel();
        var e = await Assert.ThrowsAsync<RayletUnreachableException>(() =>
            RayletRpc.RequestLeaseAsync(Config, ClosedEndpoint(), Request, CancellationToken.None, _ => dead.Token, node));
        Assert.Equal(node, e.RemoteNode);
        Assert.Contains("declared dead", e.Message);
    }
}

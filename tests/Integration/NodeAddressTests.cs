using RaySharp.Core;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

/// <summary>The address a process binds and advertises (RAY_NODE_IP_ADDRESS, --node-ip-address): loopback by default;
/// a driver attaches to a node of its own host and says what to do when there is none.</summary>
public sealed class NodeAddressTests
{
    [Fact]
    public void A_driver_on_a_host_without_a_node_is_told_to_start_one_there()
    {
        using var cluster = TestCluster.Start();
        string? before = Environment.GetEnvironmentVariable(NodeIpAddress.Variable);
        // 127.0.0.2 is this machine too (all of 127/8 is loopback), but no node has that address.
        Environment.SetEnvironmentVariable(NodeIpAddress.Variable, "127.0.0.2");
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => Ray.Init(new RayOptions { Address = cluster.Address }));
            Assert.Contains("No node of the cluster at " + cluster.Address + " runs on this machine (127.0.0.2)", e.Message, StringComparison.Ordinal);
            Assert.Contains("its nodes are at 127.0.0.1", e.Message, StringComparison.Ordinal);
            Assert.Contains($"raysharp start --address {cluster.Address} --node-ip-address 127.0.0.2", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(NodeIpAddress.Variable, before);
        }
    }

    [Theory]
    [InlineData("0.0.0.0", "0.0.0.0 is not an address other nodes can reach")]
    [InlineData("10.1", "is not an IP address")]
    [InlineData("224.0.0.1", "broadcast or multicast")]
    [InlineData("255.255.255.255", "broadcast or multicast")]
    [InlineData("fe80::1", "IPv6")]
    [InlineData("192.0.2.77", "not an address of this machine")]
    public void Addresses_peers_cannot_reach_are_refused_with_the_reason(string address, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => NodeIpAddress.Validate(address, NodeIpAddress.Variable));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.StartsWith(NodeIpAddress.Variable, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loopback_addresses_are_valid_and_the_route_to_a_loopback_gcs_is_loopback()
    {
        Assert.Equal("127.0.0.1", NodeIpAddress.Validate(" 127.0.0.1 "));
        Assert.Equal("127.0.0.2", NodeIpAddress.Validate("127.0.0.2"));
        Assert.Equal("127.0.0.1", NodeIpAddress.RouteTo("127.0.0.1"));
        Assert.Equal("127.0.0.1", NodeIpAddress.RouteTo("localhost"));
    }
}

using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace RaySharp.Core;

/// <summary>
/// The address a process of a node listens on and advertises (Ray's <c>--node-ip-address</c>): the GCS, the raylet, the
/// node's workers and a driver each bind exactly this address, and other hosts reach them by it through the node table,
/// worker addresses and object locations. Loopback (<see cref="Default"/>) unless given; as in Ray it must be an
/// address peers can route to, so "any" (<c>0.0.0.0</c>) is refused rather than advertised.
/// </summary>
internal static class NodeIpAddress
{
    /// <summary>The environment variable a node, a driver or a worker reads its address from (Ray's name).</summary>
    public const string Variable = "RAY_NODE_IP_ADDRESS";

    /// <summary>The default: loopback, so nothing is reachable from other machines unless asked for.</summary>
    public const string Default = "127.0.0.1";

    /// <summary>The checked address of <paramref name="text"/> in its canonical form; <see cref="ArgumentException"/>
    /// with a message naming <paramref name="source"/> (an option or a variable) when it is not an IPv4 address of this
    /// machine other peers can reach.</summary>
    public static string Validate(string text, string source = "--node-ip-address")
    {
        string trimmed = text.Trim();
        // IPAddress.TryParse also takes "10" or "10.1" (as 0.0.0.10, 10.0.0.1): a node address is written in full.
        if (!IPAddress.TryParse(trimmed, out var ip) || ip.AddressFamily == AddressFamily.InterNetwork && trimmed.Count(c => c == '.') != 3)
            throw new ArgumentException($"{source} '{text}' is not an IP address; give this host's address, e.g. 10.0.0.5.");
        if (ip.AddressFamily == AddressFamily.InterNetworkV6)
            throw new ArgumentException($"{source} '{text}' is an IPv6 address; RaySharp nodes take an IPv4 address for now.");
        if (ip.Equals(IPAddress.Any))
            throw new ArgumentException($"{source} 0.0.0.0 is not an address other nodes can reach: give this host's own address " +
                "(the one the other hosts of the cluster route to, e.g. 10.0.0.5); RaySharp binds and advertises exactly that address.");
        if (ip.Equals(IPAddress.Broadcast) || ip.GetAddressBytes()[0] >= 224)
            throw new ArgumentException($"{source} '{text}' is a broadcast or multicast address; give this host's own address.");
        if (!IPAddress.IsLoopback(ip) && !IsLocal(ip))
            throw new ArgumentException($"{source} '{text}' is not an address of this machine (its addresses: {string.Join(", ", LocalAddresses())}); " +
                "give the address of one of its network interfaces.");
        return ip.ToString();
    }

    /// <summary>The address of this process: <c>RAY_NODE_IP_ADDRESS</c> when set (checked), else <paramref name="fallback"/>.</summary>
    public static string FromEnvironment(string fallback = Default) => FromEnvironment(() => fallback);

    /// <summary>As <see cref="FromEnvironment(string)"/>, working out the fallback only when the variable is not set.</summary>
    public static string FromEnvironment(Func<string> fallback) =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } text ? Validate(text, Variable) : fallback();

    /// <summary>The local address this machine uses to reach <paramref name="host"/> (a driver joining a cluster by address
    /// advertises it: the route to the GCS is the route back). Loopback for a loopback GCS. No packet is sent.</summary>
    public static string RouteTo(string host)
    {
        if (!IPAddress.TryParse(host, out var target))
        {
            var addresses = Dns.GetHostAddresses(host);
            target = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new ArgumentException($"The GCS host '{host}' has no IPv4 address.");
        }
        if (IPAddress.IsLoopback(target)) return Default;
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            // A UDP "connect" only picks the route and the source address for it.
            socket.Connect(target, 9);
            return ((IPEndPoint)socket.LocalEndPoint!).Address.ToString();
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"This machine has no route to the GCS host {host}: {e.Message}", e);
        }
    }

    /// <summary>The host part of a <c>host:port</c> endpoint.</summary>
    public static string HostOf(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        return colon > 0 ? endpoint[..colon] : endpoint;
    }

    private static bool IsLocal(IPAddress ip) => LocalAddresses().Any(ip.Equals);

    private static IEnumerable<IPAddress> LocalAddresses()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(u => u.Address))
                .Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToList();
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }
}

using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Cli;

/// <summary>A command's line to a cluster's GCS, through the same client every RaySharp process uses; the address is
/// <c>--address</c>, else <c>RAY_ADDRESS</c>, else the head started on this machine.</summary>
internal sealed class ClusterConnection
{
    private ClusterConnection(GcsClient gcs, RayConfig config) => (Gcs, Config) = (gcs, config);

    public GcsClient Gcs { get; }

    public RayConfig Config { get; }

    public string Endpoint => Gcs.Endpoint;

    public static ClusterConnection Open(string? address, string? authToken)
    {
        address ??= Environment.GetEnvironmentVariable("RAY_ADDRESS") ?? NodeRecords.HeadGcs()
            ?? throw new InvalidOperationException("No cluster address: pass --address HOST:PORT, set RAY_ADDRESS, or start one with `raysharp start --head`.");
        var token = ClusterToken.From(authToken ?? Environment.GetEnvironmentVariable(ClusterToken.Variable))
            ?? ClusterToken.FindLocal(address)
            ?? NodeRecords.SessionsOf(address).Select(ReadToken).FirstOrDefault(t => t is not null)
            // Without one every call would be refused: say how to give it before trying.
            ?? throw new InvalidOperationException(
                $"Authentication: no cluster token for the cluster at {address}. Pass --auth-token or set {ClusterToken.Variable} to the token in " +
                $"the head node's <session dir>/{ClusterToken.FileName} (on the head's machine it is found there by itself).");
        // A command fails at once when the GCS does not answer (it does not wait out a GCS restart).
        var config = RayConfig.Default with
        {
            AuthToken = token, GcsRpcServerReconnectTimeout = TimeSpan.Zero, Tls = ClusterTls.FromEnvironment(Environment.GetEnvironmentVariable),
        };
        return new(new GcsClient(address, config), config);
    }

    /// <summary>A call to the GCS; an unreachable one is an error that says what to check.</summary>
    public T Ask<T>(Func<GcsClient, T> call)
    {
        try
        {
            return call(Gcs);
        }
        catch (RayException e) when (e.InnerException is RpcException { StatusCode: StatusCode.Unauthenticated })
        {
            throw new InvalidOperationException($"authentication failed at the GCS at {Endpoint}: pass --auth-token or set RAY_AUTH_TOKEN " +
                $"to the token in the head node's <session dir>/{ClusterToken.FileName}. ({e.Message})", e);
        }
        catch (RayException e)
        {
            throw new InvalidOperationException($"cannot reach the GCS at {Endpoint}. Is the head node running? ({e.Message})", e);
        }
    }

    /// <summary>The object stores of the cluster's alive nodes, the head's first; a node that does not answer is left
    /// out, with a line on <paramref name="notes"/>.</summary>
    public List<StoreStatsReply> StoreStats(TextWriter notes)
    {
        List<StoreStatsReply> stats = [];
        foreach (var node in Ask(g => g.GetAllNodes()).Nodes.Where(n => n.Alive).OrderByDescending(n => n.IsHead))
        {
            try
            {
                stats.Add(RpcChannels.Invoker(node.RayletEndpoint, Config).AsyncUnaryCall(NodeManagerService.GetStoreStatsMethod, null,
                    new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)), Empty.Instance).ResponseAsync.GetAwaiter().GetResult());
            }
            catch (RpcException e)
            {
                notes.WriteLine($"node {node.NodeId} ({node.RayletEndpoint}) did not report its object store: {e.StatusCode} ({e.Status.Detail})");
            }
        }
        return stats;
    }

    private static ClusterToken? ReadToken(string sessionDir)
    {
        try { return ClusterToken.From(File.ReadAllText(Path.Combine(sessionDir, ClusterToken.FileName))); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}

using Grpc.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Worker;

/// <summary>A node's components hosted in this process: the GCS (head node only), the raylet, and one RPC server
/// for both (plus, in an embedded cluster, the driver's own core worker service).</summary>
internal sealed class NodeHost : IAsyncDisposable
{
    private NodeHost(RpcServer server, NodeManager raylet, GcsServer? gcs, string gcsEndpoint, string sessionDir)
    {
        Server = server;
        Raylet = raylet;
        Gcs = gcs;
        GcsEndpoint = gcsEndpoint;
        SessionDir = sessionDir;
    }

    public RpcServer Server { get; }
    public NodeManager Raylet { get; }
    public GcsServer? Gcs { get; }
    public string GcsEndpoint { get; }
    public string SessionDir { get; }
    public string RayletLocalEndpoint => Raylet.Socket is { } s ? "unix:" + s : Raylet.Endpoint;

    /// <summary>Starts a node. With <paramref name="gcsAddress"/> null it is a head node hosting the GCS on
    /// <paramref name="port"/> (0: any free port); otherwise it joins the GCS at that address.</summary>
    public static async Task<NodeHost> StartAsync(ResourceSet resources, string? gcsAddress, int port, string sessionDir, RayConfig config,
        ILogger logger, IReadOnlyList<IRpcService>? extraServices = null, string host = "127.0.0.1", CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.Combine(sessionDir, "sockets"));
        var nodeId = NodeId.FromRandom();
        var gcs = gcsAddress is null ? new GcsServer(config, logger) : null;
        var raylet = new NodeManager(nodeId, resources, isHead: gcs is not null, sessionDir, config, logger);
        var services = new List<IRpcService> { raylet.Service };
        if (gcs is not null) services.Add(gcs.Service);
        services.AddRange(extraServices ?? []);
        string socket = Path.Combine(sessionDir, "sockets", "raylet-" + nodeId.ToString()[..8] + ".sock");
        RpcServer? server = null;
        try
        {
            server = await RpcServer.StartAsync(host, gcs is not null ? port : 0, socket, services, ct).ConfigureAwait(false);
            await raylet.StartAsync(gcsAddress ?? server.Endpoint, server.Endpoint, socket, ct).ConfigureAwait(false);
        }
        catch
        {
            raylet.Dispose();
            gcs?.Dispose();
            if (server is not null) await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new NodeHost(server, raylet, gcs, raylet.GcsEndpoint, sessionDir);
    }

    /// <summary>A new session directory (logs, sockets) under <paramref name="tempDir"/> (default: the system temp dir).</summary>
    public static string NewSessionDir(string? tempDir)
    {
        string root = tempDir ?? Path.Combine(Path.GetTempPath(), "raysharp");
        string dir = Path.Combine(root, $"session_{DateTime.Now:yyyyMMdd_HHmmss}_{Environment.ProcessId}_{Random.Shared.Next(0x10000):x4}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public async ValueTask DisposeAsync()
    {
        Raylet.Dispose();
        Gcs?.Dispose();
        await Server.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Starts a driver's core worker in a cluster: the embedded single-node cluster of <c>Ray.Init()</c>, or a
/// running cluster named by an address.</summary>
internal static class ClusterDriver
{
    public static CoreWorker Start(RayOptions options, string? address, RayConfig config, ILogger logger)
    {
        var handler = new CoreWorkerServiceHandler(default);
        var driverService = new CoreWorkerService(handler);
        NodeHost? embedded = null;
        RpcServer? ownServer = null;
        string gcs, raylet, endpoint;
        string? socket;
        NodeId nodeId;
        string sessionDir;
        if (address is null)
        {
            sessionDir = NodeHost.NewSessionDir(options.TempDir);
            embedded = NodeHost.StartAsync(CoreWorkerFactory.NodeResources(options), null, 0, sessionDir, config, logger, [driverService])
                .GetAwaiter().GetResult();
            gcs = embedded.GcsEndpoint;
            raylet = embedded.RayletLocalEndpoint;
            nodeId = embedded.Raylet.NodeId;
            endpoint = embedded.Server.Endpoint;
            socket = embedded.Raylet.Socket;
        }
        else
        {
            gcs = address.StartsWith("ray://", StringComparison.Ordinal) ? address["ray://".Length..] : address;
            var view = Call(gcs, GcsService.GetAllNodesMethod, Empty.Instance, address);
            var node = view.Nodes.Where(n => n.Alive).OrderByDescending(n => n.IsHead).FirstOrDefault()
                ?? throw new InvalidOperationException($"The cluster at {address} has no alive node to run a driver on.");
            nodeId = node.NodeId;
            raylet = node.RayletSocket is { } s && File.Exists(s) ? "unix:" + s : node.RayletEndpoint;
            sessionDir = NodeHost.NewSessionDir(options.TempDir);
            socket = Path.Combine(sessionDir, "driver.sock");
            ownServer = RpcServer.StartAsync("127.0.0.1", 0, socket, [driverService]).GetAwaiter().GetResult();
            endpoint = ownServer.Endpoint;
        }
        var jobId = Call(gcs, GcsService.GetNextJobIdMethod, Empty.Instance, address).JobId;
        string ns = options.Namespace ?? Guid.NewGuid().ToString("N");
        IDisposable? logs = null;
        var worker = new CoreWorker(jobId, ns, options.RuntimeEnv, config, logger, w =>
        {
            Call(gcs, GcsService.AddJobMethod, new JobRecord
            {
                JobId = jobId, Namespace = ns, CodeSearchPath = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar),
                Driver = new Address(w.WorkerId, nodeId, endpoint) { Socket = socket }, DriverProcessId = Environment.ProcessId,
                EnvVars = options.RuntimeEnv?.EnvVars is { Count: > 0 } env ? new Dictionary<string, string>(env) : null,
            }, address);
            logs = DriverLogStream.Start(gcs, jobId);
            return new WorkerConnections(new RayletRpcClient(raylet, gcs, nodeId, jobId), new GcsRpcClient(gcs, w), endpoint, socket,
                new OwnershipRpcClient(nodeId), OnDispose: () =>
                {
                    _ = RayletRpc.CallAsync(gcs, GcsService.MarkJobFinishedMethod, new JobIdRequest(jobId)).Wait(TimeSpan.FromSeconds(5));
                    logs?.Dispose();
                    if (embedded is not null) embedded.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
                    ownServer?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
                });
        });
        handler.Worker = worker;
        return worker;
    }

    private static TResponse Call<TRequest, TResponse>(string gcs, Method<TRequest, TResponse> method, TRequest request, string? address)
        where TRequest : class where TResponse : class
    {
        try
        {
            return RpcChannels.Invoker(gcs).BlockingUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), request);
        }
        catch (RpcException e)
        {
            throw new InvalidOperationException(
                $"Cannot reach the RaySharp cluster at '{address ?? gcs}': {e.Status.Detail} ({e.StatusCode}). " +
                "Check that `raysharp start --head` is running there and that the address (RayOptions.Address or RAY_ADDRESS) is host:port.", e);
        }
    }
}

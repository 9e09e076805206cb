using Microsoft.Extensions.Logging;
using RaySharp.Core.Gcs;
using RaySharp.Core.LocalMode;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Worker;

/// <summary>How a node's components are reached: over gRPC (TCP and a Unix socket), or in process (local mode).</summary>
/// <param name="Serve">Starts the node's RPC host for the given services.</param>
/// <param name="Launcher">Starts the node's workers, given how to publish their output.</param>
internal sealed record NodeTransport(Func<IReadOnlyList<IRpcService>, string, Task<IRpcHost>> Serve,
    Func<Action<LogBatch>, IWorkerLauncher> Launcher)
{
    /// <summary>gRPC on <paramref name="host"/> (port <paramref name="port"/> for the head's GCS, 0 for any), a Unix
    /// socket in the session directory, and worker processes.</summary>
    public static NodeTransport Grpc(string sessionDir, string host, int port) => new(
        async (services, name) =>
        {
            Directory.CreateDirectory(Path.Combine(sessionDir, "sockets"));
            string socket = Path.Combine(sessionDir, "sockets", name + ".sock");
            return await RpcServer.StartAsync(host, port, socket, services).ConfigureAwait(false);
        },
        publishLogs => new ProcessWorkerLauncher(sessionDir, publishLogs));
}

/// <summary>A node's components hosted in this process: the GCS (head node only), the raylet, and one RPC host for
/// both (plus, for a driver on the node, the driver's own core worker service).</summary>
internal sealed class NodeHost : IAsyncDisposable
{
    private NodeHost(IRpcHost server, NodeManager raylet, GcsServer? gcs, string gcsEndpoint)
    {
        Server = server;
        Raylet = raylet;
        Gcs = gcs;
        GcsEndpoint = gcsEndpoint;
    }

    public IRpcHost Server { get; }
    public NodeManager Raylet { get; }
    public GcsServer? Gcs { get; }
    public string GcsEndpoint { get; }
    public string RayletLocalEndpoint => Raylet.Socket is { } s ? "unix:" + s : Raylet.Endpoint;

    /// <summary>Starts a node. With <paramref name="gcsAddress"/> null it is a head node hosting the GCS; otherwise it
    /// joins the GCS at that address.</summary>
    public static async Task<NodeHost> StartAsync(ResourceSet resources, string? gcsAddress, NodeTransport transport, RayConfig config,
        ILogger logger, IReadOnlyList<IRpcService>? extraServices = null, CancellationToken ct = default)
    {
        var nodeId = NodeId.FromRandom();
        var gcs = gcsAddress is null ? new GcsServer(config, logger) : null;
        NodeManager? raylet = null;
        var launcher = transport.Launcher(batch => raylet?.PublishLogs(batch));
        raylet = new NodeManager(nodeId, resources, isHead: gcs is not null, config, logger, launcher);
        var services = new List<IRpcService> { raylet.Service };
        if (gcs is not null) services.Add(gcs.Service);
        services.AddRange(extraServices ?? []);
        IRpcHost? server = null;
        try
        {
            server = await transport.Serve(services, "raylet-" + nodeId.ToString()[..8]).ConfigureAwait(false);
            await raylet.StartAsync(new GcsClient(gcsAddress ?? server.Endpoint), server.Endpoint, server.Socket, ct).ConfigureAwait(false);
        }
        catch
        {
            raylet.Dispose();
            gcs?.Dispose();
            if (server is not null) await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new NodeHost(server, raylet, gcs, raylet.GcsEndpoint);
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

/// <summary>Starts a driver's core worker: on a node of its own in this process (the embedded cluster of
/// <c>Ray.Init()</c>, or local mode, where the node is reached in process and its workers are threads), or on a
/// running cluster named by an address.</summary>
internal static class ClusterDriver
{
    public static CoreWorker Start(RayOptions options, string? address, RayConfig config, ILogger logger)
    {
        var handler = new CoreWorkerServiceHandler(default);
        var driverService = new CoreWorkerService(handler);
        NodeHost? embedded = null;
        IRpcHost? ownServer = null;
        string raylet, endpoint;
        string? socket;
        NodeId nodeId;
        GcsClient gcs;
        ThreadWorkerLauncher? threads = null;
        var resources = CoreWorkerFactory.NodeResources(options);
        if (options.LocalMode)
        {
            var transport = new NodeTransport((services, name) => Task.FromResult<IRpcHost>(InProcessTransport.Start(name, services)),
                _ => threads = new ThreadWorkerLauncher());
            embedded = NodeHost.StartAsync(resources, null, transport, config, logger, [driverService]).GetAwaiter().GetResult();
        }
        else if (address is null)
        {
            string sessionDir = NodeHost.NewSessionDir(options.TempDir);
            embedded = NodeHost.StartAsync(resources, null, NodeTransport.Grpc(sessionDir, "127.0.0.1", 0), config, logger, [driverService])
                .GetAwaiter().GetResult();
        }
        if (embedded is not null)
        {
            gcs = new GcsClient(embedded.GcsEndpoint);
            raylet = embedded.RayletLocalEndpoint;
            nodeId = embedded.Raylet.NodeId;
            endpoint = embedded.Server.Endpoint;
            socket = embedded.Raylet.Socket;
        }
        else
        {
            gcs = new GcsClient(address!.StartsWith("ray://", StringComparison.Ordinal) ? address["ray://".Length..] : address);
            var node = Reach(gcs, address, g => g.GetAllNodes()).Nodes.Where(n => n.Alive).OrderByDescending(n => n.IsHead).FirstOrDefault()
                ?? throw new InvalidOperationException($"The cluster at {address} has no alive node to run a driver on.");
            nodeId = node.NodeId;
            raylet = node.RayletSocket is { } s && File.Exists(s) ? "unix:" + s : node.RayletEndpoint;
            string sessionDir = NodeHost.NewSessionDir(options.TempDir);
            socket = Path.Combine(sessionDir, "driver.sock");
            ownServer = RpcServer.StartAsync("127.0.0.1", 0, socket, [driverService]).GetAwaiter().GetResult();
            endpoint = ownServer.Endpoint;
        }
        var jobId = Reach(gcs, address, g => g.GetNextJobId());
        string ns = options.Namespace ?? Guid.NewGuid().ToString("N");
        IDisposable? logs = null;
        var worker = new CoreWorker(jobId, ns, options.RuntimeEnv, config, logger, w =>
        {
            threads?.Attach(w, gcs);
            Reach(gcs, address, g =>
            {
                g.AddJob(new JobRecord
                {
                    JobId = jobId, Namespace = ns, CodeSearchPath = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar),
                    Driver = new Address(w.WorkerId, nodeId, endpoint) { Socket = socket }, DriverProcessId = Environment.ProcessId,
                    EnvVars = options.RuntimeEnv?.EnvVars is { Count: > 0 } env ? new Dictionary<string, string>(env) : null,
                });
                return true;
            });
            // Local mode's workers are threads of this process: their output is already on this console.
            if (!options.LocalMode) logs = DriverLogStream.Start(gcs, jobId);
            return new WorkerConnections(new RayletRpcClient(raylet, gcs, nodeId, jobId), new GcsActorClient(gcs, w), endpoint, socket,
                new OwnershipRpcClient(nodeId), WorkersShareProcess: options.LocalMode, OnDispose: () =>
                {
                    gcs.MarkJobFinished(jobId, TimeSpan.FromSeconds(5));
                    logs?.Dispose();
                    embedded?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
                    ownServer?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
                });
        });
        handler.Worker = worker;
        return worker;
    }

    /// <summary>A first call to the cluster, turning an unreachable GCS into an error that says what to check.</summary>
    private static T Reach<T>(GcsClient gcs, string? address, Func<GcsClient, T> call)
    {
        try
        {
            return call(gcs);
        }
        catch (RayException e) when (address is not null)
        {
            throw new InvalidOperationException(
                $"Cannot reach the RaySharp cluster at '{address}': {e.Message} " +
                "Check that `raysharp start --head` is running there and that the address (RayOptions.Address or RAY_ADDRESS) is host:port.", e);
        }
    }
}

using Microsoft.Extensions.Logging;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using RaySharp.Core.Logging;

namespace RaySharp.Core.Worker;

/// <summary>
/// A node process: a program in RaySharp's mode with <c>node [--head] [--address GCS] ...</c> (<see cref="Raylet.WorkerCommand"/>) hosts a raylet (and, on the head
/// node, the GCS, unless <c>--head --address</c> names a GCS in its own process, see <see cref="GcsMain"/>) until it is stopped (SIGTERM/SIGINT), or — with <c>--lifeline</c> — until its parent closes its
/// stdin. Used by <c>raysharp start</c> and <c>TestCluster</c>. When ready it prints one line:
/// <c>RAYSHARP_NODE_READY gcs=HOST:PORT node=NODE_ID raylet=HOST:PORT session=DIR metrics=PORT</c>; Prometheus metrics are
/// served on <c>--metrics-export-port</c> (default: a free port), the port advertised in the node table.
/// </summary>
internal static partial class NodeMain
{
    public const string ReadyMarker = "RAYSHARP_NODE_READY";

    public static int Run(string[] args) => ProcessArgs.Run("node", args, RunAsync);

    private static async Task<int> RunAsync(Dictionary<string, string> o, HashSet<string> flags)
    {
        bool head = flags.Contains("head");
        string? address = o.GetValueOrDefault("address");
        // A head node hosts the GCS, or with --address joins the GCS process of a cluster with external storage.
        bool hostsGcs = head && address is null;
        if (!head && address is null) throw new ArgumentException("A node needs --head or --address GCS_HOST:PORT.");
        var options = new RayOptions
        {
            NumCpus = o.TryGetValue("num-cpus", out var c) ? double.Parse(c, CultureInfo.InvariantCulture) : null,
            NumGpus = o.TryGetValue("num-gpus", out var g) ? double.Parse(g, CultureInfo.InvariantCulture) : null,
            ObjectStoreMemory = o.TryGetValue("object-store-memory", out var m) ? long.Parse(m, CultureInfo.InvariantCulture) : null,
            Resources = o.TryGetValue("resources", out var r) ? ParseResources(r) : null,
        };
        string nodeIp = ProcessArgs.NodeIp(o);
        int port = o.TryGetValue("port", out var p) ? int.Parse(p, CultureInfo.InvariantCulture) : 0;
        int metricsPort = ProcessArgs.MetricsExportPort(o);
        string sessionDir = o.GetValueOrDefault("session-dir") ?? NodeHost.NewSessionDir(o.GetValueOrDefault("temp-dir"));
        // The directory may be named after another process (raysharp start, which exits): record that this node uses it.
        NodeHost.MarkSessionInUse(sessionDir);
        // The process's loggers outlive the node (declared first, disposed last): the head's raylet logs to raylet.log
        // and its GCS to raysharp-gcs.log; a node joining a cluster to raylet-<node id>.log.
        var nodeId = NodeId.FromRandom();
        string rayletLog = NodeHost.RayletLogFile(sessionDir, nodeId, head);
        var (config, loggers) = RayLogging.StartProcess(head ? "head node" : "node", NodeHost.NodeLogs(sessionDir, rayletLog, rayletLog, hostsGcs));
        using var _ = loggers;
        // The cluster token: --auth-token or RAY_AUTH_TOKEN; else a head makes a new one and a joining node reads its
        // head's from the head's session directory (same machine, same user).
        var token = ClusterToken.From(o.GetValueOrDefault("auth-token")) ?? config.AuthToken
            ?? (head ? ClusterToken.Generate() : ClusterToken.FindLocal(address!, o.GetValueOrDefault("temp-dir")) ?? ClusterToken.FindLocal(address!))
            ?? throw new InvalidOperationException(
                $"Authentication: no cluster token to join the cluster at {address}. Set {ClusterToken.Variable} (or --auth-token) to the token " +
                $"in the head node's <session dir>/{ClusterToken.FileName}.");
        config = config with { AuthToken = token };
        var transport = NodeTransport.Grpc(sessionDir, nodeIp, hostsGcs ? port : 0, config, loggers);
        await using var node = await NodeHost.StartAsync(CoreWorkerFactory.NodeResources(options), hostsGcs ? null : address, transport, config, loggers,
            nodeId: nodeId, sessionDir: sessionDir, isHead: head, metricsExportPort: metricsPort, instance: ProviderInstance.FromEnvironment()).ConfigureAwait(false);
        if (hostsGcs) token.WriteToSession(sessionDir, node.GcsEndpoint);
        // The head's dashboard (--dashboard-port; 0 picks a free port), a process of its own that lives as long as this one.
        // As in Ray, a dashboard that cannot start (port taken, assembly missing) leaves the cluster running without it.
        using var dashboard = head && o.TryGetValue("dashboard-port", out var dp)
            ? await StartDashboardAsync(node.GcsEndpoint, o.GetValueOrDefault("dashboard-host", "127.0.0.1"), ParsePort(dp), sessionDir, token,
                loggers.CreateLogger("RaySharp.Dashboard")).ConfigureAwait(false)
            : null;
        // The autoscaler (--autoscaling-config), a process of its own beside the head, as Ray's monitor.
        using var autoscaler = head && o.TryGetValue("autoscaling-config", out var autoscalingConfig)
            ? AutoscalerProcess.Start(node.GcsEndpoint, autoscalingConfig, sessionDir, token, loggers.CreateLogger("RaySharp.Autoscaler"))
            : null;
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.TrySetResult(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.TrySetResult(); });
        if (flags.Contains("lifeline")) Lifeline.Start(() => stop.TrySetResult());
        Console.WriteLine($"{ReadyMarker} gcs={node.GcsEndpoint} node={node.Raylet.NodeId} raylet={node.Raylet.Endpoint} session={sessionDir} " +
            $"metrics={node.Metrics!.Port}" + (dashboard is null ? "" : $" dashboard={dashboard.Url}"));
        Console.Out.Flush();
        await stop.Task.ConfigureAwait(false);
        if (!hostsGcs && address is not null)
            await new Rpc.GcsClient(address, config).UnregisterNodeAsync(node.Raylet.NodeId, "the node was stopped").ConfigureAwait(false);
        return 0;
    }

    private static async Task<DashboardProcess?> StartDashboardAsync(string gcs, string host, int port, string sessionDir, ClusterToken token, ILogger logger)
    {
        try
        {
            return await DashboardProcess.StartAsync(gcs, host, port, sessionDir, token, logger).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            LogDashboardFailed(logger, e.Message);
            Console.Error.WriteLine($"[RaySharp node] the dashboard did not start; the node runs without it: {e.Message}");
            return null;
        }
    }

    private static int ParsePort(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port <= 65535 ? port
            : throw new ArgumentException($"--dashboard-port takes a port number (0: any free port), not '{value}'.");

    /// <summary>Parses <c>{"name": amount, ...}</c>.</summary>
    internal static Dictionary<string, double> ParseResources(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, double>>(json) ?? [];
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"--resources must be a JSON object of names to amounts, like '{{\"gpu_a\": 1}}': {e.Message}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The dashboard did not start; the node runs without it: {Message}")]
    private static partial void LogDashboardFailed(ILogger logger, string message);
}

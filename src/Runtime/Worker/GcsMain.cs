using System.Globalization;
using System.Runtime.InteropServices;
using RaySharp.Core.Gcs;
using RaySharp.Core.Logging;
using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;

namespace RaySharp.Core.Worker;

/// <summary>
/// The GCS in a process of its own (Ray's <c>gcs_server</c>): a program in RaySharp's mode with <c>gcs --port PORT --gcs-storage
/// redis://HOST:PORT [--session-dir DIR] [--storage-namespace NS] [--lifeline]</c>. Its tables live in Redis, so a GCS
/// restarted on the same port over the same storage reloads them, and the cluster's raylets, drivers and workers
/// reconnect to it. It logs to <c>raysharp-gcs.log</c> in the session directory. When ready it prints one line:
/// <c>RAYSHARP_GCS_READY gcs=HOST:PORT session=DIR metrics=PORT</c>; its Prometheus metrics are served on
/// <c>--metrics-export-port</c> (default: a free port), advertised in the internal KV for the head's aggregated scrape.
/// </summary>
internal static class GcsMain
{
    public const string ReadyMarker = "RAYSHARP_GCS_READY";

    public static int Run(string[] args) => ProcessArgs.Run("GCS", args, RunAsync);

    private static async Task<int> RunAsync(Dictionary<string, string> o, HashSet<string> flags)
    {
        string storageAddress = o.GetValueOrDefault("gcs-storage")
            ?? throw new ArgumentException("The GCS process needs --gcs-storage redis://HOST:PORT (its tables must outlive it).");
        int port = o.TryGetValue("port", out var p) ? int.Parse(p, CultureInfo.InvariantCulture) : 6379;
        int metricsPort = ProcessArgs.MetricsExportPort(o);
        string sessionDir = o.GetValueOrDefault("session-dir") ?? NodeHost.NewSessionDir(o.GetValueOrDefault("temp-dir"));
        NodeHost.MarkSessionInUse(sessionDir);
        var (config, loggers) = RayLogging.StartProcess("GCS", new LogDestinations(NodeHost.GcsLogFile(sessionDir)));
        using var _ = loggers;
        var token = ClusterToken.From(o.GetValueOrDefault("auth-token")) ?? config.AuthToken ?? ClusterToken.Generate();
        config = config with { AuthToken = token };
        // The same namespace after a restart finds the same tables: by default the session's (one cluster per session).
        string ns = o.GetValueOrDefault("storage-namespace") ?? Path.GetFileName(sessionDir.TrimEnd(Path.DirectorySeparatorChar));
        // Counting from the start: the collector enables the instruments before the GCS records anything.
        var collector = MetricsCollector.Process;
        using var storage = new RedisGcsTableStorage(storageAddress, ns);
        using var gcs = new GcsServer(config, loggers, storage);
        await using var server = await RpcServer.StartAsync(ProcessArgs.NodeIp(o), port, null, [gcs.Service], config, loggers)
            .ConfigureAwait(false);
        token.WriteToSession(sessionDir, server.Endpoint);
        // Its metrics (actors, nodes, RPCs) are served apart from any node's; the head finds them through the KV.
        await using var metrics = await MetricsExporter.StartAsync(ClusterMetrics.HostOf(server.Endpoint), metricsPort,
            collector.Collect, loggers).ConfigureAwait(false);
        gcs.Kv.Put(ClusterMetrics.KvNamespace, ClusterMetrics.GcsMetricsKey,
            System.Text.Encoding.UTF8.GetBytes($"{ClusterMetrics.HostOf(server.Endpoint)}:{metrics.Port}"), overwrite: true);
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.TrySetResult(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.TrySetResult(); });
        if (flags.Contains("lifeline")) Lifeline.Start(() => stop.TrySetResult());
        Console.WriteLine($"{ReadyMarker} gcs={server.Endpoint} session={sessionDir} metrics={metrics.Port}");
        Console.Out.Flush();
        await stop.Task.ConfigureAwait(false);
        return 0;
    }
}

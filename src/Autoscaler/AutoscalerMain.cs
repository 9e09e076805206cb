using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using RaySharp.Autoscaler.Providers;
using RaySharp.Core;
using RaySharp.Core.Logging;
using RaySharp.Core.Rpc;
using RaySharp.Core.Worker;

namespace RaySharp.Autoscaler;

/// <summary>
/// The autoscaler process (Ray's monitor): <c>RaySharp.Autoscaler.dll --gcs HOST:PORT --config FILE --session-dir DIR
/// [--lifeline]</c>, with the cluster token in <c>RAY_AUTH_TOKEN</c>. The head node starts it when given
/// <c>--autoscaling-config</c> (see <see cref="AutoscalerProcess"/>); it logs to <c>logs/autoscaler.log</c> in the session
/// and runs <see cref="Autoscaler"/> until stopped (SIGTERM, or its lifeline closing when the head goes); the nodes of the
/// local provider stop with it.
/// </summary>
internal static class AutoscalerMain
{
    public static int Main(string[] args) => ProcessArgs.Run("autoscaler", ["autoscaler", .. args], RunAsync);

    private static async Task<int> RunAsync(Dictionary<string, string> o, HashSet<string> flags)
    {
        string gcsAddress = o.GetValueOrDefault("gcs") ?? throw new ArgumentException("The autoscaler needs --gcs HOST:PORT.");
        string sessionDir = o.GetValueOrDefault("session-dir") ?? throw new ArgumentException("The autoscaler needs --session-dir DIR.");
        string configPath = o.GetValueOrDefault("config") ?? throw new ArgumentException("The autoscaler needs --config FILE.");
        var (rayConfig, loggers) = RayLogging.StartProcess("autoscaler", new LogDestinations(Path.Combine(NodeHost.LogDir(sessionDir), AutoscalerProcess.LogName)));
        using var _ = loggers;
        var logger = loggers.CreateLogger("RaySharp.Autoscaler");
        var token = rayConfig.AuthToken ?? throw new InvalidOperationException($"The autoscaler needs the cluster token in {ClusterToken.Variable}.");
        var config = AutoscalingConfig.Load(configPath);
        await using INodeProvider provider = config.Provider.Type == ProviderConfig.Kubernetes
            ? KubernetesNodeProvider.Create(config, logger)
            : new LocalNodeProvider(gcsAddress, sessionDir, token, logger);
        var autoscaler = new Autoscaler(config, new GcsAutoscalerClient(new GcsClient(gcsAddress, rayConfig, loggers.CreateLogger<GcsClient>())), provider, logger);

        // Not disposed: the lifeline thread may still cancel it while the process exits.
        var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });
        if (flags.Contains("lifeline")) Lifeline.Start(stop.Cancel);
        Console.WriteLine($"{AutoscalerProcess.ReadyMarker} config={configPath}");
        Console.Out.Flush();
        await autoscaler.RunAsync(stop.Token).ConfigureAwait(false);
        logger.LogInformation("The autoscaler stops; the nodes it started locally stop with it");
        return 0;
    }
}

using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using RaySharp.Core;
using RaySharp.Core.Jobs;
using RaySharp.Core.Logging;
using RaySharp.Core.Rpc;
using RaySharp.Core.Worker;
using RaySharp.Dashboard.Jobs;
using RaySharp.Dashboard.Live;
using RaySharp.Dashboard.State;

namespace RaySharp.Dashboard;

/// <summary>
/// The dashboard process: <c>RaySharp.Dashboard.dll --gcs HOST:PORT [--host 127.0.0.1] [--port 8265] --session-dir DIR
/// [--lifeline]</c>, with the cluster token in <c>RAY_AUTH_TOKEN</c>. It joins the cluster as a driver (to create job
/// supervisor actors), serves HTTP/1.1 with every <see cref="IDashboardModule"/>, logs to <c>logs/dashboard.log</c>,
/// writes its URL to <c>&lt;session&gt;/dashboard_address</c> and prints <c>RAYSHARP_DASHBOARD_READY url=http://HOST:PORT</c>.
/// </summary>
internal static class DashboardApp
{
    public static int Main(string[] args) => ProcessArgs.Run("dashboard", ["dashboard", .. args], RunAsync);

    /// <summary>The modules the dashboard serves (jobs, the /api/v0 state API, live updates, logs, the web UI); add new areas here.</summary>
    private static IEnumerable<IDashboardModule> Modules(IServiceProvider services) =>
    [
        services.GetRequiredService<JobsModule>(),
        services.GetRequiredService<StateModule>(),
        services.GetRequiredService<EventsModule>(),
        services.GetRequiredService<LogsModule>(),
        services.GetRequiredService<WebUiModule>(),
        services.GetRequiredService<MetricsModule>(),
        services.GetRequiredService<HealthModule>(),
    ];

    private static async Task<int> RunAsync(Dictionary<string, string> o, HashSet<string> flags)
    {
        string gcsAddress = o.GetValueOrDefault("gcs") ?? throw new ArgumentException("The dashboard needs --gcs HOST:PORT.");
        string sessionDir = o.GetValueOrDefault("session-dir") ?? throw new ArgumentException("The dashboard needs --session-dir DIR.");
        string host = o.GetValueOrDefault("host", "127.0.0.1");
        int port = int.TryParse(o.GetValueOrDefault("port", "8265"), NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p <= 65535 ? p
            : throw new ArgumentException($"--port takes a port number, not '{o["port"]}'.");
        if (!IPAddress.TryParse(host, out var address)) throw new ArgumentException($"--host takes an IP address, not '{host}'.");
        var (config, loggers) = RayLogging.StartProcess("dashboard", new LogDestinations(Path.Combine(NodeHost.LogDir(sessionDir), "dashboard.log")));
        using var _ = loggers;
        var token = config.AuthToken ?? throw new InvalidOperationException($"The dashboard needs the cluster token in {ClusterToken.Variable}.");
        NodeHost.MarkSessionInUse(sessionDir);

        // A driver of the cluster, in a namespace of its own: the job supervisors are its detached actors.
        using var ray = Ray.Init(new RayOptions { Address = gcsAddress, Namespace = ActorJobSupervisors.Namespace });
        var gcs = new GcsClient(gcsAddress, config, loggers.CreateLogger<GcsClient>());
        var kv = new GcsInternalKvClient(gcs);
        var store = new JobInfoStore(kv);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.WebHost.ConfigureKestrel(k => k.Listen(address, port, l => l.Protocols = HttpProtocols.Http1));
        builder.Services.AddSingleton(gcs).AddSingleton<IInternalKv>(kv).AddSingleton(store).AddSingleton(token).AddSingleton(config);
        builder.Services.AddSingleton<IJobSupervisors>(s => new ActorJobSupervisors(gcs, sessionDir, loggers.CreateLogger<ActorJobSupervisors>()));
        builder.Services.AddSingleton(s => new JobManager(store, s.GetRequiredService<IJobSupervisors>(),
            uri => kv.Get(Core.Packaging.WorkingDirPackage.KvNamespace, uri) is not null, loggers.CreateLogger<JobManager>()));
        builder.Services.AddSingleton(s => new JobsModule(s.GetRequiredService<JobManager>(), kv, sessionDir, token, config));
        builder.Services.AddSingleton<StateModule>();
        builder.Services.AddSingleton<ClusterSnapshots>().AddHostedService(s => s.GetRequiredService<ClusterSnapshots>());
        builder.Services.AddSingleton<EventsModule>();
        builder.Services.AddSingleton(new LogsModule(sessionDir));
        builder.Services.AddSingleton<WebUiModule>();
        builder.Services.AddSingleton<MetricsModule>();
        builder.Services.AddSingleton<HealthModule>();
        await using var app = builder.Build();
        foreach (var module in Modules(app.Services)) module.Map(app);
        await app.StartAsync().ConfigureAwait(false);

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        string url = new Uri(bound).GetLeftPart(UriPartial.Authority).Replace("[::]", host, StringComparison.Ordinal);
        SessionFiles.WritePrivate(Path.Combine(sessionDir, ClusterToken.DashboardAddressFileName), url);
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (flags.Contains("lifeline")) Lifeline.Start(() => stopped.TrySetResult());
        app.Lifetime.ApplicationStopping.Register(() => stopped.TrySetResult());
        loggers.CreateLogger("RaySharp.Dashboard").LogInformation("The dashboard serves at {Url} for the cluster at {Gcs}", url, gcsAddress);
        Console.WriteLine($"{DashboardProcess.ReadyMarker} url={url}");
        Console.Out.Flush();
        await stopped.Task.ConfigureAwait(false);
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }
}

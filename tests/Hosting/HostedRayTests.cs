using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace RaySharp.Hosting.Tests;

/// <summary>AddRaySharp in a real Generic Host: RaySharp runs from the host's start to its stop.</summary>
public sealed class HostedRayTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>A host with no configuration sources and no logging providers but the test's own: nothing from the
    /// environment or an appsettings.json in the output directory leaks in.</summary>
    private static IHost BuildHost(Action<HostApplicationBuilder> setup)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        setup(builder);
        return builder.Build();
    }

    [Fact]
    public async Task Starting_the_host_starts_an_embedded_cluster_and_stopping_it_shuts_RaySharp_and_its_workers_down()
    {
        using var host = BuildHost(b => b.Services.AddRaySharp(o => o.NumCpus = 1));
        Assert.False(Ray.IsInitialized);

        await host.StartAsync();
        Assert.True(Ray.IsInitialized);
        Assert.Equal(42, await HostedTasks.Remote.Double(21).AsTask().WaitAsync(Timeout));
        int worker = await HostedTasks.Remote.ProcessId().AsTask().WaitAsync(Timeout);
        Assert.NotEqual(Environment.ProcessId, worker);

        await host.StopAsync();
        Assert.False(Ray.IsInitialized);
        Assert.True(Exited(worker, Timeout), $"worker process {worker} is still running {Timeout.TotalSeconds} s after the host stopped");
    }

    [Fact]
    public async Task Options_are_bound_from_the_RaySharp_section_of_the_host_configuration()
    {
        using var host = BuildHost(b =>
        {
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["RaySharp:LocalMode"] = "true",
                ["RaySharp:NumCpus"] = "3",
                ["RaySharp:Namespace"] = "bound",
                ["RaySharp:ObjectStoreMemory"] = "100000000",
                ["RaySharp:Resources:gadget"] = "2",
                ["RaySharp:RuntimeEnv:EnvVars:HOSTING_GREETING"] = "hello",
            });
            b.Services.AddRaySharp();
        });

        await host.StartAsync();
        try
        {
            var resources = Ray.ClusterResources();
            Assert.Equal(3, resources["CPU"]);
            Assert.Equal(2, resources["gadget"]);
            Assert.Equal(100_000_000, resources["object_store_memory"]);
            Assert.Equal("bound", Ray.GetRuntimeContext().Namespace);
            Assert.Equal("hello", await HostedTasks.Remote.Variable("HOSTING_GREETING").AsTask().WaitAsync(Timeout));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public void Every_option_binds_from_a_section_given_explicitly_and_the_RaySharp_section_is_then_not_read()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:Address"] = "10.0.0.5:6379",
            ["Cluster:NumCpus"] = "1.5",
            ["Cluster:NumGpus"] = "1",
            ["Cluster:Resources:accel"] = "4",
            ["Cluster:ObjectStoreMemory"] = "5000000000",
            ["Cluster:Namespace"] = "explicit",
            ["Cluster:RuntimeEnv:EnvVars:A"] = "1",
            ["Cluster:RuntimeEnv:WorkingDir"] = "/srv/app",
            ["Cluster:LocalMode"] = "false",
            ["Cluster:TempDir"] = "/var/tmp/ray",
            ["RaySharp:Namespace"] = "ignored",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        services.AddRaySharp(configuration.GetSection("Cluster"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<RayOptions>>().Value;

        Assert.Equal("10.0.0.5:6379", options.Address);
        Assert.Equal(1.5, options.NumCpus);
        Assert.Equal(1, options.NumGpus);
        Assert.Equal(4, Assert.Single(options.Resources!).Value);
        Assert.Equal(5_000_000_000, options.ObjectStoreMemory);
        Assert.Equal("explicit", options.Namespace);
        Assert.Equal("1", options.RuntimeEnv!.EnvVars!["A"]);
        Assert.Equal("/srv/app", options.RuntimeEnv.WorkingDir);
        Assert.False(options.LocalMode);
        Assert.Equal("/var/tmp/ray", options.TempDir);
    }

    [Fact]
    public async Task The_runtime_logs_through_the_host_logger_factory_under_the_host_filters()
    {
        var logs = new CapturedLogs();
        using var host = BuildHost(b =>
        {
            b.Logging.AddProvider(logs);
            b.Logging.AddFilter("RaySharp.Core.Raylet", LogLevel.Warning);
            b.Services.AddRaySharp(o => o.LocalMode = true);
        });

        await host.StartAsync();
        await host.StopAsync();

        var lines = logs.Lines;
        Assert.Contains(lines, l => l.Category == "RaySharp.Core.Config" && l.Message.Contains("RaySharp driver", StringComparison.Ordinal)
            && l.Message.Contains("host: the host's filters", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Category.StartsWith("RaySharp.Core.Gcs", StringComparison.Ordinal) && l.Level == LogLevel.Information);
        Assert.Contains(lines, l => l.Category == typeof(RayHostedService).FullName && l.Message.StartsWith("RaySharp started: local mode", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Category == typeof(RayHostedService).FullName && l.Message == "RaySharp shut down");
        // The raylet logs at Information in local mode too; the host's filter holds those lines back.
        Assert.DoesNotContain(lines, l => l.Category.StartsWith("RaySharp.Core.Raylet", StringComparison.Ordinal) && l.Level < LogLevel.Warning);
    }

    [Fact]
    public async Task A_hosted_service_registered_before_RaySharp_can_call_it_from_start_to_stop()
    {
        var user = new CallsRayService();
        using var host = BuildHost(b =>
        {
            b.Services.AddSingleton<IHostedService>(user);
            b.Services.AddRaySharp(o => o.LocalMode = true);
        });

        await host.StartAsync();
        await host.StopAsync();

        Assert.Equal([2, 4], user.Results);
        Assert.False(Ray.IsInitialized);
    }

    /// <summary>Calls a task when the host starts it and again when the host stops it.</summary>
    private sealed class CallsRayService : IHostedService
    {
        public List<int> Results { get; } = [];

        public async Task StartAsync(CancellationToken cancellationToken) =>
            Results.Add(await HostedTasks.Remote.Double(1).AsTask(cancellationToken).WaitAsync(Timeout, cancellationToken));

        public async Task StopAsync(CancellationToken cancellationToken) =>
            Results.Add(await HostedTasks.Remote.Double(2).AsTask(cancellationToken).WaitAsync(Timeout, cancellationToken));
    }

    [Fact]
    public async Task Adding_RaySharp_twice_starts_it_once_with_both_configurations()
    {
        using var host = BuildHost(b =>
        {
            b.Services.AddRaySharp(o =>
            {
                o.LocalMode = true;
                o.NumCpus = 2;
            });
            b.Services.AddRaySharp(o => o.Namespace = "twice");
        });
        Assert.Single(host.Services.GetServices<IHostedService>().OfType<RayHostedService>());

        await host.StartAsync();
        try
        {
            Assert.Equal(2, Ray.ClusterResources()["CPU"]);
            Assert.Equal("twice", Ray.GetRuntimeContext().Namespace);
        }
        finally
        {
            await host.StopAsync();
        }
        Assert.False(Ray.IsInitialized);
    }

    [Fact]
    public async Task An_address_with_no_cluster_behind_it_fails_the_host_start_naming_the_address_and_the_cause()
    {
        // No head node on this machine wrote a token for it (and RAY_AUTH_TOKEN is unset): the driver stops there. The
        // sample's process test covers an address that is refused.
        using var host = BuildHost(b => b.Services.AddRaySharp(o => o.Address = "127.0.0.1:1"));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.StartsWith("RaySharp could not start (joining the cluster at 127.0.0.1:1): Authentication: no cluster token", e.Message,
            StringComparison.Ordinal);
        Assert.NotNull(e.InnerException);
        Assert.False(Ray.IsInitialized);
    }

    [Fact]
    public async Task A_RaySharp_the_program_started_itself_fails_the_host_start_and_is_left_running()
    {
        using var own = Ray.Init(new RayOptions { LocalMode = true, NumCpus = 1 });
        using (var host = BuildHost(b => b.Services.AddRaySharp(o => o.LocalMode = true)))
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
            Assert.Contains("already initialized", e.Message, StringComparison.Ordinal);
            await host.StopAsync();
        }

        Assert.True(Ray.IsInitialized);
        Assert.Equal(8, await HostedTasks.Remote.Double(4).AsTask().WaitAsync(Timeout));
    }

    /// <summary>Leaves the process without RaySharp whatever a failed test left behind.</summary>
    public void Dispose() => Ray.Shutdown();

    private static bool Exited(int pid, TimeSpan timeout)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.WaitForExit(timeout);
        }
        catch (ArgumentException)
        {
            return true; // already gone
        }
    }
}

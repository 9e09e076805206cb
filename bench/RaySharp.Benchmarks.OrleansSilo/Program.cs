using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RaySharp.Benchmarks.OrleansSilo;

// The Orleans silo of the benchmark's Orleans peer: one silo with localhost clustering on two free ports. It writes
// `ready gateway=<port>` on stdout once it accepts clients, and stops when its standard input closes — which
// happens when the benchmark closes it or dies, so a silo never outlives its benchmark. Ctrl+C in the terminal
// reaches the silo too and is ignored: the benchmark, cancelled by it, closes the stdin.

using var ignoreCtrlC = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
int siloPort = FreePort(), gatewayPort = FreePort();
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
// Only warnings and errors, on stderr: stdout carries the ready line.
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning)
    // The watchdog's first check after start reports the machine's uptime as a stall (Orleans 10.4.2), a warning that
    // would land in the middle of the benchmark's table.
    .AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
builder.Services.AddSingleton<IHostLifetime, HostWithoutSignals>();
builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort, gatewayPort,
    serviceId: BenchCluster.ServiceId, clusterId: BenchCluster.ClusterId));
using var host = builder.Build();
await host.StartAsync();
Console.WriteLine($"ready gateway={gatewayPort}");
Console.Out.Flush();

await Console.In.ReadToEndAsync();
using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
await host.StopAsync(stopping.Token);
return 0;

// Orleans binds the ports it is given, so pick ports the OS says are free (another process could take one
// before the silo binds it; the silo then fails to start and the benchmark reports it).
static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

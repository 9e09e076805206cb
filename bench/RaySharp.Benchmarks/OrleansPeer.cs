using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RaySharp.Benchmarks.OrleansSilo;
using RaySharp.Core.Raylet;

namespace RaySharp.Benchmarks;

/// <summary>
/// The Orleans peer: a silo in a child process (<c>RaySharp.Benchmarks.OrleansSilo.dll</c>, next to this assembly) and
/// this process as its external Orleans client, as a RaySharp driver is a client of its actors' processes. Disposing
/// stops the client and closes the silo's stdin, on which the silo exits; a silo still running 10 s later is killed.
/// </summary>
internal sealed class OrleansPeer : IAsyncDisposable
{
    private const string SiloAssembly = "RaySharp.Benchmarks.OrleansSilo.dll";
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _silo;
    private IHost? _client;

    private OrleansPeer(Process silo) => _silo = silo;

    /// <summary>The connected client; grains are activated in the silo on first call.</summary>
    public IClusterClient Client => _client?.Services.GetRequiredService<IClusterClient>() ??
                                    throw new InvalidOperationException("The Orleans client is not connected.");

    public static async Task<OrleansPeer> StartAsync(CancellationToken ct)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, SiloAssembly);
        if (!File.Exists(dll))
            throw new FileNotFoundException($"The Orleans peer needs {SiloAssembly} next to the benchmark (the build output of a " +
                                            "project referencing bench/RaySharp.Benchmarks); run without the Orleans rows (--no-orleans).", dll);
        var start = new ProcessStartInfo(ProcessWorkerLauncher.DotnetHost())
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(dll);
        var peer = new OrleansPeer(Process.Start(start) ?? throw new InvalidOperationException("The Orleans silo did not start."));
        try
        {
            int gateway = await peer.ReadGatewayPortAsync(ct).ConfigureAwait(false);
            await peer.ConnectAsync(gateway, ct).ConfigureAwait(false);
            return peer;
        }
        catch
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits for the silo's <c>ready gateway=PORT</c> line; its errors go to this process's stderr.</summary>
    private async Task<int> ReadGatewayPortAsync(CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(s_startTimeout);
        const string ready = "ready gateway=";
        try
        {
            while (await _silo.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false) is { } line)
            {
                if (!line.StartsWith(ready, StringComparison.Ordinal)) continue;
                // Nothing else is read from the silo's stdout; keep the pipe from filling up.
                _ = _silo.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                return int.Parse(line.AsSpan(ready.Length), NumberStyles.None, CultureInfo.InvariantCulture);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"The Orleans silo (pid {_silo.Id}) was not ready within {s_startTimeout.TotalSeconds:0} s.");
        }
        await _silo.WaitForExitAsync(ct).ConfigureAwait(false);
        throw new InvalidOperationException($"The Orleans silo exited with code {_silo.ExitCode} before it was ready (its errors are above).");
    }

    private async Task ConnectAsync(int gatewayPort, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<IHostLifetime, HostWithoutSignals>();
        builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, serviceId: BenchCluster.ServiceId, clusterId: BenchCluster.ClusterId));
        _client = builder.Build();
        await _client.StartAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is { } client)
        {
            _client = null;
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await client.StopAsync(stopping.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            client.Dispose();
        }
        try { _silo.StandardInput.Close(); }
        catch (IOException) { } // it has exited already
        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await _silo.WaitForExitAsync(exited.Token).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            try { _silo.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // it exited meanwhile
        }
        _silo.Dispose();
    }
}

using Microsoft.Extensions.Hosting;

namespace RaySharp.Benchmarks.OrleansSilo;

/// <summary>
/// A host lifetime that does not listen for Ctrl+C or SIGTERM, as the default console lifetime does to stop the host.
/// The silo stops when the benchmark closes its stdin, not when the terminal's Ctrl+C reaches the whole process group;
/// the benchmark's Orleans client stops when the benchmark disposes it, after the benchmark's own Ctrl+C handling has
/// cancelled the run.
/// </summary>
public sealed class HostWithoutSignals : IHostLifetime
{
    /// <inheritdoc/>
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

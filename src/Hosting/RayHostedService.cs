using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RaySharp.Hosting;

/// <summary>
/// Runs RaySharp for the lifetime of a host: <see cref="Ray.Init"/> before any hosted service starts, and shutdown
/// after every hosted service has stopped, so that background services can call remote code from their first line to
/// their last whatever order they were registered in. The runtime's logs go to the host's logger factory.
/// </summary>
internal sealed partial class RayHostedService(IOptions<RayOptions> options, ILoggerFactory loggerFactory)
    : IHostedLifecycleService, IAsyncDisposable, IDisposable
{
    private readonly ILogger _log = loggerFactory.CreateLogger<RayHostedService>();
    private RayContext? _context;

    /// <summary>Starts RaySharp. <see cref="Ray.Init"/> blocks while it starts a cluster or joins one, so it runs on
    /// the thread pool rather than on the host's startup thread.</summary>
    /// <exception cref="InvalidOperationException">RaySharp could not start; the message names the mode and address and
    /// the inner exception says why. The host does not start.</exception>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var settings = options.Value with { HostLoggerFactory = loggerFactory };
        string mode = Describe(settings);
        try
        {
            // Not cancelled half-way: an Init that is under way finishes, so the context it returns is never lost.
            _context = await Task.Run(() => Ray.Init(settings), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"RaySharp could not start ({mode}): {e.Message}", e);
        }
        LogStarted(mode, _context.JobId, _context.Namespace);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Shuts RaySharp down once every hosted service has stopped. Shutdown is not abandoned when the host's
    /// shutdown timeout passes: it stops the worker processes, which must not outlive the host.</summary>
    public Task StoppedAsync(CancellationToken cancellationToken) => ShutdownAsync();

    /// <summary>Shuts RaySharp down if the host is disposed without being stopped (a later service failed to start).</summary>
    public ValueTask DisposeAsync() => new(ShutdownAsync());

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => Interlocked.Exchange(ref _context, null)?.Dispose();

    private async Task ShutdownAsync()
    {
        // Only the context this service started: a RaySharp that someone else initialized is theirs to shut down.
        if (Interlocked.Exchange(ref _context, null) is not { } context) return;
        await Task.Run(context.Dispose, CancellationToken.None).ConfigureAwait(false);
        LogStopped();
    }

    private static string Describe(RayOptions settings)
    {
        if (settings.LocalMode) return "local mode";
        if (!string.IsNullOrWhiteSpace(settings.Address)) return $"joining the cluster at {settings.Address}";
        return Environment.GetEnvironmentVariable("RAY_ADDRESS") is { Length: > 0 } address
            ? $"joining the cluster at {address} (RAY_ADDRESS)"
            : "embedded single-node cluster";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "RaySharp started: {Mode}, job {JobId}, namespace {Namespace}")]
    private partial void LogStarted(string mode, JobId jobId, string @namespace);

    [LoggerMessage(Level = LogLevel.Information, Message = "RaySharp shut down")]
    private partial void LogStopped();
}

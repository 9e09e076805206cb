using Grpc.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Stats;

/// <summary>
/// Sends this process's metrics to its node's raylet every <c>metrics_report_interval_ms</c> (Ray's workers report to
/// their node's metrics agent the same way), and once more when it stops, so a short-lived worker's counts are not
/// lost. Used by worker processes and by drivers that joined a cluster; a process that hosts its node exports directly.
/// Each report is one unary call carrying cumulative values: a lost one costs freshness, not counts.
/// </summary>
internal sealed partial class MetricsReporter : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Func<MetricFamily[]> _collect;
    private readonly WorkerId _reporter;
    private readonly string _raylet;
    private readonly RayConfig _config;
    private readonly ILogger _logger;

    private MetricsReporter(WorkerId reporter, string raylet, Func<MetricFamily[]> collect, RayConfig config, ILogger logger)
    {
        _reporter = reporter;
        _raylet = raylet;
        _collect = collect;
        _config = config;
        _logger = logger;
        _loop = LoopAsync();
    }

    /// <summary>Starts reporting this process's collector as <paramref name="reporter"/> to the raylet at <paramref name="raylet"/>.</summary>
    public static MetricsReporter Start(WorkerId reporter, string raylet, RayConfig config, ILogger logger) =>
        new(reporter, raylet, MetricsCollector.Process.Collect, config, logger);

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(_config.MetricsReportInterval);
        bool warned = false;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    await SendAsync(_stop.Token).ConfigureAwait(false);
                    warned = false;
                }
                catch (Exception e) when (!_stop.IsCancellationRequested)
                {
                    // The raylet may be restarting or busy: the next report carries everything this one had.
                    if (!warned) LogReportFailed(_logger, _raylet, e.Message);
                    warned = true;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendAsync(CancellationToken ct)
    {
        var families = _collect();
        if (families.Length == 0) return;
        await RpcChannels.Invoker(_raylet, _config).AsyncUnaryCall(NodeManagerService.ReportMetricsMethod, null,
            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct), new MetricsReport(_reporter, families)).ResponseAsync
            .ConfigureAwait(false);
    }

    /// <summary>Stops the loop and sends a last report (waiting at most two seconds for it).</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(1));
            using var last = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            SendAsync(last.Token).Wait(TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is AggregateException or RpcException or OperationCanceledException)
        {
            // The raylet is gone or slow: the node keeps this process's last periodic report.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting metrics to the raylet at {Raylet} failed ({Reason}); retrying at the next interval")]
    private static partial void LogReportFailed(ILogger logger, string raylet, string reason);
}

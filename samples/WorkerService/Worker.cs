using Microsoft.Extensions.Options;
using RaySharp;

namespace WorkerService;

/// <summary>
/// Scores a batch per iteration in a Ray task and adds it to a <see cref="Tally"/> actor, logging each result. RaySharp
/// is running before this service starts (AddRaySharp initializes it first) and until after it stops.
/// </summary>
public sealed partial class Worker(IOptions<WorkerOptions> options, IHostApplicationLifetime lifetime, ILogger<Worker> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        try
        {
            LogCluster(Environment.ProcessId, await Scoring.Remote.ProcessId(), Ray.ClusterResources().GetValueOrDefault("CPU"));
            var tally = Tally.Remote.Create();
            for (int batch = 1; settings.Iterations == 0 || batch <= settings.Iterations; batch++)
            {
                long score = await Scoring.Remote.Score(batch).AsTask(stoppingToken);
                long total = await tally.Add(score).AsTask(stoppingToken);
                LogBatch(batch, score, total);
                await Task.Delay(settings.Interval, stoppingToken);
            }
            LogDone(await tally.Count().AsTask(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping (Ctrl+C, SIGTERM): nothing more to do.
        }
        catch (Exception e)
        {
            LogFailed(e);
            Environment.ExitCode = 1;
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Service pid {ServicePid}; tasks run in pid {WorkerPid}; cluster CPUs {Cpus}")]
    private partial void LogCluster(int servicePid, int workerPid, double cpus);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {Batch}: score {Score}, running total {Total}")]
    private partial void LogBatch(int batch, long score, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scored {Count} batches; stopping")]
    private partial void LogDone(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "The work failed; stopping")]
    private partial void LogFailed(Exception e);
}

using Microsoft.Extensions.Logging;
using RaySharp.Core;
using RaySharp.Core.Logging;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>RAY_* overrides of the configuration and RAY_LOG_LEVEL: what parses applies, what does not keeps the
/// default and says which variable was wrong.</summary>
public sealed class RayConfigTests
{
    private static RayConfig Load(Dictionary<string, string> env, out IReadOnlyList<string> problems) =>
        RayConfig.FromEnvironment(name => env.GetValueOrDefault(name), out problems);

    [Fact]
    public void Without_variables_every_setting_has_its_default()
    {
        var config = Load([], out var problems);
        Assert.Empty(problems);
        Assert.Equal(new RayConfig(), config);
        Assert.Equal(10, config.MaxPendingLeaseRequestsPerSchedulingCategory);
        Assert.Equal(TimeSpan.FromSeconds(3), config.HealthCheckTimeout);
        Assert.Equal(1024L * 1024 * 1024, config.MaxLineageBytes); // Ray's default: 1 GiB
    }

    [Fact]
    public void A_RAY_variable_overrides_its_setting()
    {
        var config = Load(new()
        {
            ["RAY_max_pending_lease_requests_per_scheduling_category"] = "4",
            ["RAY_health_check_period_ms"] = "250",
            ["RAY_health_check_failure_threshold"] = "8",
            ["RAY_grpc_client_keepalive_time_ms"] = "5000",
            ["RAY_scheduler_spread_threshold"] = "0.25",
            ["RAY_gcs_server_request_timeout_seconds"] = "7",
            ["RAY_rpc_max_batch_size"] = " 64 ",
            ["RAY_max_lineage_bytes"] = "1048576",
        }, out var problems);
        Assert.Empty(problems);
        Assert.Equal(4, config.MaxPendingLeaseRequestsPerSchedulingCategory);
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.HealthCheckPeriod);
        Assert.Equal(8, config.HealthCheckFailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(2), config.HealthCheckTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), config.GrpcKeepAliveTime);
        Assert.Equal(0.25, config.SchedulerSpreadThreshold);
        Assert.Equal(TimeSpan.FromSeconds(7), config.GcsRequestTimeout);
        Assert.Equal(64, config.RpcMaxBatchSize);
        Assert.Equal(1024 * 1024, config.MaxLineageBytes);
        Assert.Contains("max_pending_lease_requests_per_scheduling_category=4", config.Describe());
    }

    [Theory]
    [InlineData("RAY_max_spillbacks", "many")]
    [InlineData("RAY_health_check_failure_threshold", "0")]
    [InlineData("RAY_grpc_client_keepalive_time_ms", "-5")]
    [InlineData("RAY_scheduler_spread_threshold", "1.5")]
    [InlineData("RAY_task_max_retries", "3.5")]
    public void A_bad_value_keeps_the_default_and_names_the_variable(string variable, string value)
    {
        var config = Load(new() { [variable] = value, ["RAY_rpc_max_batch_size"] = "32" }, out var problems);
        var problem = Assert.Single(problems);
        Assert.Contains(variable, problem);
        Assert.Contains(value, problem);
        Assert.Equal(new RayConfig() with { RpcMaxBatchSize = 32 }, config);
    }

    [Fact]
    public void Every_setting_is_described_by_its_ray_name()
    {
        string described = new RayConfig().Describe();
        foreach (var name in RayConfig.Names) Assert.Contains(name + "=", described);
        Assert.Contains("max_direct_call_object_size=102400", described);
    }
}

public sealed class LogLevelSettingsTests
{
    [Fact]
    public void Unset_means_the_defaults()
    {
        var s = LogLevelSettings.Parse(null);
        Assert.Null(s.Default);
        Assert.Empty(s.Categories);
        Assert.Empty(s.Problems);
    }

    [Theory]
    [InlineData("debug", LogLevel.Debug)]
    [InlineData("INFO", LogLevel.Information)]
    [InlineData("Warning", LogLevel.Warning)]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("error", LogLevel.Error)]
    public void A_level_alone_is_the_minimum_for_every_category(string value, LogLevel expected)
    {
        var s = LogLevelSettings.Parse(value);
        Assert.Equal(expected, s.Default);
        Assert.Empty(s.Categories);
        Assert.Empty(s.Problems);
    }

    [Fact]
    public void Categories_get_their_own_levels()
    {
        var s = LogLevelSettings.Parse("info, RaySharp.Core.Raylet=debug,Microsoft.AspNetCore=Error");
        Assert.Equal(LogLevel.Information, s.Default);
        Assert.Equal([new("RaySharp.Core.Raylet", LogLevel.Debug), new("Microsoft.AspNetCore", LogLevel.Error)], s.Categories);
        Assert.Empty(s.Problems);
    }

    [Fact]
    public void A_bad_value_is_reported_by_name_and_the_rest_applies()
    {
        var s = LogLevelSettings.Parse("verbose,RaySharp.Core.Gcs=debug,=info,RaySharp.Core.Raylet=loud");
        Assert.Null(s.Default);
        Assert.Equal([new("RaySharp.Core.Gcs", LogLevel.Debug)], s.Categories);
        Assert.Equal(3, s.Problems.Count);
        Assert.Contains("'verbose'", s.Problems[0]);
        Assert.Contains("RAY_LOG_LEVEL", s.Problems[0]);
        Assert.Contains("'loud'", s.Problems[2]);
    }

    [Fact]
    public void The_factory_applies_the_levels_per_category_and_reports_bad_values_in_the_file()
    {
        string dir = Path.Combine(Path.GetTempPath(), "raysharp-logtest-" + Guid.NewGuid().ToString("N"));
        try
        {
            string file = Path.Combine(dir, "logs", "test.log");
            using (var loggers = RayLogging.CreateFactory(new LogDestinations(file), LogLevelSettings.Parse("warning,RaySharp.Core.Raylet=debug,bogus")))
            {
                var raylet = loggers.CreateLogger("RaySharp.Core.Raylet.NodeManager");
                var gcs = loggers.CreateLogger("RaySharp.Core.Gcs.GcsNodeManager");
                var kestrel = loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel");
                Assert.True(raylet.IsEnabled(LogLevel.Debug));
                Assert.False(gcs.IsEnabled(LogLevel.Information));
                Assert.True(gcs.IsEnabled(LogLevel.Warning));
                Assert.False(kestrel.IsEnabled(LogLevel.Information));
                raylet.LogDebug("raylet detail {N}", 1);
                gcs.LogInformation("gcs chatter");
            }
            string text = File.ReadAllText(file);
            Assert.Contains("RaySharp.Core.Raylet.NodeManager: raylet detail 1", text);
            Assert.DoesNotContain("gcs chatter", text);
            Assert.Contains("'bogus'", text);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Without_RAY_LOG_LEVEL_files_get_information_and_the_console_warnings()
    {
        string dir = Path.Combine(Path.GetTempPath(), "raysharp-logtest-" + Guid.NewGuid().ToString("N"));
        try
        {
            string file = Path.Combine(dir, "default.log");
            using (var loggers = RayLogging.CreateFactory(new LogDestinations(file), LogLevelSettings.None))
            {
                var log = loggers.CreateLogger("RaySharp.Core.CoreWorker");
                Assert.True(log.IsEnabled(LogLevel.Information));
                Assert.False(log.IsEnabled(LogLevel.Debug));
                log.LogInformation("to the file only");
            }
            Assert.Contains("to the file only", File.ReadAllText(file));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public sealed class FileLoggerProviderTests
{
    [Fact]
    public void Lines_are_buffered_and_on_disk_after_dispose_routed_by_category()
    {
        string dir = Path.Combine(Path.GetTempPath(), "raysharp-logtest-" + Guid.NewGuid().ToString("N"));
        try
        {
            string main = Path.Combine(dir, "raylet.log"), gcs = Path.Combine(dir, "raysharp-gcs.log");
            var provider = new FileLoggerProvider(main, [new("RaySharp.Core.Gcs", gcs)], flushPeriod: TimeSpan.FromHours(1));
            var raylet = provider.CreateLogger("RaySharp.Core.Raylet.NodeManager");
            var actors = provider.CreateLogger("RaySharp.Core.Gcs.GcsActorManager");
            Parallel.For(0, 200, i => raylet.LogInformation("line {I}", i));
            actors.LogWarning(new InvalidOperationException("boom"), "actor {Name} failed", "a");
            provider.Dispose();

            var lines = File.ReadAllLines(main);
            Assert.Equal(200, lines.Length);
            Assert.All(lines, l => Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} I \d+ RaySharp\.Core\.Raylet\.NodeManager: line \d+$", l));
            string gcsText = File.ReadAllText(gcs);
            Assert.Contains("W", gcsText);
            Assert.Contains("actor a failed", gcsText);
            Assert.Contains("InvalidOperationException: boom", gcsText);
            // After dispose, logging is a no-op rather than an exception.
            raylet.LogError("after dispose");
            Assert.DoesNotContain("after dispose", File.ReadAllText(main));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Errors_are_flushed_at_once_and_the_rest_periodically()
    {
        string dir = Path.Combine(Path.GetTempPath(), "raysharp-logtest-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(dir, "w.log");
            using var provider = new FileLoggerProvider(path, flushPeriod: TimeSpan.FromMilliseconds(50));
            var log = provider.CreateLogger("c");
            log.LogError("right away");
            Assert.Contains("right away", ReadShared(path));
            log.LogInformation("soon");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!ReadShared(path).Contains("soon", StringComparison.Ordinal) && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.Contains("soon", ReadShared(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_file_that_cannot_be_opened_drops_lines_without_throwing()
    {
        string blocker = Path.Combine(Path.GetTempPath(), "raysharp-logtest-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(blocker, "a file where a directory should be");
        try
        {
            using var provider = new FileLoggerProvider(Path.Combine(blocker, "sub", "x.log"));
            var log = provider.CreateLogger("c");
            Assert.False(log.IsEnabled(LogLevel.Error));
            log.LogError("dropped");
        }
        finally
        {
            File.Delete(blocker);
        }
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }
}

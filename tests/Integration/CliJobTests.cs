using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace RaySharp.Integration;

/// <summary>`raysharp job ...` against a head started with `raysharp start --head`, as a user runs them.</summary>
public sealed partial class CliJobTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "rs-clijob-" + Guid.NewGuid().ToString("N")[..8]);

    public CliJobTests() => Directory.CreateDirectory(_temp);

    private (int ExitCode, string Output) Raysharp(params string[] args) => RaysharpCommand.Run(_temp, args);

    [Fact]
    public void Job_submit_prints_the_output_and_exits_0_and_status_says_succeeded()
    {
        var head = Raysharp("start", "--head", "--port", "0", "--num-cpus", "1", "--dashboard-port", "0");
        Assert.True(head.ExitCode == 0, head.Output);
        try
        {
            string url = DashboardPattern().Match(head.Output).Groups[1].Value;
            Assert.StartsWith("http://127.0.0.1:", url, StringComparison.Ordinal);
            string driver = Path.Combine(AppContext.BaseDirectory, "RaySharp.Integration.Driver.dll");
            var submit = Raysharp("job", "submit", "--address", url, "--submission-id", "cli-ok", "--env", "GREETING=hello", "--",
                Core.Raylet.ProcessWorkerLauncher.DotnetHost(), "exec", driver, "\"$RAY_ADDRESS\"", "print", "cli-marker", "&&", "echo", "\"$GREETING\"");
            Assert.True(submit.ExitCode == 0, submit.Output);
            Assert.Contains("Job 'cli-ok' submitted.", submit.Output, StringComparison.Ordinal);
            Assert.Contains("printed by pid", submit.Output, StringComparison.Ordinal);
            Assert.Contains("hello", submit.Output, StringComparison.Ordinal);
            var status = Raysharp("job", "status", "cli-ok", "--address", url);
            Assert.True(status.ExitCode == 0, status.Output);
            Assert.Contains("cli-ok  SUCCEEDED (exit code 0)", status.Output, StringComparison.Ordinal);
            var statusJson = Raysharp("job", "status", "cli-ok", "--address", url, "--format", "json");
            Assert.True(statusJson.ExitCode == 0, statusJson.Output);
            using (var doc = JsonDocument.Parse(statusJson.Output))
            {
                Assert.Equal("cli-ok", doc.RootElement.GetProperty("submission_id").GetString());
                Assert.Equal("SUCCEEDED", doc.RootElement.GetProperty("status").GetString());
                Assert.Equal(0, doc.RootElement.GetProperty("driver_exit_code").GetInt32());
            }

            var failing = Raysharp("job", "submit", "--address", url, "--", "exit", "3");
            Assert.Equal(1, failing.ExitCode);
            Assert.Contains("FAILED (exit code 3)", failing.Output, StringComparison.Ordinal);
            Assert.Contains("cli-ok", Raysharp("job", "list", "--address", url).Output, StringComparison.Ordinal);
            using (var doc = JsonDocument.Parse(Raysharp("job", "list", "--address", url, "--format", "json").Output))
            {
                var jobs = doc.RootElement.EnumerateArray().ToList();
                Assert.Equal(2, jobs.Count);
                Assert.Contains(jobs, j => j.GetProperty("submission_id").GetString() == "cli-ok" && j.GetProperty("status").GetString() == "SUCCEEDED");
                Assert.Contains(jobs, j => j.GetProperty("status").GetString() == "FAILED" && j.GetProperty("driver_exit_code").GetInt32() == 3);
            }
            var unknown = Raysharp("job", "status", "nope", "--address", url);
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("No job 'nope'", unknown.Output, StringComparison.Ordinal);
        }
        finally
        {
            Raysharp("stop");
        }
    }

    [Fact]
    public void Bad_job_input_exits_2_with_one_line()
    {
        var noEntrypoint = Raysharp("job", "submit", "--address", "http://127.0.0.1:1");
        Assert.Equal(2, noEntrypoint.ExitCode);
        Assert.Single(noEntrypoint.Output.Trim().Split('\n'));
        var badEnv = Raysharp("job", "submit", "--address", "http://127.0.0.1:1", "--env", "NOEQUALS", "--", "true");
        Assert.Equal(2, badEnv.ExitCode);
        Assert.Contains("--env takes KEY=VALUE", badEnv.Output, StringComparison.Ordinal);
        Assert.Equal(2, Raysharp("job", "frobnicate").ExitCode);
    }

    [GeneratedRegex(@"The dashboard serves at (http://\S+):")]
    private static partial Regex DashboardPattern();

    public void Dispose()
    {
        try { Directory.Delete(_temp, recursive: true); } catch (IOException) { }
    }
}

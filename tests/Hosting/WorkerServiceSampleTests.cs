using System.Diagnostics;
using RaySharp.Core.Raylet;
using Xunit;

namespace RaySharp.Hosting.Tests;

/// <summary>samples/WorkerService run as a process of its own, as <c>dotnet run --project samples/WorkerService</c> runs
/// it: from its build output, here copied into this project's.</summary>
public sealed class WorkerServiceSampleTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public void The_sample_runs_its_iterations_on_an_embedded_cluster_and_exits_with_0()
    {
        var (exitCode, output) = RunSample(new() { ["Worker__Iterations"] = "2", ["Worker__Interval"] = "00:00:00.010" });

        Assert.True(exitCode == 0, $"the sample exited with {exitCode}:\n{output}");
        // "worker-sample" comes from the sample's appsettings.json.
        Assert.Contains("RaySharp started: embedded single-node cluster, job", output, StringComparison.Ordinal);
        Assert.Contains("namespace worker-sample", output, StringComparison.Ordinal);
        Assert.Contains("Batch 1: score 47025, running total 47025", output, StringComparison.Ordinal);
        Assert.Contains("Batch 2: score 47490, running total 94515", output, StringComparison.Ordinal);
        Assert.Contains("Scored 2 batches; stopping", output, StringComparison.Ordinal);
        Assert.Contains("RaySharp shut down", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Batch 3", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sample_fails_to_start_with_a_non_zero_exit_code_when_its_cluster_cannot_be_reached()
    {
        // With a cluster token the driver goes as far as calling the GCS, which nothing listens for.
        var (exitCode, output) = RunSample(new() { ["RaySharp__Address"] = "127.0.0.1:1", ["RAY_AUTH_TOKEN"] = "hosting-test-token" });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("RaySharp could not start (joining the cluster at 127.0.0.1:1): Cannot reach the RaySharp cluster at '127.0.0.1:1'", output,
            StringComparison.Ordinal);
        Assert.DoesNotContain("Batch 1", output, StringComparison.Ordinal);
    }

    /// <summary>Runs the sample with <paramref name="environment"/> added and returns its exit code and its standard
    /// output and error; kills it (and its workers) if it has not exited within <see cref="Limit"/>.</summary>
    private static (int ExitCode, string Output) RunSample(Dictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo(ProcessWorkerLauncher.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "WorkerService.dll"));
        psi.Environment.Remove("RAY_ADDRESS");
        psi.Environment.Remove("RAY_AUTH_TOKEN");
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var process = Process.Start(psi)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(Limit), $"the sample is still running after {Limit.TotalSeconds} s");
            process.WaitForExit(); // the output streams are read to their end
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}

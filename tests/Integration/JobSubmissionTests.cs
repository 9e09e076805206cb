using System.Diagnostics;
using System.Net;
using RaySharp.Jobs;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

/// <summary>A two-node cluster whose head serves the dashboard: the jobs REST API, a job supervisor actor per job.
/// The second node has the resource <c>remote</c>, which only it can serve.</summary>
public sealed class DashboardCluster : IDisposable
{
    public DashboardCluster()
    {
        Cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2, IncludeDashboard = true });
        try
        {
            Cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["remote"] = 1 });
        }
        catch
        {
            Cluster.Dispose();
            throw;
        }
    }

    public TestCluster Cluster { get; }

    public string Url => Cluster.DashboardUrl ?? throw new InvalidOperationException("The head has no dashboard.");

    public void Dispose() => Cluster.Dispose();
}

public sealed class JobSubmissionTests(DashboardCluster fixture) : IClassFixture<DashboardCluster>
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(90);

    /// <summary>The test driver's build output, run by the job as <c>dotnet exec</c>.</summary>
    private static string Driver(string args) =>
        $"'{Core.Raylet.ProcessWorkerLauncher.DotnetHost()}' exec '{Path.Combine(AppContext.BaseDirectory, "RaySharp.Integration.Driver.dll")}' \"$RAY_ADDRESS\" {args}";

    private static async Task<JobDetails> WaitForEndAsync(JobSubmissionClient jobs, string id)
    {
        var until = DateTime.UtcNow + s_deadline;
        while (true)
        {
            var info = await jobs.GetJobInfoAsync(id);
            if (info.Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Stopped) return info;
            Assert.True(DateTime.UtcNow < until, $"job {id} still {info.Status} after {s_deadline}: {await jobs.GetJobLogsAsync(id)}");
            await Task.Delay(100); // polling the job's status until it ends
        }
    }

    [Fact]
    public async Task A_submitted_job_runs_its_entrypoint_as_a_driver_and_succeeds()
    {
        using var jobs = new JobSubmissionClient(fixture.Url);
        string id = await jobs.SubmitJobAsync(new JobSubmission
        {
            Entrypoint = Driver("print job-marker-1") + " && echo \"env=$JOB_FLAVOUR\"",
            RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["JOB_FLAVOUR"] = "plain" } },
            Metadata = new Dictionary<string, string> { ["owner"] = "tests" },
        });
        var lines = new List<string>();
        using var cts = new CancellationTokenSource(s_deadline);
        await foreach (var line in jobs.TailJobLogsAsync(id, cts.Token)) lines.Add(line);
        var info = await jobs.GetJobInfoAsync(id);
        Assert.True(info.Status == JobStatus.Succeeded, $"{info.Status}: {info.Message}\n{string.Join('\n', lines)}");
        Assert.Equal(0, info.DriverExitCode);
        Assert.Contains(lines, l => l.Contains("printed by pid", StringComparison.Ordinal));
        Assert.Contains("env=plain", lines);
        Assert.Equal("tests", info.Metadata!["owner"]);
        Assert.NotNull(info.EndTime);
        Assert.Contains("printed by pid", await jobs.GetJobLogsAsync(id), StringComparison.Ordinal);
        Assert.Contains(await jobs.ListJobsAsync(), j => j.SubmissionId == id);
    }

    [Fact]
    public async Task A_failing_entrypoint_fails_with_its_exit_code()
    {
        using var jobs = new JobSubmissionClient(fixture.Url);
        string id = await jobs.SubmitJobAsync(new JobSubmission { Entrypoint = "echo going down; exit 7" });
        var info = await WaitForEndAsync(jobs, id);
        Assert.Equal(JobStatus.Failed, info.Status);
        Assert.Equal(7, info.DriverExitCode);
        Assert.Contains("going down", await jobs.GetJobLogsAsync(id), StringComparison.Ordinal);
        Assert.True(await jobs.DeleteJobAsync(id));
        await Assert.ThrowsAsync<JobNotFoundException>(() => jobs.GetJobStatusAsync(id));
    }

    [Fact]
    public async Task A_stopped_job_ends_stopped_and_its_process_group_is_gone()
    {
        using var jobs = new JobSubmissionClient(fixture.Url);
        string id = await jobs.SubmitJobAsync(new JobSubmission { Entrypoint = "echo started; sleep 600 & wait" });
        var until = DateTime.UtcNow + s_deadline;
        while (!(await jobs.GetJobLogsAsync(id)).Contains("started", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < until, $"job {id} never started: {(await jobs.GetJobInfoAsync(id)).Message}");
            await Task.Delay(100); // polling the job's log for its first line
        }
        await Assert.ThrowsAsync<InvalidOperationException>(() => jobs.DeleteJobAsync(id)); // still running
        Assert.True(await jobs.StopJobAsync(id));
        var info = await WaitForEndAsync(jobs, id);
        Assert.Equal(JobStatus.Stopped, info.Status);
        Assert.False(await jobs.StopJobAsync(id));
    }

    [Fact]
    public async Task Unknown_and_duplicate_ids_are_refused()
    {
        using var jobs = new JobSubmissionClient(fixture.Url);
        await Assert.ThrowsAsync<JobNotFoundException>(() => jobs.GetJobInfoAsync("no-such-job"));
        await Assert.ThrowsAsync<JobNotFoundException>(() => jobs.StopJobAsync("no-such-job"));
        string id = "dup-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(id, await jobs.SubmitJobAsync(new JobSubmission { Entrypoint = "true", SubmissionId = id }));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => jobs.SubmitJobAsync(new JobSubmission { Entrypoint = "true", SubmissionId = id }));
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => jobs.SubmitJobAsync(new JobSubmission { Entrypoint = "true", SubmissionId = "../evil" }));
    }

    [Fact]
    public async Task A_call_that_changes_state_without_the_cluster_token_is_refused_with_401()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Url) };
        using var post = await http.PostAsync("/api/jobs/", new StringContent("{\"entrypoint\":\"true\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/jobs/x/stop");
        wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-the-token");
        using var refused = await http.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var list = await http.GetAsync("/api/jobs/");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        // The refusal is logged (the log file is flushed periodically: poll it).
        string path = Path.Combine(fixture.Cluster.SessionDir, "logs", "dashboard.log");
        var until = DateTime.UtcNow.AddSeconds(20);
        while (!(File.Exists(path) && ReadShared(path).Contains("Refused POST /api/jobs/ from", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < until, "the dashboard did not log the refused call");
            await Task.Delay(100);
        }
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    [Fact]
    public async Task A_job_whose_code_is_only_in_its_working_dir_runs_tasks_on_another_node()
    {
        // The driver's build output copied to a directory that is deleted once uploaded: the job, its supervisor and
        // the second node's worker can only get the code from the package in the GCS.
        string copy = Path.Combine(Path.GetTempPath(), "raysharp-wd-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            if (Path.GetFileName(file) is "RaySharp.Runtime.dll" or "RaySharp.Integration.Driver.dll" or "MemoryPack.Core.dll" ||
                Path.GetFileName(file).StartsWith("Grpc.", StringComparison.Ordinal) || Path.GetFileName(file).StartsWith("Google.", StringComparison.Ordinal) ||
                Path.GetFileName(file).StartsWith("StackExchange.", StringComparison.Ordinal) || Path.GetFileName(file).StartsWith("Pipelines.", StringComparison.Ordinal) ||
                Path.GetFileName(file).StartsWith("Microsoft.Extensions.", StringComparison.Ordinal))
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(copy, "RaySharp.Integration.Driver.runtimeconfig.json"),
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "RaySharp.Integration.Driver.runtimeconfig.json")));
        using var jobs = new JobSubmissionClient(fixture.Url);
        string id;
        try
        {
            id = await jobs.SubmitJobAsync(new JobSubmission
            {
                Entrypoint = $"'{Core.Raylet.ProcessWorkerLauncher.DotnetHost()}' RaySharp.Integration.Driver.dll \"$RAY_ADDRESS\" where remote",
                RuntimeEnv = new RuntimeEnv { WorkingDir = copy },
            });
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
        var info = await WaitForEndAsync(jobs, id);
        string logs = await jobs.GetJobLogsAsync(id);
        Assert.True(info.Status == JobStatus.Succeeded, $"{info.Status}: {info.Message}\n{logs}");
        string unpacked = Path.Combine(fixture.Cluster.SessionDir, "runtime_resources", "working_dir_files");
        Assert.Contains($"task ran from {unpacked}", logs, StringComparison.Ordinal);
        Assert.DoesNotContain(copy, logs, StringComparison.Ordinal);
    }
}

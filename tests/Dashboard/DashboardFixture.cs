using System.Text.Json.Nodes;
using RaySharp.Jobs;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Dashboard.Tests;

/// <summary>A one-node cluster whose head serves the dashboard, shared by every test of the collection (they run one after
/// another: the live-update tests count the browsers watching).</summary>
public sealed class DashboardFixture : IDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly Lazy<Task<JobWorkload>> _workload;

    public DashboardFixture()
    {
        Cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2, IncludeDashboard = true });
        if (Cluster.DashboardUrl is null)
        {
            Cluster.Dispose();
            throw new InvalidOperationException("The head started without its dashboard.");
        }
        Http = new HttpClient { BaseAddress = new Uri(Cluster.DashboardUrl), Timeout = TimeSpan.FromSeconds(60) };
        _workload = new(RunWorkloadAsync);
    }

    public TestCluster Cluster { get; }

    public HttpClient Http { get; }

    public string Url => Cluster.DashboardUrl ?? throw new InvalidOperationException("The head has no dashboard.");

    /// <summary>The cluster token, as a person finds it in the head's session directory.</summary>
    public string Token => File.ReadAllText(Path.Combine(Cluster.SessionDir, Core.ClusterToken.FileName)).Trim();

    /// <summary>A submitted job (run once for the collection) whose driver creates the detached actor
    /// <see cref="JobWorkload.ActorName"/>, calls it, runs a task, and echoes markup that the UI must show as text.</summary>
    public Task<JobWorkload> Workload => _workload.Value;

    public sealed record JobWorkload(string SubmissionId, string ActorName, string Marker, string Entrypoint);

    public const string Markup = "<img src=x id=injected>";

    /// <summary>The test driver's build output, run by a job as <c>dotnet exec</c>.</summary>
    public static string Driver(string args) =>
        $"'{Core.Raylet.ProcessWorkerLauncher.DotnetHost()}' exec '{Path.Combine(AppContext.BaseDirectory, "RaySharp.Integration.Driver.dll")}' \"$RAY_ADDRESS\" {args}";

    private async Task<JobWorkload> RunWorkloadAsync()
    {
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string actor = "ui-keeper-" + suffix, marker = "ui-marker-" + suffix;
        string entrypoint = $"{Driver("create-detached " + actor)} && {Driver("print " + marker)} && echo '{Markup}'";
        using var jobs = new JobSubmissionClient(Url);
        string id = await jobs.SubmitJobAsync(new JobSubmission { Entrypoint = entrypoint });
        var info = await WaitForJobAsync(jobs, id, s => s is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Stopped);
        Assert.True(info.Status == JobStatus.Succeeded, $"the workload job ended {info.Status}: {info.Message}\n{await jobs.GetJobLogsAsync(id)}");
        return new JobWorkload(id, actor, marker, entrypoint);
    }

    public static async Task<JobDetails> WaitForJobAsync(JobSubmissionClient jobs, string id, Func<JobStatus, bool> done)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            var info = await jobs.GetJobInfoAsync(id);
            if (done(info.Status)) return info;
            Assert.True(DateTime.UtcNow < until, $"job {id} still {info.Status} after {Deadline}: {await jobs.GetJobLogsAsync(id)}");
            await Task.Delay(100); // polling the job's status for the awaited one
        }
    }

    /// <summary>GET <paramref name="path"/>: its status and its body parsed as JSON.</summary>
    public async Task<(System.Net.HttpStatusCode Status, JsonNode Body)> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text) ?? throw new InvalidOperationException($"GET {path} answered no JSON: {text}"));
    }

    /// <summary>GETs <paramref name="path"/> until its JSON satisfies <paramref name="ready"/>: task events reach the GCS in
    /// batches, so a row may show its end before the worker's own event (with its pid) has arrived.</summary>
    public async Task<JsonNode> GetJsonUntilAsync(string path, Func<JsonNode, bool> ready, string what)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            var (_, body) = await GetJsonAsync(path);
            if (ready(body)) return body;
            Assert.True(DateTime.UtcNow < until, $"GET {path} never showed {what}: {body.ToJsonString()}");
            await Task.Delay(200); // polling for the next batch of task events
        }
    }

    public void Dispose()
    {
        Http.Dispose();
        Cluster.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>
{
    public const string Name = "dashboard";
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using RaySharp.Cli;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

public static partial class Observed
{
    [RayRemote]
    public static int Square(int i) => i * i;

    /// <summary>The trace the task ran in, as the worker sees it: its trace ID and its parent span's ID.</summary>
    [RayRemote]
    public static (string TraceId, string ParentSpanId) Trace() =>
        (Activity.Current?.TraceId.ToHexString() ?? "", Activity.Current?.ParentSpanId.ToHexString() ?? "");

    /// <summary>Writes <paramref name="count"/> numbered lines at once; returns the worker's ID and pid.</summary>
    [RayRemote]
    public static (string WorkerId, int Pid) Print(string marker, int count)
    {
        for (int i = 0; i < count; i++) Console.WriteLine($"{marker} {i}");
        Console.Out.Flush();
        return (Ray.GetRuntimeContext().WorkerId.ToString(), Environment.ProcessId);
    }
}

[RayRemote]
public partial class Talker
{
    public Task<int> Say(string line)
    {
        Console.WriteLine(line);
        Console.Out.Flush();
        return Task.FromResult(Environment.ProcessId);
    }
}

/// <summary>A two-node cluster whose workers and drivers report metrics every 200 ms (instead of Ray's 10 s).</summary>
public sealed class ObservedCluster : IDisposable
{
    private const string Interval = "RAY_metrics_report_interval_ms";
    private readonly string? _previous = Environment.GetEnvironmentVariable(Interval);

    public ObservedCluster()
    {
        // The nodes and their workers inherit it; so does this process's driver.
        Environment.SetEnvironmentVariable(Interval, "200");
        Cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 2 });
        try
        {
            Other = Cluster.AddNode(numCpus: 1);
            Cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
        }
        catch
        {
            Cluster.Dispose();
            Environment.SetEnvironmentVariable(Interval, _previous);
            throw;
        }
    }

    public TestCluster Cluster { get; }
    public TestNode Other { get; }

    public void Dispose()
    {
        Cluster.Dispose();
        Environment.SetEnvironmentVariable(Interval, _previous);
    }
}

/// <summary>Metrics, traces and logs of a real cluster as a user reads them: a node's <c>/metrics</c> over HTTP, the
/// cluster's aggregated text, a task's span in the driver's trace, worker output at the driver, <c>raysharp logs</c>.</summary>
public sealed partial class ObservabilityTests : IClassFixture<ObservedCluster>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ObservedCluster _fixture;
    private readonly RayContext _ray;
    private readonly GcsClient _gcs;

    public ObservabilityTests(ObservedCluster fixture)
    {
        _fixture = fixture;
        _ray = Ray.Init(new RayOptions { Address = fixture.Cluster.Address });
        _gcs = new GcsClient(fixture.Cluster.Address, fixture.Cluster.Config);
    }

    public void Dispose() => _ray.Dispose();

    private TestCluster Cluster => _fixture.Cluster;

    private string MetricsUrl(NodeId node)
    {
        var record = _gcs.GetAllNodes().Nodes.Single(n => n.NodeId == node);
        Assert.True(record.MetricsExportPort > 0, $"node {node} advertises no metrics port");
        return $"http://{ClusterMetrics.HostOf(record.RayletEndpoint)}:{record.MetricsExportPort}/metrics";
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex Sample();

    /// <summary>The value of the sample <paramref name="name"/> whose labels include all of <paramref name="labels"/>
    /// (summed over the matching series), or null when there is none.</summary>
    private static double? Value(string text, string name, params string[] labels)
    {
        double? sum = null;
        foreach (Match m in Sample().Matches(text))
        {
            if (m.Groups["name"].Value != name) continue;
            string present = m.Groups["labels"].Value;
            if (!labels.All(l => present.Split(',').Contains(l))) continue;
            sum = (sum ?? 0) + double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return sum;
    }

    private static T WaitFor<T>(Func<T?> probe, string what) where T : class
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (probe() is { } found) return found;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Within {Timeout.TotalSeconds} s: {what}");
            Thread.Sleep(100); // polling an HTTP endpoint or a file: nothing to wait on
        }
    }

    [Fact]
    public void A_nodes_metrics_endpoint_counts_the_tasks_its_workers_ran_and_its_driver_submitted()
    {
        var head = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(Cluster.Head.NodeId) };
        var refs = Enumerable.Range(0, 20).Select(i => Observed.Remote.WithOptions(head).Square(i)).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Sum(i => i * i), refs.Sum(r => r.Get(Timeout)));

        // Workers and the driver report every 200 ms: the counts arrive at the head's export shortly.
        string url = MetricsUrl(Cluster.Head.NodeId);
        string text = WaitFor(() =>
        {
            string t = s_http.GetStringAsync(url).GetAwaiter().GetResult();
            return Value(t, "raysharp_task_executions_total", "outcome=\"ok\"", "type=\"normal_task\"") >= 20
                && Value(t, "raysharp_tasks_total", "state=\"finished\"", "type=\"normal_task\"") >= 20 ? t : null;
        }, "the head's /metrics counts 20 finished tasks");

        Assert.True(Value(text, "raysharp_tasks_total", "state=\"submitted\"", "type=\"normal_task\"") >= 20);
        Assert.True(Value(text, "raysharp_leases_total", "outcome=\"granted\"") >= 1);
        Assert.True(Value(text, "raysharp_task_latency_seconds_count", "type=\"normal_task\"") >= 20);
        Assert.True(Value(text, "raysharp_task_execution_time_seconds_bucket", "le=\"+Inf\"", "type=\"normal_task\"") >= 20);
        Assert.True(Value(text, "raysharp_workers", "state=\"alive\"") >= 1);
        Assert.NotNull(Value(text, "raysharp_object_store_memory_bytes", "kind=\"capacity\""));
        Assert.True(Value(text, "raysharp_rpc_calls_total", "side=\"server\"") >= 1);
        Assert.NotNull(Value(text, "raysharp_actors", "state=\"alive\""));
        Assert.True(Value(text, "raysharp_gcs_nodes", "state=\"alive\"") >= 2);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#')) Assert.Matches(@"^# (HELP|TYPE) raysharp_[a-z0-9_]+ ", line);
            else Assert.Matches(@"^raysharp_[a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=""([^""\\]|\\.)*"",?)*\})? [-+0-9.eEInfNa]+$", line);
        }

        // The cluster's text: every node's samples, each labelled with its node.
        string cluster = ClusterMetrics.ScrapeAllAsync(_gcs).GetAwaiter().GetResult();
        foreach (var node in Cluster.Nodes)
            Assert.Contains($"raysharp_workers{{node_id=\"{node.NodeId}\"", cluster);
        Assert.Single(Regex.Matches(cluster, "^# TYPE raysharp_tasks_total counter$", RegexOptions.Multiline));
    }

    [Fact]
    public void A_tasks_execute_span_in_the_worker_belongs_to_the_drivers_trace()
    {
        var started = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == RayTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = started.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        using var root = new Activity("test request").SetIdFormat(ActivityIdFormat.W3C).Start();

        var other = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(_fixture.Other.NodeId) };
        var (traceId, parentSpanId) = Observed.Remote.WithOptions(other).Trace().Get(Timeout);

        var submit = Assert.Single(started, a => a.OperationName == RayTracing.SubmitTask && a.TraceId == root.TraceId);
        Assert.Equal(root.TraceId.ToHexString(), traceId);
        Assert.Equal(submit.SpanId.ToHexString(), parentSpanId);
    }

    [Fact]
    public void A_workers_console_output_reaches_the_driver_in_batches_with_its_prefix()
    {
        var jobId = Ray.GetRuntimeContext().JobId;
        var batches = new ConcurrentQueue<LogBatch>();
        using var cts = new CancellationTokenSource(Timeout);
        var subscribed = Task.Run(async () =>
        {
            try
            {
                await foreach (var b in _gcs.SubscribeLogs(jobId, cts.Token)) batches.Enqueue(b);
            }
            catch (Exception e) when (e is OperationCanceledException or Grpc.Core.RpcException)
            {
            }
        });
        string marker = "batched-" + Guid.NewGuid().ToString("N")[..8];
        // The subscription is in place once a first printed line comes through.
        int pid = 0;
        WaitFor(() =>
        {
            pid = Observed.Remote.Print(marker + "-probe", 1).Get(Timeout).Pid;
            return batches.Any(b => b.Lines.Any(l => l.StartsWith(marker + "-probe", StringComparison.Ordinal))) ? "" : null;
        }, "a worker's line reaches the log subscription");

        var (_, printer) = Observed.Remote.Print(marker, 50).Get(Timeout);
        WaitFor(() => batches.SelectMany(b => b.Lines).Count(l => l.StartsWith(marker + " ", StringComparison.Ordinal)) == 50 ? "" : null,
            "all 50 lines reach the driver");
        var ours = batches.Where(b => b.Lines.Any(l => l.StartsWith(marker + " ", StringComparison.Ordinal))).ToList();
        Assert.True(ours.Count < 50, $"50 lines written at once came in {ours.Count} batches");
        // In order; a probe printed late by the same worker may share a batch with them.
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"{marker} {i}"),
            ours.SelectMany(b => b.Lines).Where(l => l.StartsWith(marker + " ", StringComparison.Ordinal)));
        Assert.All(ours, b => Assert.Matches($@"^\(pid={printer}, ip=127\.0\.0\.1, node=[0-9a-f]{{8}}\)$", b.Prefix));
        Assert.False(ours[0].IsError);
        cts.Cancel();
        subscribed.Wait(TimeSpan.FromSeconds(10));
    }

    private (int Code, string Output) Logs(params string[] args)
    {
        var output = new StringWriter();
        int code = Commands.RunAsync(["logs", .. args, "--address", Cluster.Address, "--auth-token", Cluster.Config.AuthToken!.Value], output, output)
            .GetAwaiter().GetResult();
        return (code, output.ToString());
    }

    [Fact]
    public void Raysharp_logs_lists_a_workers_files_on_another_node_and_prints_them_and_an_actors_output()
    {
        string marker = "logged-" + Guid.NewGuid().ToString("N")[..8];
        var other = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(_fixture.Other.NodeId) };
        var (workerId, pid) = Observed.Remote.WithOptions(other).Print(marker, 3).Get(Timeout);

        var list = Logs("--node", _fixture.Other.NodeId.ToString()[..8]);
        Assert.Equal(0, list.Code);
        Assert.Contains($"worker-{workerId}.out", list.Output);
        Assert.Contains($"pid={pid}", list.Output);
        Assert.Contains($"======== node {_fixture.Other.NodeId}", list.Output);

        // The file is on the other node; the command finds it there.
        string printed = WaitFor(() => Logs($"worker-{workerId}.out") is (0, var o) && o.Contains(marker + " 2", StringComparison.Ordinal) ? o : null,
            "the worker's .out file holds its output");
        Assert.Contains(marker + " 0", printed);

        var talker = Talker.Remote.WithOptions(new ActorOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(_fixture.Other.NodeId) }).Create();
        talker.Say(marker + " from the actor").Get(Timeout);
        WaitFor(() => Logs("--actor", talker.Id.ToString()) is (0, var o) && o.Contains(marker + " from the actor", StringComparison.Ordinal) ? o : null,
            "raysharp logs --actor prints the actor's output");
        Ray.Kill(talker);
    }

    /// <summary>Collects what a command prints while it runs on another thread.</summary>
    private sealed class LockedWriter : StringWriter
    {
        public override void Write(char value)
        {
            lock (this) base.Write(value);
        }

        public override void Write(string? value)
        {
            lock (this) base.Write(value);
        }

        public string Text
        {
            get { lock (this) return ToString(); }
        }
    }

    [Fact]
    public void Raysharp_logs_follow_keeps_printing_what_an_actor_writes_until_cancelled()
    {
        string marker = "followed-" + Guid.NewGuid().ToString("N")[..8];
        var talker = Talker.Remote.WithOptions(new ActorOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(_fixture.Other.NodeId) }).Create();
        talker.Say(marker + " first").Get(Timeout);
        var output = new LockedWriter();
        using var cts = new CancellationTokenSource();
        var follow = LogCommands.RunAsync(null, null, talker.Id.ToString(), follow: true,
            () => ClusterConnection.Open(Cluster.Address, Cluster.Config.AuthToken!.Value), output, cts.Token);
        try
        {
            WaitFor(() => output.Text.Contains(marker + " first", StringComparison.Ordinal) ? "" : null, "--follow prints what is there");
            talker.Say(marker + " second").Get(Timeout);
            WaitFor(() => output.Text.Contains(marker + " second", StringComparison.Ordinal) ? "" : null, "--follow prints what is appended");
            Assert.False(follow.IsCompleted);
        }
        finally
        {
            cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => follow.GetAwaiter().GetResult());
            Ray.Kill(talker);
        }
    }

    [Fact]
    public void Raysharp_logs_refuses_bad_input_with_exit_code_2_and_one_line()
    {
        foreach (var args in (string[][])[["--node", "zz"], ["--node", "abcdef0123"], ["--actor", "nope"], ["--follow"], ["a", "b"], ["../x"],
                     ["--bogus", "1"], ["no-such-file.log"]])
        {
            var (code, output) = Logs(args);
            Assert.True(code == 2, $"raysharp logs {string.Join(' ', args)} exited with {code}: {output}");
            Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }
}

/// <summary>A GCS in its own process (over Redis) exports its own metrics, and the cluster's text includes them.</summary>
public sealed class GcsProcessMetricsTests
{
    [Fact]
    public void The_cluster_text_includes_the_GCS_process_labelled_gcs()
    {
        using var redis = RedisServer.Start();
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1, GcsStorage = redis.Address });
        var gcs = new GcsClient(cluster.Address, cluster.Config);

        string text = ClusterMetrics.ScrapeAllAsync(gcs).GetAwaiter().GetResult();

        Assert.Contains("raysharp_gcs_nodes{node_id=\"gcs\",state=\"alive\"} 1\n", text);
        Assert.Contains("raysharp_actors{node_id=\"gcs\",state=\"alive\"} 0\n", text);
        // The head node's raylet exports apart from the GCS process: its samples carry its own node ID.
        Assert.Contains($"raysharp_workers{{node_id=\"{cluster.Head.NodeId}\"", text);
        Assert.DoesNotContain("was not scraped", text);
    }
}

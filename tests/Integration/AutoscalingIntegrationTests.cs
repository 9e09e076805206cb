using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;
using Xunit.Abstractions;

namespace RaySharp.Integration;

/// <summary>
/// The autoscaler end to end, as a user runs it: <c>raysharp start --head --autoscaling-config cluster.yaml</c> with the
/// local provider. The min_workers node comes up by itself; a task needing a resource only the gpu_worker type has
/// launches that type and runs there; idle past the timeout, that node is drained and gone while the min_workers node,
/// as idle, stays; demand no type can meet is reported by <c>raysharp status</c> and launches nothing.
/// </summary>
public sealed partial class AutoscalingIntegrationTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("rs-autoscale-").FullName;

    private (int ExitCode, string Output) Raysharp(params string[] args) => RaysharpCommand.Run(_temp, args);

    private const string Config = """
        provider: { type: local }
        idle_timeout_minutes: 0.05
        update_interval_seconds: 0.2
        available_node_types:
          cpu_worker: { resources: { CPU: 1 }, min_workers: 1, max_workers: 2 }
          gpu_worker: { resources: { CPU: 1, GPU: 1, accel: 1 }, min_workers: 0, max_workers: 1 }
        """;

    [Fact]
    public void Demand_launches_the_node_type_that_fits_it_and_idle_nodes_go_away_down_to_min_workers()
    {
        string configPath = Path.Combine(_temp, "cluster.yaml");
        File.WriteAllText(configPath, Config);
        var head = Raysharp("start", "--head", "--port", "0", "--num-cpus", "1", "--include-dashboard", "false", "--autoscaling-config", configPath);
        Assert.True(head.ExitCode == 0, head.Output);
        string address = AddressPattern().Match(head.Output).Groups[1].Value;
        var gcs = new GcsClient(address, RayConfig.Default with { AuthToken = ClusterToken.FindLocal(address, Path.Combine(_temp, "raysharp")) });

        // min_workers: a cpu_worker comes up with no demand at all.
        var cpuNode = WaitFor(() => Alive(gcs, "cpu_worker").FirstOrDefault(), TimeSpan.FromSeconds(40), "the min_workers cpu_worker node to register");

        using (Ray.Init(new RayOptions { Address = address, TempDir = Path.Combine(_temp, "raysharp") }))
        {
            var needsAccel = new TaskOptions { Resources = new Dictionary<string, double> { ["accel"] = 1 } };
            var clock = Stopwatch.StartNew();
            var ran = Probe.Remote.WithOptions(needsAccel).Node();
            var gpuNode = WaitFor(() => Alive(gcs, "gpu_worker").FirstOrDefault(), TimeSpan.FromSeconds(40), "a gpu_worker node to register");
            var registered = clock.Elapsed;
            string where = ran.Get(TimeSpan.FromSeconds(40));
            var taskRan = clock.Elapsed;
            Assert.Equal(gpuNode.NodeId.ToString(), where);
            Assert.StartsWith("local-gpu_worker-", gpuNode.InstanceId);

            // Idle past 3 s, the gpu_worker is drained and removed; the cpu_worker, idle much longer, is what min_workers keeps.
            clock.Restart();
            WaitUntil(() => gcs.GetAllNodes().Nodes.Any(n => n.NodeId == gpuNode.NodeId && !n.Alive), TimeSpan.FromSeconds(40), "the idle gpu_worker node to go");
            var gone = clock.Elapsed;
            Assert.Contains(gcs.GetAllNodes().Nodes, n => n.NodeId == cpuNode.NodeId && n.Alive);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"scale-up: task submitted -> gpu_worker registered {registered.TotalSeconds:0.00} s -> task ran {taskRan.TotalSeconds:0.00} s; " +
                $"scale-down: task done -> node gone {gone.TotalSeconds:0.00} s (idle timeout 3 s, update interval 0.2 s)"));

            // Work no node type can fit: reported, and nothing is launched for it.
            var tooMuch = new TaskOptions { Resources = new Dictionary<string, double> { ["accel"] = 5 } };
            _ = Probe.Remote.WithOptions(tooMuch).Node();
            WaitUntil(() => gcs.GetClusterResourceStateAsync().GetAwaiter().GetResult().Autoscaler?.Infeasible.Any(d => d.Shape.GetValueOrDefault("accel") == 5) == true,
                TimeSpan.FromSeconds(20), "the autoscaler to report the infeasible demand");
            var status = Raysharp("status", "--address", address);
            Assert.True(status.ExitCode == 0, status.Output);
            Assert.Contains("cpu_worker: 0 launching, 0 active, 1 idle", status.Output);
            Assert.Matches(@"Demand no node type can meet:\s+1 task\(s\) of \{CPU: 1, accel: 5\}", status.Output);
            Assert.DoesNotContain("gpu_worker: 1", status.Output);
            Assert.Empty(Alive(gcs, "gpu_worker"));
        }
    }

    [Fact]
    public void A_wrong_autoscaling_config_is_named_and_nothing_starts()
    {
        string configPath = Path.Combine(_temp, "bad.yaml");
        File.WriteAllText(configPath, "provider: { type: local }\navailable_node_types:\n  gpu: { resources: { GPU: 1 }, min_workers: 2, max_workers: 1 }\n");
        var head = Raysharp("start", "--head", "--port", "0", "--autoscaling-config", configPath);
        Assert.Equal(2, head.ExitCode);
        Assert.Contains("available_node_types.gpu.min_workers (2) must not exceed max_workers (1)", head.Output);
        Assert.Contains("No RaySharp nodes were running.", Raysharp("stop").Output);
    }

    private static List<NodeRecord> Alive(GcsClient gcs, string nodeType) =>
        [.. gcs.GetAllNodes().Nodes.Where(n => n.Alive && n.NodeTypeName == nodeType)];

    private static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitFor(() => condition() ? "yes" : null, timeout, what);

    private static T WaitFor<T>(Func<T?> probe, TimeSpan timeout, string what) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (probe() is { } value) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {timeout.TotalSeconds:0} s for {what}.");
            Thread.Sleep(50); // polling the GCS: nothing outside the cluster can be notified of node changes
        }
    }

    [GeneratedRegex("RAY_ADDRESS=([0-9.]+:[0-9]+)")]
    private static partial Regex AddressPattern();

    /// <summary>On failure, what the autoscaler logged says why.</summary>
    private void WriteAutoscalerLog()
    {
        foreach (var log in Directory.EnumerateFiles(_temp, "autoscaler.log", SearchOption.AllDirectories))
            output.WriteLine(string.Join('\n', File.ReadAllLines(log).TakeLast(60)));
    }

    public void Dispose()
    {
        WriteAutoscalerLog();
        // Stopping the head stops its autoscaler, which stops the nodes it started (each has a lifeline to it).
        Raysharp("stop");
        try { Directory.Delete(_temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

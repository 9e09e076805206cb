using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace RaySharp.Integration;

/// <summary>The `raysharp` command as a user runs it: start a head and a worker node in the background, join them
/// from a driver, check status, stop them. Each test uses its own temp dir, so `stop` only sees its own nodes.</summary>
public sealed partial class CliTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "rs-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public CliTests() => Directory.CreateDirectory(_temp);

    private (int ExitCode, string Output) Raysharp(params string[] args) => RaysharpCommand.Run(_temp, args);

    [Fact]
    public void Start_join_status_and_stop_a_two_node_cluster()
    {
        var head = Raysharp("start", "--head", "--port", "0", "--num-cpus", "1");
        Assert.True(head.ExitCode == 0, head.Output);
        string address = AddressPattern().Match(head.Output).Groups[1].Value;
        try
        {
            var worker = Raysharp("start", "--address", address, "--num-cpus", "2", "--resources", """{"gpu_a": 1}""");
            Assert.True(worker.ExitCode == 0, worker.Output);

            var status = Raysharp("status", "--address", address);
            Assert.True(status.ExitCode == 0, status.Output);
            Assert.Contains("Alive nodes: 2", status.Output);
            Assert.Contains("0/3 CPU", status.Output);
            Assert.Contains("0/1 gpu_a", status.Output);

            // The same for scripts: JSON that parses, with the nodes and the resource totals.
            var statusJson = Raysharp("status", "--address", address, "--format", "json");
            Assert.True(statusJson.ExitCode == 0, statusJson.Output);
            using (var doc = JsonDocument.Parse(statusJson.Output))
            {
                Assert.Equal(address, doc.RootElement.GetProperty("gcs").GetString());
                var nodes = doc.RootElement.GetProperty("nodes").EnumerateArray().ToList();
                Assert.Equal(2, nodes.Count);
                Assert.All(nodes, n => Assert.Equal("ALIVE", n.GetProperty("state").GetString()));
                Assert.Single(nodes, n => n.GetProperty("is_head").GetBoolean());
                var cpu = doc.RootElement.GetProperty("resources").EnumerateArray().Single(r => r.GetProperty("resource").GetString() == "CPU");
                Assert.Equal(3, cpu.GetProperty("total").GetDouble());
                Assert.Equal(0, doc.RootElement.GetProperty("placement_groups").GetProperty("pending").GetInt32());
            }
            var nodesJson = Raysharp("list", "nodes", "--address", address, "--format", "json");
            using (var doc = JsonDocument.Parse(nodesJson.Output))
                Assert.Contains(doc.RootElement.EnumerateArray(), n => n.GetProperty("resources").TryGetProperty("gpu_a", out var g) && g.GetDouble() == 1);

            var wrong = Raysharp("status", "--address", address, "--auth-token", "not-the-token");
            Assert.Equal(1, wrong.ExitCode);
            Assert.Contains("authentication failed", wrong.Output);

            // The driver finds the head's token in its session directory (under the CLI's temp dir).
            using (Ray.Init(new RayOptions { Address = address, TempDir = Path.Combine(_temp, "raysharp") }))
            {
                var needsGpuA = new TaskOptions { Resources = new Dictionary<string, double> { ["gpu_a"] = 1 } };
                Assert.Equal(7, Probe.Remote.WithOptions(needsGpuA).Leaf(7).Get(TimeSpan.FromSeconds(60)));

                // A large object is in the head's store: `memory` lists it, `status` counts it.
                using var large = Ray.Put(new byte[3 * 1024 * 1024]);
                var memory = Raysharp("memory", "--address", address);
                Assert.True(memory.ExitCode == 0, memory.Output);
                Assert.Contains(large.Id.ToString(), memory.Output);
                Assert.Contains("primary", memory.Output);
                Assert.Contains("Object store:", Raysharp("status", "--address", address).Output);
            }
            var jobs = Raysharp("list", "jobs", "--address", address, "--format", "json");
            Assert.Contains("\"FINISHED\"", jobs.Output);
        }
        finally
        {
            var stop = Raysharp("stop");
            Assert.True(stop.ExitCode == 0, stop.Output);
            Assert.Contains("Stopped 2 RaySharp node(s).", stop.Output);
        }
        var after = Raysharp("status", "--address", address);
        Assert.Equal(1, after.ExitCode);
        Assert.Contains("cannot reach the GCS", after.Output);
    }

    [Fact]
    public void A_head_with_GCS_storage_runs_the_GCS_in_its_own_process_and_stop_ends_it()
    {
        using var redis = Testing.RedisServer.Start();
        var head = Raysharp("start", "--head", "--port", "0", "--num-cpus", "1", "--gcs-storage", redis.Address);
        Assert.True(head.ExitCode == 0, head.Output);
        Assert.Matches(@"Started the GCS \(pid \d+\)", head.Output);
        string address = AddressPattern().Match(head.Output).Groups[1].Value;
        try
        {
            var status = Raysharp("status", "--address", address);
            Assert.True(status.ExitCode == 0, status.Output);
            Assert.Contains("Alive nodes: 1", status.Output);
            using (Ray.Init(new RayOptions { Address = address, TempDir = Path.Combine(_temp, "raysharp") }))
                Assert.Equal(3, Probe.Remote.Leaf(3).Get(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            var stop = Raysharp("stop");
            Assert.True(stop.ExitCode == 0, stop.Output);
            Assert.Contains("Stopped 1 RaySharp node(s) and the GCS.", stop.Output);
        }
        Assert.Equal(1, Raysharp("status", "--address", address).ExitCode);
    }

    [Fact]
    public void Bad_input_is_named_and_exits_with_2()
    {
        var neither = Raysharp("start");
        Assert.Equal(2, neither.ExitCode);
        Assert.Contains("--head", neither.Output);
        var badResources = Raysharp("start", "--head", "--resources", "{oops");
        Assert.Equal(2, badResources.ExitCode);
        Assert.Contains("--resources must be a JSON object", badResources.Output);
        var unknown = Raysharp("frobnicate");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("Unknown command 'frobnicate'", unknown.Output);
        // What a person reads first: the one line, not a page of usage.
        Assert.Single(unknown.Output.Trim().Split('\n'));
    }

    [Fact]
    public void Start_and_status_that_find_no_cluster_token_anywhere_say_how_to_give_it()
    {
        // No RAY_AUTH_TOKEN, no --auth-token, and no session directory under this test's temp dir names the address.
        const string address = "127.0.0.1:1";
        var join = Raysharp("start", "--address", address, "--num-cpus", "1");
        Assert.Equal(1, join.ExitCode);
        AssertSaysHowToGiveTheToken(join.Output, address);

        var status = Raysharp("status", "--address", address);
        Assert.Equal(1, status.ExitCode);
        AssertSaysHowToGiveTheToken(status.Output, address);
    }

    internal static void AssertSaysHowToGiveTheToken(string message, string address)
    {
        Assert.Contains("no cluster token", message);
        Assert.Contains(address, message);
        Assert.Contains(Core.ClusterToken.Variable, message);
        Assert.Contains(Core.ClusterToken.FileName, message);
    }

    [GeneratedRegex("RAY_ADDRESS=([0-9.]+:[0-9]+)")]
    private static partial Regex AddressPattern();

    public void Dispose()
    {
        Raysharp("stop");
        try { Directory.Delete(_temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

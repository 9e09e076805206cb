using System.Text.Json;
using Xunit;

namespace RaySharp.Integration;

/// <summary>`raysharp list placement-groups` and the placement-group parts of `raysharp status`, on a two-node cluster
/// started with the CLI and groups created by a driver in this process.</summary>
public sealed partial class CliTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private static IReadOnlyDictionary<string, double> Cpus(double n) => new Dictionary<string, double> { ["CPU"] = n };

    /// <summary>Runs the command until <paramref name="done"/> holds for its output (the GCS learns of resources with the
    /// raylets' reports, and of infeasibility with its next scheduling pass), or fails naming the last output.</summary>
    private string RaysharpUntil(Func<string, bool> done, params string[] args)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (true)
        {
            var run = Raysharp(args);
            Assert.True(run.ExitCode == 0, run.Output);
            if (done(run.Output)) return run.Output;
            if (DateTime.UtcNow > deadline) Assert.Fail($"raysharp {string.Join(' ', args)} never showed what was expected; last output:\n{run.Output}");
            Thread.Sleep(200); // the CLI is a process of its own: polling it is the only way to watch
        }
    }

    [Fact]
    public void Bad_list_options_are_named_and_exit_with_2_before_any_cluster_is_asked()
    {
        var limit = Raysharp("list", "placement-groups", "--limit", "0");
        Assert.Equal(2, limit.ExitCode);
        Assert.Contains("--limit takes a positive number", limit.Output);
        var filter = Raysharp("list", "placement-groups", "--filter", "state");
        Assert.Equal(2, filter.ExitCode);
        Assert.Contains("--filter takes KEY=VALUE", filter.Output);
        var format = Raysharp("list", "placement-groups", "--format", "yaml");
        Assert.Equal(2, format.ExitCode);
        Assert.Contains("--format is table or json", format.Output);
    }

    [Fact]
    public void List_placement_groups_and_status_show_bundles_nodes_reservations_and_infeasible_groups()
    {
        var head = Raysharp("start", "--head", "--port", "0", "--num-cpus", "2");
        Assert.True(head.ExitCode == 0, head.Output);
        string address = AddressPattern().Match(head.Output).Groups[1].Value;
        try
        {
            var worker = Raysharp("start", "--address", address, "--num-cpus", "2");
            Assert.True(worker.ExitCode == 0, worker.Output);

            string spreadId, packedId, tooBigId, memberNode;
            using (Ray.Init(new RayOptions { Address = address, TempDir = Path.Combine(_temp, "raysharp") }))
            {
                // One bundle on each node; one CPU packed anywhere; and a group no node can hold (each has 2 CPUs): it
                // stays pending. The infeasible one is detached, so it outlives the driver.
                var spread = Ray.CreatePlacementGroup([Cpus(1), Cpus(1)], PlacementStrategy.StrictSpread, name: "cli-spread");
                var packed = Ray.CreatePlacementGroup([Cpus(1)], PlacementStrategy.Pack);
                var tooBig = Ray.CreatePlacementGroup([Cpus(3)], PlacementStrategy.StrictPack, lifetime: PlacementGroupLifetime.Detached);
                Assert.True(spread.Wait(s_timeout));
                Assert.True(packed.Wait(s_timeout));
                Assert.False(tooBig.Wait(TimeSpan.FromMilliseconds(100)));
                (spreadId, packedId, tooBigId) = (spread.Id.ToString(), packed.Id.ToString(), tooBig.Id.ToString());
                // An actor holds one CPU of the spread group's bundle 0.
                var member = Where.Remote.WithOptions(new ActorOptions { SchedulingStrategy = new PlacementGroupSchedulingStrategy(spread, 0), NumCpus = 1 })
                    .Create();
                memberNode = member.Node().Get(s_timeout);

                // Status: the 3 reserved CPUs count as used, 1 of them by the actor; no bundle resource names; the
                // infeasible group with its strategy, bundles and what it waits for.
                string status = RaysharpUntil(o => o.Contains("3/4 CPU (1 used of 3 reserved in placement groups)") && o.Contains("(1 infeasible)"),
                    "status", "--address", address);
                Assert.Contains("Placement groups: 2 created, 1 pending (1 infeasible)", status);
                Assert.Contains("Pending placement groups:", status);
                Assert.Contains($"{tooBigId} STRICT_PACK {{CPU: 3}} * 1: infeasible", status);
                Assert.Contains("waits for a node that fits", status);
                Assert.DoesNotContain("_group_", status);
                Assert.DoesNotContain(spreadId, status);

                // JSON: Ray's field names; each bundle with its resources and node.
                var json = Raysharp("list", "placement-groups", "--address", address, "--format", "json");
                Assert.True(json.ExitCode == 0, json.Output);
                using (var doc = JsonDocument.Parse(json.Output))
                {
                    var rows = doc.RootElement.EnumerateArray().ToDictionary(r => r.GetProperty("placement_group_id").GetString()!);
                    Assert.Equal(3, rows.Count);
                    var s = rows[spreadId];
                    Assert.Equal("CREATED", s.GetProperty("state").GetString());
                    Assert.Equal("STRICT_SPREAD", s.GetProperty("strategy").GetString());
                    Assert.Equal("cli-spread", s.GetProperty("name").GetString());
                    Assert.False(s.GetProperty("is_detached").GetBoolean());
                    Assert.False(s.GetProperty("infeasible").GetBoolean());
                    Assert.Equal("FINISHED", s.GetProperty("stats").GetProperty("scheduling_state").GetString());
                    Assert.True(s.GetProperty("stats").GetProperty("create_time_ms").GetInt64() > 0);
                    var bundles = s.GetProperty("bundles").EnumerateArray().ToList();
                    Assert.Equal(2, bundles.Count);
                    Assert.All(bundles, b => Assert.Equal(1, b.GetProperty("unit_resources").GetProperty("CPU").GetDouble()));
                    Assert.Equal(memberNode, bundles[0].GetProperty("node_id").GetString());
                    Assert.NotEqual(bundles[0].GetProperty("node_id").GetString(), bundles[1].GetProperty("node_id").GetString());
                    Assert.Equal(Ray.GetRuntimeContext().JobId.ToString(), s.GetProperty("creator_job_id").GetString());

                    var t = rows[tooBigId];
                    Assert.Equal("PENDING", t.GetProperty("state").GetString());
                    Assert.Equal("STRICT_PACK", t.GetProperty("strategy").GetString());
                    Assert.True(t.GetProperty("is_detached").GetBoolean());
                    Assert.True(t.GetProperty("infeasible").GetBoolean());
                    Assert.Equal("INFEASIBLE", t.GetProperty("stats").GetProperty("scheduling_state").GetString());
                    var unplaced = Assert.Single(t.GetProperty("bundles").EnumerateArray());
                    Assert.Equal(JsonValueKind.Null, unplaced.GetProperty("node_id").ValueKind);
                    Assert.Equal(3, unplaced.GetProperty("unit_resources").GetProperty("CPU").GetDouble());
                }

                // Table, filtered and limited.
                var pending = Raysharp("list", "placement-groups", "--address", address, "--filter", "state=pending");
                Assert.True(pending.ExitCode == 0, pending.Output);
                Assert.Contains($"placement_group_id={tooBigId}", pending.Output);
                Assert.Contains("strategy=STRICT_PACK", pending.Output);
                Assert.Contains("infeasible=true", pending.Output);
                Assert.Contains("bundles=[{CPU: 3} not placed]", pending.Output);
                Assert.DoesNotContain(spreadId, pending.Output);
                var named = Raysharp("list", "placement-groups", "--address", address, "--filter", "name=cli-spread");
                Assert.Contains("state=CREATED", named.Output);
                Assert.Contains($"{{CPU: 1}} on {memberNode}", named.Output);
                Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(named.Output, "\\{CPU: 1\\} on [0-9a-f]{56}").Count);
                var limited = Raysharp("list", "placement-groups", "--address", address, "--filter", "state!=pending", "--limit", "1");
                Assert.Contains("(1 of 2 shown: --limit 1)", limited.Output);
                var badFilter = Raysharp("list", "placement-groups", "--address", address, "--filter", "colour=red");
                Assert.Equal(2, badFilter.ExitCode);
                Assert.Contains("no field 'colour'", badFilter.Output);

                Ray.RemovePlacementGroup(spread);
                Assert.Throws<ActorDiedException>(() => member.Node().Get(s_timeout));
            }

            // The driver is gone: its job's groups go with it, the detached one stays (pending: still nothing fits).
            string left = RaysharpUntil(o => o.Contains($"placement_group_id={packedId}") && o.Contains("state=REMOVED"),
                "list", "placement-groups", "--address", address, "--filter", $"placement_group_id={packedId}");
            Assert.Contains("remove_time", left);
            string live = Raysharp("list", "placement-groups", "--address", address, "--filter", "state!=removed").Output;
            Assert.Contains(tooBigId, live);
            Assert.DoesNotContain(spreadId, live);
            Assert.Contains("Placement groups: 0 created, 1 pending (1 infeasible)", Raysharp("status", "--address", address).Output);
        }
        finally
        {
            var stop = Raysharp("stop");
            Assert.True(stop.ExitCode == 0, stop.Output);
        }
    }
}

using System.Text.Json;
using Xunit;

namespace RaySharp.Integration;

/// <summary>`raysharp list tasks|objects` and `raysharp summary` against a cluster started with `raysharp start`, after
/// a driver ran work on it: the rows a user looks for, in both formats, and bad input named with exit code 2.</summary>
public sealed partial class CliTests
{
    [Fact]
    public void List_and_summarize_the_tasks_and_objects_of_a_driver()
    {
        var head = Raysharp("start", "--head", "--port", "0", "--num-cpus", "1");
        Assert.True(head.ExitCode == 0, head.Output);
        string address = AddressPattern().Match(head.Output).Groups[1].Value;
        try
        {
            using (Ray.Init(new RayOptions { Address = address, TempDir = Path.Combine(_temp, "raysharp") }))
            {
                var leaf = Probe.Remote.Leaf(5);
                Assert.Equal(5, leaf.Get(TimeSpan.FromSeconds(60)));
                string taskId = leaf.Id.TaskId.ToString();

                // Task events reach the GCS about a second after each change: ask until the finished row is there.
                JsonElement row = default;
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (true)
                {
                    var list = Raysharp("list", "tasks", "--address", address, "--format", "json", "--filter", "task_id=" + taskId,
                        "--filter", "state=FINISHED");
                    Assert.True(list.ExitCode == 0, list.Output);
                    var rows = JsonDocument.Parse(list.Output).RootElement;
                    if (rows.GetArrayLength() == 1)
                    {
                        row = rows[0].Clone();
                        break;
                    }
                    Assert.True(DateTime.UtcNow < deadline, "the finished task was not listed: " + list.Output);
                }
                Assert.Contains(nameof(Probe.Leaf), row.GetProperty("name").GetString());
                Assert.Equal("NORMAL_TASK", row.GetProperty("type").GetString());
                Assert.Equal(Ray.GetRuntimeContext().JobId.ToString(), row.GetProperty("job_id").GetString());

                var table = Raysharp("list", "tasks", "--address", address, "--limit", "1");
                Assert.True(table.ExitCode == 0, table.Output);
                Assert.Contains("task_id=", table.Output);

                var kept = Ray.Put("kept by the driver");
                var objects = Raysharp("list", "objects", "--address", address, "--filter", "object_id=" + kept.Id);
                Assert.True(objects.ExitCode == 0, objects.Output);
                Assert.Contains("reference_type=LOCAL_REFERENCE", objects.Output);
                Assert.Contains("type=DRIVER", objects.Output);
                GC.KeepAlive(kept);

                var summary = Raysharp("summary", "tasks", "--address", address);
                Assert.True(summary.ExitCode == 0, summary.Output);
                Assert.Contains(nameof(Probe.Leaf), summary.Output);
                Assert.Contains("FINISHED: ", summary.Output);
                var summaryJson = Raysharp("summary", "tasks", "--address", address, "--format", "json");
                Assert.True(summaryJson.ExitCode == 0, summaryJson.Output);
                using (var doc = JsonDocument.Parse(summaryJson.Output))
                    Assert.Contains(doc.RootElement.GetProperty("summary").EnumerateObject(), e => e.Name.Contains(nameof(Probe.Leaf), StringComparison.Ordinal));
            }
        }
        finally
        {
            var stop = Raysharp("stop");
            Assert.True(stop.ExitCode == 0, stop.Output);
        }
    }

    [Fact]
    public void Bad_state_input_is_named_and_exits_with_2()
    {
        var limit = Raysharp("list", "tasks", "--limit", "0");
        Assert.Equal(2, limit.ExitCode);
        Assert.Contains("--limit", limit.Output);
        var filter = Raysharp("list", "tasks", "--filter", "no-equals-sign");
        Assert.Equal(2, filter.ExitCode);
        Assert.Contains("KEY=VALUE", filter.Output);
        var field = Raysharp("list", "objects", "--filter", "colour=red");
        Assert.Equal(2, field.ExitCode);
        Assert.Contains("no field 'colour'", field.Output);
        var format = Raysharp("list", "tasks", "--format", "xml");
        Assert.Equal(2, format.ExitCode);
        var summary = Raysharp("summary", "jobs");
        Assert.Equal(2, summary.ExitCode);
        Assert.Contains("tasks, actors, objects", summary.Output);
        Assert.Single(limit.Output.Trim().Split('\n'));
    }
}

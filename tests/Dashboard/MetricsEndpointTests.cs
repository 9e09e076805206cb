using System.Net;
using System.Text.RegularExpressions;
using Xunit;

namespace RaySharp.Dashboard.Tests;

/// <summary>The head's <c>/metrics</c>: the whole cluster's metrics as Prometheus text, each sample labelled with the
/// node it came from.</summary>
[Collection(DashboardCollection.Name)]
public sealed partial class MetricsEndpointTests(DashboardFixture fixture)
{
    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[-+0-9.eE]+|NaN|\+Inf|-Inf)$""")]
    private static partial Regex Sample();

    [Fact]
    public async Task Metrics_of_the_cluster_are_served_as_Prometheus_text_with_the_node_of_each_sample()
    {
        await fixture.Workload; // tasks ran and an actor lives: the counters have moved
        string head = fixture.Cluster.Head.NodeId.ToString();
        string text = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        // Workers send their counts to their raylet every few seconds: wait until the finished tasks are in.
        while (DateTime.UtcNow < deadline)
        {
            using var response = await fixture.Http.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
            text = await response.Content.ReadAsStringAsync();
            if (text.Contains("raysharp_task_executions_total", StringComparison.Ordinal)) break;
            await Task.Delay(500);
        }
        var samples = text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.NotEmpty(samples);
        foreach (var line in samples) Assert.True(Sample().IsMatch(line), $"not a Prometheus sample line: {line}");
        Assert.All(samples, l => Assert.StartsWith("raysharp_", l));
        Assert.Contains(samples, l => l.StartsWith("raysharp_task_executions_total", StringComparison.Ordinal) && l.Contains($"node_id=\"{head}\""));
        Assert.Contains(samples, l => l.StartsWith("raysharp_workers", StringComparison.Ordinal));
    }
}

using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The metrics pipeline without a cluster: a collector on a meter of the test's own, the Prometheus text it
/// exports, the sums of several processes' reports, and the head's aggregation of node texts.</summary>
public sealed partial class MetricsTests : IDisposable
{
    private readonly Meter _meter = new("RaySharp.Tests." + Guid.NewGuid().ToString("N"));
    private readonly MetricsCollector _collector;

    public MetricsTests() => _collector = new MetricsCollector(_meter.Name);

    public void Dispose()
    {
        _collector.Dispose();
        _meter.Dispose();
    }

    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricNamePattern();

    /// <summary>A sample line: a valid name, optional labels with quoted values, a number.</summary>
    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[a-zA-Z_][a-zA-Z0-9_]*=""([^""\\]|\\.)*""(,[a-zA-Z_][a-zA-Z0-9_]*=""([^""\\]|\\.)*"")*)\})? (?<value>[-+]?([0-9.eE+-]+|Inf|NaN))$")]
    internal static partial Regex SamplePattern();

    /// <summary>Checks every line of <paramref name="text"/> against the exposition format: HELP and TYPE comments
    /// for a valid name, TYPE before the family's samples, samples that parse.</summary>
    internal static void AssertValidExposition(string text)
    {
        string? family = null;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal)) continue;
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.Equal(4, parts.Length);
                Assert.Matches(MetricNamePattern(), parts[2]);
                Assert.Contains(parts[3], (string[])["counter", "gauge", "histogram", "summary", "untyped"]);
                family = parts[2];
                continue;
            }
            if (line.StartsWith('#')) continue;
            var match = SamplePattern().Match(line);
            Assert.True(match.Success, $"not a valid sample line: {line}");
            Assert.NotNull(family);
            Assert.StartsWith(family, match.Groups["name"].Value);
        }
    }

    [Fact]
    public void Counters_histograms_and_gauges_are_written_as_Prometheus_text_with_units_and_totals()
    {
        var tasks = _meter.CreateCounter<long>("raysharp.tasks", "{task}", "Tasks by state");
        var latency = _meter.CreateHistogram("raysharp.task.latency", "s", "Latency", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        long used = 4096;
        _meter.CreateObservableGauge("raysharp.object_store.memory", () => new Measurement<long>(used, new KeyValuePair<string, object?>("kind", "used")),
            "By", "Store bytes");

        tasks.Add(2, new KeyValuePair<string, object?>("state", "submitted"));
        tasks.Add(1, new KeyValuePair<string, object?>("state", "submitted"));
        tasks.Add(1, new KeyValuePair<string, object?>("state", "finished"));
        latency.Record(0.05);
        latency.Record(0.5);
        latency.Record(0.7);
        latency.Record(3);

        string text = PrometheusText.Write(_collector.Collect());

        Assert.Contains("# TYPE raysharp_tasks_total counter\n", text);
        Assert.Contains("raysharp_tasks_total{state=\"submitted\"} 3\n", text);
        Assert.Contains("raysharp_tasks_total{state=\"finished\"} 1\n", text);
        Assert.Contains("# TYPE raysharp_task_latency_seconds histogram\n", text);
        // Buckets are cumulative, +Inf counts everything.
        Assert.Contains("raysharp_task_latency_seconds_bucket{le=\"0.1\"} 1\n", text);
        Assert.Contains("raysharp_task_latency_seconds_bucket{le=\"1\"} 3\n", text);
        Assert.Contains("raysharp_task_latency_seconds_bucket{le=\"+Inf\"} 4\n", text);
        Assert.Contains("raysharp_task_latency_seconds_count 4\n", text);
        Assert.Contains("raysharp_task_latency_seconds_sum 4.25\n", text);
        Assert.Contains("# TYPE raysharp_object_store_memory_bytes gauge\n", text);
        Assert.Contains("raysharp_object_store_memory_bytes{kind=\"used\"} 4096\n", text);
        AssertValidExposition(text);

        // An observable gauge is read at each collection.
        used = 8192;
        Assert.Contains("raysharp_object_store_memory_bytes{kind=\"used\"} 8192\n", PrometheusText.Write(_collector.Collect()));
    }

    [Fact]
    public void Label_values_are_escaped_and_tags_in_any_order_are_one_series()
    {
        var calls = _meter.CreateCounter<long>("raysharp.rpc.calls");
        calls.Add(1, new("method", "/a\"b\\c\nd"), new("side", "client"));
        calls.Add(1, new("side", "client"), new("method", "/a\"b\\c\nd"));

        string text = PrometheusText.Write(MetricsMerge.Merge([_collector.Collect()]));

        Assert.Contains("raysharp_rpc_calls_total{method=\"/a\\\"b\\\\c\\nd\",side=\"client\"} 2\n", text);
        AssertValidExposition(text);
    }

    [Fact]
    public void An_instrument_keeps_a_bounded_number_of_series()
    {
        var counter = _meter.CreateCounter<long>("raysharp.runaway");
        for (int i = 0; i < MetricsCollector.MaxSeriesPerInstrument + 10; i++) counter.Add(1, new KeyValuePair<string, object?>("id", i.ToString()));

        var family = Assert.Single(_collector.Collect());
        Assert.Equal(MetricsCollector.MaxSeriesPerInstrument, family.Points.Length);
        Assert.Equal(10, _collector.Dropped);
    }

    [Fact]
    public void Reports_of_several_processes_add_up_and_a_retired_reporter_keeps_its_counts_but_not_its_gauges()
    {
        static MetricFamily[] Report(double tasks, double running) =>
        [
            new("raysharp.tasks", "{task}", "", MetricKind.Counter, null, [new(["state", "finished"], tasks)]),
            new("raysharp.tasks.running", "{task}", "", MetricKind.UpDownCounter, null, [new([], running)]),
            new("raysharp.task.latency", "s", "", MetricKind.Histogram, [1], [new([], tasks, (long)tasks, [(long)tasks, 0])]),
        ];
        var node = new NodeMetrics(() => Report(1, 0), TimeSpan.FromSeconds(10));
        var a = WorkerId.FromRandom();
        node.Report(new MetricsReport(a, Report(5, 2)));
        node.Report(new MetricsReport(WorkerId.FromRandom(), Report(7, 1)));

        string text = PrometheusText.Write(node.Collect());
        Assert.Contains("raysharp_tasks_total{state=\"finished\"} 13\n", text);
        Assert.Contains("raysharp_tasks_running 3\n", text);
        Assert.Contains("raysharp_task_latency_seconds_bucket{le=\"1\"} 13\n", text);

        node.Retire(a);
        text = PrometheusText.Write(node.Collect());
        Assert.Contains("raysharp_tasks_total{state=\"finished\"} 13\n", text);
        Assert.Contains("raysharp_tasks_running 1\n", text);
        Assert.Equal(1, node.Reporters);
    }

    [Fact]
    public void A_malformed_report_is_refused_with_InvalidArgument()
    {
        var node = new NodeMetrics(() => [], TimeSpan.FromSeconds(10));
        MetricsReport Bad(MetricFamily f) => new(WorkerId.FromRandom(), [f]);
        MetricsReport[] bad =
        [
            Bad(new("raysharp.x", "", "", MetricKind.Counter, null, [new([], double.NaN)])),
            Bad(new("raysharp.x", "", "", MetricKind.Counter, null, [new(["odd"], 1)])),
            Bad(new("bad name\n", "", "", MetricKind.Counter, null, [])),
            Bad(new("raysharp.h", "s", "", MetricKind.Histogram, [1, 2], [new([], 1, 1, [1])])),
            Bad(new("raysharp.h", "s", "", MetricKind.Histogram, null, [])),
            Bad(new("raysharp.x", "", "", (MetricKind)42, null, [])),
            new(default, []),
        ];
        foreach (var report in bad)
            Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<RpcException>(() => node.Report(report)).StatusCode);
        Assert.Equal(0, node.Reporters);
    }

    [Fact]
    public void The_cluster_text_labels_every_sample_with_its_node_and_groups_each_family_once()
    {
        const string a = "# HELP raysharp_tasks_total Tasks\n# TYPE raysharp_tasks_total counter\nraysharp_tasks_total{state=\"finished\"} 3\n" +
            "# HELP raysharp_workers Workers\n# TYPE raysharp_workers gauge\nraysharp_workers 2\n";
        const string b = "# HELP raysharp_tasks_total Tasks\n# TYPE raysharp_tasks_total counter\nraysharp_tasks_total{state=\"finished\"} 4\n";

        string text = ClusterMetrics.Aggregate([("aaaa", a, null), ("bbbb", b, null), ("cccc", "", "connection refused")]);

        Assert.Single(Regex.Matches(text, "# TYPE raysharp_tasks_total counter"));
        Assert.Contains("raysharp_tasks_total{node_id=\"aaaa\",state=\"finished\"} 3\nraysharp_tasks_total{node_id=\"bbbb\",state=\"finished\"} 4\n", text);
        Assert.Contains("raysharp_workers{node_id=\"aaaa\"} 2\n", text);
        Assert.Contains("# node cccc was not scraped: connection refused", text);
        AssertValidExposition(text);
    }

    [Fact]
    public void The_runtime_instruments_have_valid_Prometheus_names()
    {
        using var collector = new MetricsCollector(RayMetrics.MeterName);
        RayMetrics.Tasks.Add(0, new KeyValuePair<string, object?>(RayMetrics.State, RayMetrics.Submitted));
        RayMetrics.TaskLatency.Record(0.001);
        RayMetrics.RpcCalls.Add(0);
        foreach (var family in collector.Collect())
        {
            string name = PrometheusText.MetricName(family);
            Assert.Matches(MetricNamePattern(), name);
            Assert.StartsWith("raysharp_", name);
            if (family.Kind == MetricKind.Counter) Assert.EndsWith("_total", name);
            if (family.Unit == "s") Assert.Contains("_seconds", name);
        }
    }
}

using System.Globalization;
using System.Text;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Stats;

/// <summary>
/// Writes metrics in the Prometheus text exposition format (version 0.0.4), naming them as OpenTelemetry's Prometheus
/// exporter does: dots become underscores, the unit is a suffix (<c>s</c>: <c>_seconds</c>, <c>By</c>: <c>_bytes</c>;
/// annotations such as <c>{task}</c> add nothing) and counters end in <c>_total</c>. So <c>raysharp.tasks</c> is
/// <c>raysharp_tasks_total</c> and <c>raysharp.task.latency</c> (s) is <c>raysharp_task_latency_seconds</c>, whether a
/// user scrapes a node or wires the meter to OpenTelemetry.
/// </summary>
internal static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Write(IEnumerable<MetricFamily> families)
    {
        var text = new StringBuilder();
        foreach (var family in families) Write(text, family);
        return text.ToString();
    }

    public static void Write(StringBuilder text, MetricFamily family)
    {
        string name = MetricName(family);
        text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(family.Description)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(family.Kind switch
        {
            MetricKind.Counter => "counter",
            MetricKind.Histogram => "histogram",
            _ => "gauge",
        }).Append('\n');
        foreach (var point in family.Points)
        {
            if (family.Kind != MetricKind.Histogram)
            {
                Sample(text, name, point.Labels, null, point.Value);
                continue;
            }
            var bounds = family.Bounds ?? [];
            long cumulative = 0;
            for (int i = 0; i <= bounds.Length; i++)
            {
                cumulative += point.Buckets is { } b && i < b.Length ? b[i] : 0;
                Sample(text, name + "_bucket", point.Labels, i < bounds.Length ? Number(bounds[i]) : "+Inf", cumulative);
            }
            Sample(text, name + "_sum", point.Labels, null, point.Value);
            Sample(text, name + "_count", point.Labels, null, point.Count);
        }
    }

    /// <summary>The Prometheus name of a family.</summary>
    public static string MetricName(MetricFamily family)
    {
        var name = new StringBuilder(family.Name.Length + 16);
        foreach (char c in family.Name) name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        if (name.Length == 0 || char.IsAsciiDigit(name[0])) name.Insert(0, '_');
        string suffix = family.Unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => "",
        };
        string result = name.ToString();
        if (suffix.Length > 0 && !result.EndsWith(suffix, StringComparison.Ordinal)) result += suffix;
        if (family.Kind == MetricKind.Counter && !result.EndsWith("_total", StringComparison.Ordinal)) result += "_total";
        return result;
    }

    private static void Sample(StringBuilder text, string name, string[] labels, string? le, double value)
    {
        text.Append(name);
        if (labels.Length > 0 || le is not null)
        {
            text.Append('{');
            bool first = true;
            for (int i = 0; i + 1 < labels.Length; i += 2)
            {
                if (!first) text.Append(',');
                first = false;
                AppendLabelName(text, labels[i]);
                text.Append("=\"");
                AppendLabelValue(text, labels[i + 1]);
                text.Append('"');
            }
            if (le is not null) text.Append(first ? "" : ",").Append("le=\"").Append(le).Append('"');
            text.Append('}');
        }
        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static void AppendLabelName(StringBuilder text, string name)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0])) text.Append('_');
        foreach (char c in name) text.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
    }

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    internal static void AppendLabelValue(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': text.Append("\\\\"); break;
                case '"': text.Append("\\\""); break;
                case '\n': text.Append("\\n"); break;
                default: text.Append(c); break;
            }
        }
    }

    private static string EscapeHelp(string help) => help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    internal static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);
}

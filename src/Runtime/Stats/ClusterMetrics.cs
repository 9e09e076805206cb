using System.Text;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Stats;

/// <summary>
/// The whole cluster's metrics in one Prometheus text (the head's <c>/metrics</c>, API.md §11): every alive node's
/// export, found in the GCS's node table, and the GCS process's own when it runs apart, each sample labelled with
/// <c>node_id</c> (<c>gcs</c> for the GCS process). Samples of one metric from all nodes are grouped under one
/// <c>TYPE</c> line, as the format requires.
/// </summary>
internal static class ClusterMetrics
{
    /// <summary>The internal KV entry (namespace, key) where a GCS in its own process advertises its metrics endpoint.</summary>
    public const string KvNamespace = "raysharp", GcsMetricsKey = "gcs_metrics_export_address";

    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Scrapes every node and returns the aggregated text. A node that does not answer is left out, with a
    /// comment line saying so (a scrape of the cluster still succeeds).</summary>
    public static async Task<string> ScrapeAllAsync(GcsClient gcs, CancellationToken ct = default)
    {
        var view = await gcs.GetAllNodesAsync(ct).ConfigureAwait(false);
        var targets = view.Nodes.Where(n => n.Alive && n.MetricsExportPort > 0)
            .Select(n => (Node: n.NodeId.ToString(), Url: $"http://{HostOf(n.RayletEndpoint)}:{n.MetricsExportPort}/metrics")).ToList();
        if (await gcs.KvGetAsync(KvNamespace, GcsMetricsKey, ct).ConfigureAwait(false) is { } gcsAddress)
            targets.Add(("gcs", $"http://{Encoding.UTF8.GetString(gcsAddress)}/metrics"));
        var texts = await Task.WhenAll(targets.Select(async t =>
        {
            try
            {
                return (t.Node, Text: await s_http.GetStringAsync(t.Url, ct).ConfigureAwait(false), Error: (string?)null);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return (t.Node, Text: "", Error: e.Message);
            }
        })).ConfigureAwait(false);
        return Aggregate(texts.Select(t => (t.Node, t.Text, t.Error)));
    }

    /// <summary>Joins node texts: each sample gets <c>node_id</c>, samples are grouped per metric family.</summary>
    internal static string Aggregate(IEnumerable<(string NodeId, string Text, string? Error)> nodes)
    {
        var families = new Dictionary<string, (string? Help, string? Type, StringBuilder Samples)>(StringComparer.Ordinal);
        var order = new List<string>();
        var notes = new StringBuilder();
        foreach (var (nodeId, text, error) in nodes)
        {
            if (error is not null)
            {
                notes.Append("# node ").Append(nodeId).Append(" was not scraped: ").Append(error.ReplaceLineEndings(" ")).Append('\n');
                continue;
            }
            string? current = null;
            foreach (var raw in text.Split('\n'))
            {
                string line = raw.TrimEnd('\r');
                if (line.Length == 0) continue;
                if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', 4);
                    if (parts.Length < 4) continue;
                    current = parts[2];
                    if (!families.TryGetValue(current, out var f))
                    {
                        families[current] = f = (null, null, new StringBuilder());
                        order.Add(current);
                    }
                    families[current] = parts[1] == "HELP" ? (f.Help ?? line, f.Type, f.Samples) : (f.Help, f.Type ?? line, f.Samples);
                    continue;
                }
                if (line[0] == '#') continue;
                string family = current ?? SampleName(line);
                if (!families.TryGetValue(family, out var target))
                {
                    families[family] = target = (null, null, new StringBuilder());
                    order.Add(family);
                }
                target.Samples.Append(WithNodeLabel(line, nodeId)).Append('\n');
            }
        }
        var output = new StringBuilder();
        output.Append(notes);
        foreach (var name in order)
        {
            var (help, type, samples) = families[name];
            if (help is not null) output.Append(help).Append('\n');
            if (type is not null) output.Append(type).Append('\n');
            output.Append(samples);
        }
        return output.ToString();
    }

    private static string SampleName(string line)
    {
        int end = line.IndexOfAny(['{', ' ']);
        return end < 0 ? line : line[..end];
    }

    /// <summary>Adds <c>node_id="…"</c> as the first label of a sample line.</summary>
    internal static string WithNodeLabel(string line, string nodeId)
    {
        int brace = line.IndexOf('{', StringComparison.Ordinal);
        int space = line.IndexOf(' ', StringComparison.Ordinal);
        var label = new StringBuilder("node_id=\"");
        PrometheusText.AppendLabelValue(label, nodeId);
        label.Append('"');
        if (brace >= 0 && (space < 0 || brace < space))
        {
            bool empty = brace + 1 < line.Length && line[brace + 1] == '}';
            return line[..(brace + 1)] + label + (empty ? "" : ",") + line[(brace + 1)..];
        }
        return space < 0 ? line : line[..space] + "{" + label + "}" + line[space..];
    }

    /// <summary>The host of a <c>host:port</c> endpoint (IPv6 hosts in brackets).</summary>
    internal static string HostOf(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        return colon <= 0 ? endpoint : endpoint[..colon];
    }
}

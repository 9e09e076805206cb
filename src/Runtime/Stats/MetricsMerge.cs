using RaySharp.Core.Rpc;

namespace RaySharp.Core.Stats;

/// <summary>Adds up the metrics of several processes (a node's own, its workers' and drivers' reports): series with
/// the same name and labels are summed, histogram buckets bucket by bucket.</summary>
internal static class MetricsMerge
{
    public static MetricFamily[] Merge(IEnumerable<IReadOnlyList<MetricFamily>> sources)
    {
        var families = new Dictionary<string, (MetricFamily First, Dictionary<string, MetricPoint> Points)>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            foreach (var family in source)
            {
                if (!families.TryGetValue(family.Name, out var merged))
                    families[family.Name] = merged = (family, new Dictionary<string, MetricPoint>(StringComparer.Ordinal));
                // Two processes disagreeing about an instrument (different versions): the first one's shape is kept.
                else if (merged.First.Kind != family.Kind || !SameBounds(merged.First.Bounds, family.Bounds)) continue;
                foreach (var point in family.Points)
                {
                    string key = string.Join('\u0001', point.Labels);
                    merged.Points[key] = merged.Points.TryGetValue(key, out var earlier) ? Add(earlier, point) : point;
                }
            }
        }
        return [.. families.Values.OrderBy(f => f.First.Name, StringComparer.Ordinal)
            .Select(f => f.First with { Points = [.. f.Points.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value)] })];
    }

    private static bool SameBounds(double[]? a, double[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    private static MetricPoint Add(MetricPoint a, MetricPoint b)
    {
        long[]? buckets = null;
        if (a.Buckets is not null && b.Buckets is not null && a.Buckets.Length == b.Buckets.Length)
        {
            buckets = new long[a.Buckets.Length];
            for (int i = 0; i < buckets.Length; i++) buckets[i] = a.Buckets[i] + b.Buckets[i];
        }
        return new MetricPoint(a.Labels, a.Value + b.Value, a.Count + b.Count, buckets ?? a.Buckets);
    }
}

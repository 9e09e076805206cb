using RaySharp.Core.Rpc;

namespace RaySharp.Core.Stats;

/// <summary>
/// What a node exports (Ray's per-node metrics agent): its own process's metrics plus the latest report of each worker
/// and driver on the node. Reports are cumulative, so the newest replaces the previous one. When a reporter goes away
/// (its worker died, or it stopped reporting) its counters and histograms are kept in a retired sum, so the node's
/// totals never go backwards; its gauges go with it. Everything is bounded: the number of reporters by the node's
/// worker limit, their series by <see cref="MaxSeriesPerReport"/>.
/// </summary>
internal sealed class NodeMetrics
{
    /// <summary>Most series (points) one report may carry in all.</summary>
    public const int MaxSeriesPerReport = 20_000;

    /// <summary>Most families one report may carry.</summary>
    public const int MaxFamiliesPerReport = 500;

    /// <summary>Most labels (name and value pairs) of one series.</summary>
    public const int MaxLabelsPerSeries = 16;

    private readonly Lock _lock = new();
    private readonly Dictionary<WorkerId, (MetricFamily[] Families, long At)> _reports = [];
    private MetricFamily[] _retired = [];
    private readonly Func<MetricFamily[]> _own;
    private readonly TimeSpan _staleAfter;

    /// <param name="own">This process's metrics (its collector).</param>
    /// <param name="reportInterval">How often reporters report: one silent for three intervals is retired.</param>
    public NodeMetrics(Func<MetricFamily[]> own, TimeSpan reportInterval)
    {
        _own = own;
        _staleAfter = reportInterval * 3 > TimeSpan.FromSeconds(5) ? reportInterval * 3 : TimeSpan.FromSeconds(5);
    }

    /// <summary>Reporters whose report is kept now.</summary>
    public int Reporters
    {
        get { lock (_lock) return _reports.Count; }
    }

    /// <summary>Takes a report (validated first: it comes from the wire).</summary>
    public void Report(MetricsReport report)
    {
        Validate(report);
        lock (_lock) _reports[report.Reporter] = (report.Families, Environment.TickCount64);
    }

    /// <summary>The reporter is gone (its worker died): its counters and histograms move to the retired sum.</summary>
    public void Retire(WorkerId reporter)
    {
        lock (_lock)
        {
            if (_reports.Remove(reporter, out var last)) RetireLocked(last.Families);
        }
    }

    /// <summary>The node's metrics: its own, the reporters', and the retired reporters' counters.</summary>
    public MetricFamily[] Collect()
    {
        var own = _own();
        List<IReadOnlyList<MetricFamily>> sources = [own];
        lock (_lock)
        {
            long now = Environment.TickCount64;
            foreach (var (reporter, (families, at)) in _reports.ToList())
            {
                if (now - at > (long)_staleAfter.TotalMilliseconds)
                {
                    _reports.Remove(reporter);
                    RetireLocked(families);
                }
                else sources.Add(families);
            }
            sources.Add(_retired);
        }
        return MetricsMerge.Merge(sources);
    }

    private void RetireLocked(MetricFamily[] families) =>
        _retired = MetricsMerge.Merge([_retired, [.. families.Where(f => f.Kind is MetricKind.Counter or MetricKind.Histogram)]]);

    /// <summary>Refuses a report with too many series, labels or families, or with values no instrument produces
    /// (NaN, infinite, negative counts, buckets that do not match their bounds).</summary>
    internal static void Validate(MetricsReport report)
    {
        if (report.Reporter.IsNil) throw WireValidation.Invalid("ReportMetrics: the reporter's worker ID is nil.");
        if (report.Families is null || report.Families.Length > MaxFamiliesPerReport)
            throw WireValidation.Invalid($"ReportMetrics from {report.Reporter}: at most {MaxFamiliesPerReport} metric families are accepted.");
        int series = 0;
        foreach (var f in report.Families)
        {
            if (f is null) throw WireValidation.Invalid($"ReportMetrics from {report.Reporter}: a metric family is missing.");
            if (string.IsNullOrEmpty(f.Name) || f.Name.Length > 200 || !f.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '/'))
                throw WireValidation.Invalid($"ReportMetrics from {report.Reporter}: a metric name is empty, overlong or has characters other than letters, digits, '.', '_', '-' and '/'.");
            WireValidation.Text(f.Unit, $"ReportMetrics: the unit of {f.Name}", allowEmpty: true);
            WireValidation.Text(f.Description, $"ReportMetrics: the description of {f.Name}", allowEmpty: true);
            if (!Enum.IsDefined(f.Kind)) throw WireValidation.Invalid($"ReportMetrics: {f.Name} has an unknown kind.");
            if (f.Kind == MetricKind.Histogram && (f.Bounds is not { Length: <= 100 } bounds || !bounds.All(double.IsFinite)))
                throw WireValidation.Invalid($"ReportMetrics: histogram {f.Name} has no bounds, more than 100, or ones that are not finite.");
            if (f.Points is null) throw WireValidation.Invalid($"ReportMetrics: {f.Name} has no points.");
            series += f.Points.Length;
            if (series > MaxSeriesPerReport) throw WireValidation.Invalid($"ReportMetrics from {report.Reporter}: at most {MaxSeriesPerReport} series are accepted.");
            foreach (var p in f.Points)
            {
                if (p?.Labels is not { } labels || labels.Length % 2 != 0 || labels.Length > 2 * MaxLabelsPerSeries || labels.Any(l => l is null || l.Length > 1024))
                    throw WireValidation.Invalid($"ReportMetrics: a series of {f.Name} has malformed labels (name/value pairs, at most {MaxLabelsPerSeries}, each up to 1024 characters).");
                if (!double.IsFinite(p.Value)) throw WireValidation.Invalid($"ReportMetrics: a series of {f.Name} has the value {p.Value}.");
                if (p.Count < 0) throw WireValidation.Invalid($"ReportMetrics: a series of {f.Name} has a negative count.");
                if (f.Kind == MetricKind.Histogram && (p.Buckets is not { } b || b.Length != f.Bounds!.Length + 1 || b.Any(c => c < 0)))
                    throw WireValidation.Invalid($"ReportMetrics: a series of histogram {f.Name} has bucket counts that do not match its bounds.");
            }
        }
    }
}

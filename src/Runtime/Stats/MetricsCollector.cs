using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Stats;

/// <summary>
/// Aggregates the measurements of one meter in this process (a <see cref="MeterListener"/>): counters and up-down
/// counters are summed, histograms bucketed, observable instruments read at each <see cref="Collect"/>. A node exports
/// what its collector holds; a worker or driver sends it to its raylet. Recording a measurement looks its series up
/// by its tags without allocating (up to three tags) and updates it with interlocked operations.
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    /// <summary>Most series one instrument keeps; measurements with further tag combinations are dropped (and counted),
    /// so a runaway label cannot exhaust memory.</summary>
    internal const int MaxSeriesPerInstrument = 2000;

    private static readonly Lazy<MetricsCollector> s_process = new(() => new MetricsCollector(RayMetrics.MeterName));

    private readonly MeterListener _listener;
    private readonly string _meterName;
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();
    private readonly Lock _collecting = new();
    private int _generation;
    private long _dropped;

    /// <summary>Listens to the instruments of the meter named <paramref name="meterName"/> (tests use meters of their own).</summary>
    public MetricsCollector(string meterName)
    {
        _meterName = meterName;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name != _meterName) return;
                var state = _instruments.GetOrAdd(instrument, i => new InstrumentState(i, this));
                listener.EnableMeasurementEvents(instrument, state);
            },
            MeasurementsCompleted = (instrument, _) => _instruments.TryRemove(instrument, out InstrumentState? _),
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>This process's collector of the <c>RaySharp</c> meter, started on first use (a node that exports, a
    /// worker or driver that reports). Until then the runtime's instruments are disabled and cost nothing.</summary>
    public static MetricsCollector Process => s_process.Value;

    /// <summary>Measurements dropped because an instrument had <see cref="MaxSeriesPerInstrument"/> series already.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The current values of every instrument that has any: observable instruments are read now.</summary>
    public MetricFamily[] Collect()
    {
        lock (_collecting)
        {
            int generation = Interlocked.Increment(ref _generation);
            foreach (var state in _instruments.Values) state.Generation = generation;
            _listener.RecordObservableInstruments();
            var families = new List<MetricFamily>(_instruments.Count);
            foreach (var state in _instruments.Values)
                if (state.Snapshot(generation) is { } family) families.Add(family);
            families.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return [.. families];
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>An instrument's series.</summary>
    private sealed class InstrumentState
    {
        private readonly ConcurrentDictionary<SeriesKey, Series> _series = new();
        private readonly MetricsCollector _owner;
        private readonly string _name, _unit, _description;
        private readonly MetricKind _kind;
        private readonly bool _observable;
        private readonly double[]? _bounds;

        public InstrumentState(Instrument instrument, MetricsCollector owner)
        {
            _owner = owner;
            _name = instrument.Name;
            _unit = instrument.Unit ?? "";
            _description = instrument.Description ?? "";
            var type = instrument.GetType().GetGenericTypeDefinition();
            _observable = instrument.IsObservable;
            _kind = type == typeof(Counter<>) || type == typeof(ObservableCounter<>) ? MetricKind.Counter
                : type == typeof(UpDownCounter<>) || type == typeof(ObservableUpDownCounter<>) ? MetricKind.UpDownCounter
                : type == typeof(Histogram<>) ? MetricKind.Histogram
                : MetricKind.Gauge;
            if (_kind == MetricKind.Histogram)
                _bounds = instrument is Histogram<double> { Advice.HistogramBucketBoundaries: { } b } ? [.. b]
                    : instrument is Histogram<long> { Advice.HistogramBucketBoundaries: { } lb } ? [.. lb.Select(v => (double)v)]
                    : [.. RayMetrics.SecondsBuckets];
        }

        /// <summary>Set before observable instruments are read: their values of earlier collections are not reported.</summary>
        public int Generation { get; set; }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (double.IsNaN(value)) return;
            var key = new SeriesKey(tags);
            if (!_series.TryGetValue(key, out var series))
            {
                if (_series.Count >= MaxSeriesPerInstrument)
                {
                    Interlocked.Increment(ref _owner._dropped);
                    return;
                }
                series = _series.GetOrAdd(key, k => new Series(k.Labels(), _bounds));
            }
            if (_observable) series.Observe(value, Generation);
            else if (_kind == MetricKind.Histogram) series.RecordHistogram(value, _bounds!);
            else series.Add(value);
        }

        public MetricFamily? Snapshot(int generation)
        {
            var points = new List<MetricPoint>(_series.Count);
            foreach (var series in _series.Values)
            {
                if (_observable && series.Generation != generation) continue;
                points.Add(series.ToPoint());
            }
            if (points.Count == 0) return null;
            return new MetricFamily(_name, _unit, _description, _kind, _bounds, [.. points]);
        }
    }

    /// <summary>One series' value; a histogram's sum, count and buckets.</summary>
    private sealed class Series(string[] labels, double[]? bounds)
    {
        private double _value;
        private long _count;
        private readonly long[]? _buckets = bounds is null ? null : new long[bounds.Length + 1];

        public int Generation;

        public void Add(double value)
        {
            double current = Volatile.Read(ref _value);
            while (true)
            {
                double seen = Interlocked.CompareExchange(ref _value, current + value, current);
                if (seen.Equals(current)) return;
                current = seen;
            }
        }

        /// <summary>An observable instrument's value for this collection; several sources with the same tags add up.</summary>
        public void Observe(double value, int generation)
        {
            if (Generation != generation)
            {
                Generation = generation;
                Volatile.Write(ref _value, value);
            }
            else Add(value);
        }

        public void RecordHistogram(double value, double[] bounds)
        {
            int i = 0;
            while (i < bounds.Length && value > bounds[i]) i++;
            Interlocked.Increment(ref _buckets![i]);
            Interlocked.Increment(ref _count);
            Add(value);
        }

        public MetricPoint ToPoint() => _buckets is null
            ? new MetricPoint(labels, Volatile.Read(ref _value))
            : new MetricPoint(labels, Volatile.Read(ref _value), Interlocked.Read(ref _count), [.. _buckets]);
    }

    /// <summary>
    /// The tags of a measurement as a dictionary key: up to three name/value pairs held inline (the runtime's instruments
    /// have at most three tags), more in an array. Built from the measurement's span without allocating unless a tag value
    /// is not a string.
    /// </summary>
    private readonly struct SeriesKey : IEquatable<SeriesKey>
    {
        private readonly string? _k0, _v0, _k1, _v1, _k2, _v2;
        private readonly string[]? _more;
        private readonly int _count;
        private readonly int _hash;

        public SeriesKey(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            _count = tags.Length;
            var hash = new HashCode();
            for (int i = 0; i < tags.Length; i++)
            {
                string k = tags[i].Key, v = Text(tags[i].Value);
                hash.Add(k);
                hash.Add(v);
                switch (i)
                {
                    case 0: (_k0, _v0) = (k, v); break;
                    case 1: (_k1, _v1) = (k, v); break;
                    case 2: (_k2, _v2) = (k, v); break;
                    default:
                        _more ??= new string[2 * (tags.Length - 3)];
                        _more[2 * (i - 3)] = k;
                        _more[2 * (i - 3) + 1] = v;
                        break;
                }
            }
            _hash = hash.ToHashCode();
        }

        private static string Text(object? value) => value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";

        /// <summary>The labels sorted by name, as name, value, name, value...</summary>
        public string[] Labels()
        {
            var pairs = new List<(string Key, string Value)>(_count);
            if (_count > 0) pairs.Add((_k0!, _v0!));
            if (_count > 1) pairs.Add((_k1!, _v1!));
            if (_count > 2) pairs.Add((_k2!, _v2!));
            for (int i = 0; _more is not null && i < _more.Length; i += 2) pairs.Add((_more[i], _more[i + 1]));
            pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            var labels = new string[2 * pairs.Count];
            for (int i = 0; i < pairs.Count; i++) (labels[2 * i], labels[2 * i + 1]) = pairs[i];
            return labels;
        }

        public bool Equals(SeriesKey other) =>
            _hash == other._hash && _count == other._count
            && _k0 == other._k0 && _v0 == other._v0 && _k1 == other._k1 && _v1 == other._v1 && _k2 == other._k2 && _v2 == other._v2
            && (_more is null ? other._more is null : other._more is not null && _more.AsSpan().SequenceEqual(other._more));

        public override bool Equals(object? obj) => obj is SeriesKey other && Equals(other);

        public override int GetHashCode() => _hash;
    }
}

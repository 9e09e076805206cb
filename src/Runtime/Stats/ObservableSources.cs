using System.Diagnostics.Metrics;

namespace RaySharp.Core.Stats;

/// <summary>
/// The components an observable instrument reads when it is collected. Instruments are static (one per process) while
/// the components that hold the values — a raylet's worker pool, a GCS's actor table — come and go (a test process
/// hosts many), so each component registers a callback here for as long as it lives.
/// </summary>
internal sealed class ObservableSources<T> where T : struct
{
    private readonly Lock _lock = new();
    private Func<IEnumerable<Measurement<T>>>[] _sources = [];

    /// <summary>Adds a source; disposing the result removes it.</summary>
    public IDisposable Add(Func<IEnumerable<Measurement<T>>> source)
    {
        lock (_lock) _sources = [.. _sources, source];
        return new Removal(this, source);
    }

    /// <summary>The measurements of every source (the instrument's callback). A source that throws is skipped: one
    /// broken component must not hide the others' values.</summary>
    public IEnumerable<Measurement<T>> Observe()
    {
        var sources = Volatile.Read(ref _sources);
        var all = new List<Measurement<T>>();
        foreach (var source in sources)
        {
            try
            {
                all.AddRange(source());
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A component disposed while it was read; the next collection no longer asks it.
            }
        }
        return all;
    }

    private void Remove(Func<IEnumerable<Measurement<T>>> source)
    {
        lock (_lock) _sources = [.. _sources.Where(s => s != source)];
    }

    private sealed class Removal(ObservableSources<T> owner, Func<IEnumerable<Measurement<T>>> source) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) owner.Remove(source);
        }
    }
}

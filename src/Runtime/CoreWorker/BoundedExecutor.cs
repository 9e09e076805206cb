using System.Collections.Concurrent;

namespace RaySharp.Core;

/// <summary>
/// At most a fixed number of dedicated threads draining one FIFO queue (Ray's <c>BoundedExecutor</c>): where a
/// worker runs blocking work — its tasks, a sync actor's calls, a threaded actor's sync calls. Work starts in the
/// order it was posted. A thread is started only when work is posted and every thread there is busy, so an executor
/// sized for a threaded actor's <c>MaxConcurrency</c> costs the threads its load needs, never more than that bound
/// and never a thread per item.
/// </summary>
internal sealed class BoundedExecutor : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Lock _lock = new();
    private readonly string _name;
    private int _maxThreads;
    private int _threads;
    // Posted and not yet finished: queued plus running. More than the threads there are means none is free.
    private int _outstanding;

    /// <param name="maxThreads">The most threads the executor will ever run (at least 1).</param>
    /// <param name="name">Names the threads, for debuggers and dumps.</param>
    public BoundedExecutor(int maxThreads, string name)
    {
        _maxThreads = Math.Max(1, maxThreads);
        _name = name;
    }

    /// <summary>The most threads the executor will run.</summary>
    public int MaxThreads => Volatile.Read(ref _maxThreads);

    /// <summary>The threads started so far.</summary>
    public int Threads => Volatile.Read(ref _threads);

    /// <summary>Raises the bound to <paramref name="maxThreads"/> (never lowers it): a worker whose actor turns out to
    /// be threaded runs its calls on up to <c>MaxConcurrency</c> threads.</summary>
    public void RaiseBound(int maxThreads)
    {
        lock (_lock) _maxThreads = Math.Max(_maxThreads, maxThreads);
    }

    /// <summary>Queues <paramref name="work"/>; false once the executor is completed (nothing will run it).</summary>
    public bool TryPost(Action work)
    {
        try
        {
            Interlocked.Increment(ref _outstanding);
            _queue.Add(work);
        }
        catch (InvalidOperationException)
        {
            Interlocked.Decrement(ref _outstanding);
            return false;
        }
        if (Volatile.Read(ref _outstanding) > Volatile.Read(ref _threads)) StartThreadIfAllowed();
        return true;
    }

    private void StartThreadIfAllowed()
    {
        lock (_lock)
        {
            if (_threads >= _maxThreads || Volatile.Read(ref _outstanding) <= _threads) return;
            int index = _threads;
            new Thread(Run) { IsBackground = true, Name = index == 0 ? _name : $"{_name} #{index}" }.Start();
            Volatile.Write(ref _threads, index + 1);
        }
    }

    private void Run()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
        {
            try
            {
                work();
            }
            finally
            {
                Interlocked.Decrement(ref _outstanding);
            }
        }
    }

    /// <summary>Accepts no more work; what is queued still runs, then the threads end.</summary>
    public void Complete() => _queue.CompleteAdding();

    public void Dispose() => Complete();
}

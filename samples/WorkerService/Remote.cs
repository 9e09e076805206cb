using RaySharp;

namespace WorkerService;

/// <summary>The work the service hands to the cluster.</summary>
public static partial class Scoring
{
    /// <summary>A score for one batch, computed in a worker process.</summary>
    [RayRemote]
    public static long Score(int batch) => Enumerable.Range(1, 1000).Sum(i => (long)i * batch % 97);

    /// <summary>The worker process a task runs in.</summary>
    [RayRemote]
    public static int ProcessId() => Environment.ProcessId;
}

/// <summary>An actor that keeps a running total across the service's iterations.</summary>
[RayRemote]
public partial class Tally
{
    private long _total;
    private int _count;

    public long Add(long score)
    {
        _count++;
        return _total += score;
    }

    public int Count() => _count;
}

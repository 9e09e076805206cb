using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace RaySharp.Benchmarks;

/// <summary>
/// Samples this process's allocations by type while enabled (<c>--allocations</c>): the runtime raises a
/// <c>GCAllocationTick</c> event about every 100 KB allocated, naming the type of the object that crossed the mark, so the
/// types' shares of the ticks estimate their shares of the bytes. Enough to see which types a row's calls allocate most,
/// without an external profiler.
/// </summary>
internal sealed class AllocationProfiler : EventListener
{
    private const int GcKeyword = 0x1;
    private const int AllocationTickEventId = 10;

    private readonly ConcurrentDictionary<string, long> _bytesByType = new();
    private volatile bool _recording;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_recording || e.EventId != AllocationTickEventId || e.Payload is null || e.PayloadNames is null) return;
        int typeIndex = e.PayloadNames.IndexOf("TypeName");
        int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        if (typeIndex < 0) return;
        string type = e.Payload[typeIndex] as string ?? "?";
        long amount = amountIndex >= 0 ? Convert.ToInt64(e.Payload[amountIndex], CultureInfo.InvariantCulture) : 100 * 1024;
        _bytesByType.AddOrUpdate(type, amount, (_, total) => total + amount);
    }

    /// <summary>Starts counting, forgetting what was counted before.</summary>
    public void Start()
    {
        _bytesByType.Clear();
        _recording = true;
    }

    /// <summary>Stops counting; the <paramref name="top"/> types with their estimated bytes per operation.</summary>
    public IReadOnlyList<(string Type, double BytesPerOperation, double Share)> Stop(long operations, int top = 12)
    {
        _recording = false;
        long total = _bytesByType.Values.Sum();
        if (total == 0 || operations == 0) return [];
        return [.. _bytesByType.OrderByDescending(kv => kv.Value).Take(top)
            .Select(kv => (kv.Key, (double)kv.Value / operations, (double)kv.Value / total))];
    }
}

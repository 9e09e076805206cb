namespace RaySharp.Core;

/// <summary>
/// The owner's in-process store of small objects and errors (Ray's <c>CoreWorkerMemoryStore</c>). Readers
/// wait on an object until it is put; putting completes every waiter.
/// </summary>
internal sealed class CoreWorkerMemoryStore
{
    private sealed class Entry
    {
        public RayObject? Object;
        public TaskCompletionSource<RayObject>? Waiter;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<ObjectId, Entry> _entries = [];

    public void Put(ObjectId id, RayObject obj)
    {
        TaskCompletionSource<RayObject>? waiter;
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var e)) _entries[id] = e = new Entry();
            if (e.Object is not null) return; // objects are immutable: the first value wins (e.g. a retried task)
            e.Object = obj;
            waiter = e.Waiter;
            e.Waiter = null;
        }
        waiter?.TrySetResult(obj);
    }

    public bool TryGet(ObjectId id, out RayObject obj)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var e) && e.Object is { } o) { obj = o; return true; }
        }
        obj = null!;
        return false;
    }

    public bool Contains(ObjectId id) => TryGet(id, out _);

    /// <summary>Replaces the value of an object that holds <paramref name="expected"/> (the same instance) with
    /// <paramref name="value"/>: a lost object's new location or its error. False when the object holds something else
    /// (replaced meanwhile) or nothing.</summary>
    public bool Replace(ObjectId id, RayObject expected, RayObject value)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var e) || !ReferenceEquals(e.Object, expected)) return false;
            e.Object = value;
            return true;
        }
    }

    /// <summary>A task that completes when the object is put (already completed if it is here).</summary>
    public Task<RayObject> WhenAvailable(ObjectId id)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var e)) _entries[id] = e = new Entry();
            if (e.Object is { } o) return Task.FromResult(o);
            e.Waiter ??= new TaskCompletionSource<RayObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            return e.Waiter.Task;
        }
    }

    /// <summary>Frees the object's value. Waiters, if any, keep waiting (an object is only freed out of scope,
    /// and an out-of-scope object has no reader left).</summary>
    public void Delete(ObjectId id)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var e) && e.Waiter is null) _entries.Remove(id);
            else if (e is not null) e.Object = null;
        }
    }

    /// <summary>Fails every object still being waited on (shutdown).</summary>
    public void FailAllWaiters(RayErrorInfo error)
    {
        List<TaskCompletionSource<RayObject>> waiters;
        lock (_lock)
        {
            waiters = _entries.Values.Where(e => e.Waiter is not null).Select(e => e.Waiter!).ToList();
            foreach (var e in _entries.Values) e.Waiter = null;
        }
        var obj = RayObject.FromError(error);
        foreach (var w in waiters) w.TrySetResult(obj);
    }

    public int Count
    {
        get { lock (_lock) return _entries.Count(e => e.Value.Object is not null); }
    }
}

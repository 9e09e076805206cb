using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaySharp.Core.Raylet;

/// <summary>Where a store keeps its objects and how much it may hold.</summary>
/// <param name="Capacity">The hard limit on the bytes of objects held in memory (<c>object_store_memory</c>).</param>
/// <param name="Directory">Where objects are allocated: a directory on <c>/dev/shm</c> (tmpfs), so that every process
/// of the node maps the same pages.</param>
/// <param name="FallbackDirectory">Where objects go when <paramref name="Directory"/> has no room left although the
/// store's capacity has (a small <c>/dev/shm</c>): files on disk, mapped the same way, slower.</param>
/// <param name="SpillDirectory">Where primary copies are spilled under memory pressure.</param>
internal sealed record PlasmaStoreOptions(long Capacity, string Directory, string FallbackDirectory, string SpillDirectory)
{
    /// <summary>Spilling fuses objects into files of at least this many bytes when that many are spillable
    /// (Ray's <c>min_spilling_size</c>).</summary>
    public long MinSpillingSize { get; init; } = 100L * 1024 * 1024;

    /// <summary>How long a create waits for memory after evicting, collecting garbage and spilling have not made
    /// room, before it fails with <see cref="ObjectStoreFullException"/>.</summary>
    public TimeSpan FullGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A directory of this store alone that goes with it (local mode's scratch directory); null: none.</summary>
    public string? OwnedRoot { get; init; }
}

/// <summary>The outcome of a create.</summary>
internal enum PlasmaCreateStatus : byte
{
    /// <summary>The object is allocated at the returned path; write it, then seal it.</summary>
    Created,

    /// <summary>The object exists already (sealed or being written): objects are immutable, nothing to write.</summary>
    AlreadyExists,
}

/// <summary>A stored object as a client reaches it: the file to map and its size.</summary>
internal readonly record struct PlasmaObjectLocation(string Path, long Size);

/// <summary>One object of the store, as <c>raysharp memory</c> shows it.</summary>
internal sealed record PlasmaObjectInfo(ObjectId ObjectId, long Size, bool IsPrimary, bool IsSealed, int Readers, bool IsSpilled,
    Address? Owner, bool OnFallback);

/// <summary>The store's figures.</summary>
internal sealed record PlasmaStoreStats(long Capacity, long Used, int Objects, long SpilledBytes, int SpilledObjects, long RestoredBytes,
    long EvictedBytes, long FallbackBytes, int SpillFiles);

/// <summary>
/// A node's shared-memory object store (Ray's plasma store). Each object is a file the store allocates under
/// <see cref="PlasmaStoreOptions.Directory"/>; its creator maps it, writes it once and seals it; readers map it
/// read-only and deserialize from the mapping. The store counts each client's readers per object, never evicts or
/// spills an object while it is read, and keeps the hard capacity: a create that does not fit first evicts
/// secondary copies (least recently used first), then asks the node's workers to collect garbage, then spills
/// primary copies to disk (several per file), and fails with <see cref="ObjectStoreFullException"/> only when none
/// of that has made room within the grace period. Creates wait in arrival order.
/// </summary>
internal sealed partial class PlasmaStore : IDisposable
{
    private sealed class Entry(ObjectId id, long size, bool primary, Address? owner, string creator)
    {
        public ObjectId Id { get; } = id;
        public long Size { get; } = size;
        public bool Primary { get; set; } = primary;
        public Address? Owner { get; } = owner;
        public string Creator { get; } = creator;

        /// <summary>Who is writing it now: its creator, or the store itself while it restores a spilled copy.</summary>
        public string Writer { get; set; } = creator;
        public string? Path { get; set; }
        public bool InMemory => Path is not null;
        public bool OnFallback { get; set; }
        public bool Sealed { get; set; }
        public TaskCompletionSource? SealedSignal { get; set; }
        public Dictionary<string, int> Readers { get; } = [];
        public int ReaderCount { get; set; }
        public long LastAccess { get; set; }
        public SpillFile? Spilled { get; set; }
        public long SpillOffset { get; set; }
        public bool Freed { get; set; }

        /// <summary>The file was deleted while mapped (freed under a reader): nothing to recycle.</summary>
        public bool Unlinked { get; set; }

        /// <summary>A recycled file to rename into place instead of allocating a new one.</summary>
        public string? Reuse { get; set; }
    }

    private sealed class SpillFile(string path)
    {
        public string Path { get; } = path;
        public int Live { get; set; }
    }

    private readonly PlasmaStoreOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<ObjectId, Entry> _objects = [];
    private readonly SemaphoreSlim _createQueue = new(1, 1);
    // Files of freed objects kept for reuse (as Ray's arena keeps its pages): a put into a recycled file is a plain copy,
    // with no pages to allocate, zero and later free. They count against the capacity and go first under pressure.
    private readonly List<(string Path, long Size)> _pool = [];
    private long _pooledBytes;
    private TaskCompletionSource _spaceFreed = NewSignal();
    private long _used;
    private long _accessClock;
    private long _spilledBytes, _restoredBytes, _evictedBytes, _fallbackBytes;
    private int _spillFiles;
    private bool _fallbackLogged;
    private bool _disposed;

    /// <param name="options">Capacity and directories.</param>
    /// <param name="requestGarbageCollection">Asks the node's workers to collect garbage (released refs free
    /// objects); completes when they have. Null: this step is skipped.</param>
    /// <param name="logger">The store's log.</param>
    public PlasmaStore(PlasmaStoreOptions options, Func<CancellationToken, Task>? requestGarbageCollection = null, ILogger<PlasmaStore>? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Capacity);
        _options = options;
        RequestGarbageCollection = requestGarbageCollection;
        _logger = logger ?? NullLogger<PlasmaStore>.Instance;
        foreach (var dir in (string[])[options.Directory, options.FallbackDirectory, options.SpillDirectory])
            if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(dir);
            else System.IO.Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Asks the node's workers to collect garbage under memory pressure (set by the raylet once its workers
    /// can be reached).</summary>
    public Func<CancellationToken, Task>? RequestGarbageCollection { get; set; }

    /// <summary>Called for each primary copy spilled, with its owner and its URL
    /// (<c>file://path?offset=N&amp;size=M</c>), so the owner can record where it went.</summary>
    public Action<ObjectId, Address, string>? ObjectSpilled { get; set; }

    public long Capacity => _options.Capacity;

    public long Used
    {
        get { lock (_lock) return _used; }
    }

    /// <summary>
    /// Allocates an object of <paramref name="size"/> bytes for <paramref name="client"/> to write. A primary copy is
    /// the one its producer writes (pinned for its owner until freed); a secondary copy is made by a transfer and may
    /// be evicted.
    /// </summary>
    /// <exception cref="ObjectStoreFullException">The object is larger than the store, or no room was made within the
    /// grace period.</exception>
    public async Task<(PlasmaCreateStatus Status, PlasmaObjectLocation Location)> CreateAsync(ObjectId id, long size, bool primary,
        Address? owner, string client, CancellationToken ct)
    {
        if (size <= 0 || size > StoreMapping.MaxObjectSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"A stored object has 1 to {StoreMapping.MaxObjectSize} bytes.");
        if (size > _options.Capacity)
            throw new ObjectStoreFullException(
                $"Object {id} has {Bytes(size)}, more than the whole object store of this node ({Bytes(_options.Capacity)}). " +
                "Start the node with a larger --object-store-memory (RayOptions.ObjectStoreMemory), or split the object.");
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_objects.TryGetValue(id, out var existing) && !existing.Freed)
                return (PlasmaCreateStatus.AlreadyExists, new PlasmaObjectLocation(existing.Path ?? "", existing.Size));
        }
        await _createQueue.WaitAsync(ct).ConfigureAwait(false);
        Entry? entry;
        try
        {
            entry = await ReserveAsync(id, size, primary, owner, client, ct).ConfigureAwait(false);
        }
        finally
        {
            _createQueue.Release();
        }
        if (entry is null) return (PlasmaCreateStatus.AlreadyExists, new PlasmaObjectLocation("", size));
        try
        {
            AllocateFile(entry);
        }
        catch
        {
            lock (_lock)
            {
                _objects.Remove(id);
                _used -= size;
            }
            SignalSpaceFreed();
            throw;
        }
        return (PlasmaCreateStatus.Created, new PlasmaObjectLocation(entry.Path!, size));
    }

    /// <summary>Reserves capacity, in Ray's order under pressure: evict, collect garbage, spill, wait, fail.</summary>
    private Task<Entry?> ReserveAsync(ObjectId id, long size, bool primary, Address? owner, string client, CancellationToken ct) =>
        ReserveLoopAsync(id, size, collectGarbage: true, () =>
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_objects.TryGetValue(id, out var existing) && !existing.Freed) return (true, (Entry?)null);
            var reuse = TakeFromPoolLocked(size);
            if (!MakeRoomLocked(size))
            {
                if (reuse is { } file) ReturnToPoolLocked(file);
                return (false, null);
            }
            var entry = new Entry(id, size, primary, owner, client)
            {
                Path = ObjectPath(_options.Directory, id), LastAccess = ++_accessClock, Reuse = reuse?.Path,
            };
            _objects[id] = entry;
            _used += size;
            return (true, entry);
        }, ct);

    /// <summary>Room for <paramref name="size"/> more bytes: recycled files given up, then secondary copies evicted, as
    /// far as needed. True when it fits now.</summary>
    private bool MakeRoomLocked(long size)
    {
        TrimPoolLocked(size);
        if (_used + size > _options.Capacity) EvictLocked(_used + size - _options.Capacity);
        return _used + size <= _options.Capacity;
    }

    /// <summary>
    /// Calls <paramref name="attemptLocked"/> (under the lock) until it is done — it reserved, or found there is nothing
    /// to reserve — making room in Ray's order meanwhile: ask the workers to collect garbage (once, with
    /// <paramref name="collectGarbage"/>), spill primary copies, wait for frees; and fails with
    /// <see cref="ObjectStoreFullException"/> when none of that made room within the grace period.
    /// </summary>
    private async Task<T> ReserveLoopAsync<T>(ObjectId id, long size, bool collectGarbage, Func<(bool Done, T Result)> attemptLocked,
        CancellationToken ct)
    {
        bool collected = !collectGarbage;
        var waited = Stopwatch.StartNew();
        while (true)
        {
            Task freed;
            lock (_lock)
            {
                var (done, result) = attemptLocked();
                if (done) return result;
                freed = _spaceFreed.Task;
            }
            if (!collected && RequestGarbageCollection is { } collect)
            {
                collected = true;
                try
                {
                    await collect(ct).WaitAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
                    // The frees the finalizers sent are on their way: give them a moment before spilling instead.
                    await freed.WaitAsync(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    LogGcRequestFailed(_logger, e);
                }
                continue;
            }
            if (await SpillAsync(size, ct).ConfigureAwait(false) > 0) continue;
            var left = _options.FullGracePeriod - waited.Elapsed;
            if (left <= TimeSpan.Zero) throw Full(id, size);
            // Wait for a free or a release (or the end of the grace period), then try again.
            try
            {
                await freed.WaitAsync(left, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    private ObjectStoreFullException Full(ObjectId id, long size)
    {
        long primary = 0, secondary = 0, read = 0, unsealed = 0;
        int count = 0;
        lock (_lock)
        {
            foreach (var e in _objects.Values)
            {
                if (!e.InMemory) continue;
                count++;
                if (!e.Sealed) unsealed += e.Size;
                else if (e.ReaderCount > 0) read += e.Size;
                else if (e.Primary) primary += e.Size;
                else secondary += e.Size;
            }
        }
        return new ObjectStoreFullException(
            $"Object {id} ({Bytes(size)}) does not fit in this node's object store: {Bytes(Used)} of {Bytes(_options.Capacity)} are held by " +
            $"{count} objects ({Bytes(read)} being read, {Bytes(unsealed)} being written, {Bytes(primary)} primary copies that could not be " +
            $"spilled, {Bytes(secondary)} secondary copies), and evicting, collecting garbage and spilling made no room within " +
            $"{_options.FullGracePeriod.TotalSeconds:0.#} s. Release refs you no longer need, or give the node a larger --object-store-memory.");
    }

    private void AllocateFile(Entry entry)
    {
        if (entry.Reuse is { } recycled)
        {
            entry.Reuse = null;
            try
            {
                File.Move(recycled, entry.Path!);
                using var stream = new FileStream(entry.Path!, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                if (stream.Length != entry.Size) stream.SetLength(entry.Size); // only ever shrinks: its tail pages go
                return;
            }
            catch (IOException e)
            {
                LogDeleteFailed(_logger, e, recycled);
                TryDelete(recycled);
            }
        }
        try
        {
            CreateFile(entry!.Path!, entry.Size);
        }
        catch (IOException e)
        {
            // The shared-memory file system is smaller than the store's capacity: fall back to files on disk.
            string fallback = ObjectPath(_options.FallbackDirectory, entry.Id);
            TryDelete(entry.Path!);
            CreateFile(fallback, entry.Size);
            lock (_lock)
            {
                entry.Path = fallback;
                entry.OnFallback = true;
                _fallbackBytes += entry.Size;
                if (!_fallbackLogged)
                {
                    _fallbackLogged = true;
                    LogFallback(_logger, e, _options.Directory, _options.FallbackDirectory);
                }
            }
        }
    }

    private static void CreateFile(string path, long size)
    {
        // Preallocated (fallocate), so a full tmpfs fails here rather than with SIGBUS when the writer touches a page.
        using var stream = new FileStream(path, PrivateFile(new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
            PreallocationSize = size,
        }));
        stream.SetLength(size);
    }

    /// <summary>The creator has written the object: it becomes immutable and visible to readers.</summary>
    public void Seal(ObjectId id)
    {
        TaskCompletionSource? signal;
        lock (_lock)
        {
            if (!_objects.TryGetValue(id, out var e) || e.Freed || !e.InMemory)
                throw new InvalidOperationException($"Object {id} is not being created in this store.");
            if (e.Sealed) return;
            e.Sealed = true;
            e.LastAccess = ++_accessClock;
            signal = e.SealedSignal;
            e.SealedSignal = null;
        }
        signal?.TrySetResult();
    }

    /// <summary>Drops an object its writer did not finish (the writer failed or died before sealing). With
    /// <paramref name="client"/>, only if that client is the one writing it.</summary>
    public void Abort(ObjectId id, string? client = null)
    {
        TaskCompletionSource? signal;
        lock (_lock)
        {
            if (!_objects.TryGetValue(id, out var e) || e.Sealed || (client is not null && e.Writer != client)) return;
            _objects.Remove(id);
            RemoveFromMemoryLocked(e);
            signal = e.SealedSignal;
        }
        signal?.TrySetResult();
        SignalSpaceFreed();
    }

    /// <summary>
    /// A sealed object for <paramref name="client"/> to read, counted as one more reader until
    /// <see cref="Release"/>; restored from disk first if it was spilled; waits while the object is being written.
    /// Null when this store holds no copy.
    /// </summary>
    public async Task<PlasmaObjectLocation?> GetAsync(ObjectId id, string client, CancellationToken ct)
    {
        while (true)
        {
            Task? sealing = null;
            Entry? spilled = null;
            lock (_lock)
            {
                if (!_objects.TryGetValue(id, out var e) || e.Freed) return null;
                if (e.InMemory && e.Sealed)
                {
                    AddReaderLocked(e, client);
                    return new PlasmaObjectLocation(e.Path!, e.Size);
                }
                if (e.InMemory) sealing = (e.SealedSignal ??= NewSignal()).Task;
                else spilled = e;
            }
            if (sealing is not null) await sealing.WaitAsync(ct).ConfigureAwait(false);
            else await RestoreAsync(spilled!, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The owner of an object held here (null when unknown).</summary>
    public Address? OwnerOf(ObjectId id)
    {
        lock (_lock) return _objects.TryGetValue(id, out var e) ? e.Owner : null;
    }

    /// <summary>Whether the store holds a sealed copy in memory (does not count as a read).</summary>
    public bool Contains(ObjectId id)
    {
        lock (_lock) return _objects.TryGetValue(id, out var e) && !e.Freed && e.Sealed;
    }

    public void Release(ObjectId id, string client)
    {
        bool released;
        lock (_lock)
        {
            if (!_objects.TryGetValue(id, out var e)) return;
            released = ReleaseReaderLocked(e, client);
        }
        if (released) SignalSpaceFreed();
    }

    /// <summary>The owner released the object: its copy here goes (at once, or when its last reader releases it),
    /// spilled bytes included.</summary>
    public void Free(ObjectId id)
    {
        lock (_lock)
        {
            if (!_objects.TryGetValue(id, out var e) || e.Freed) return;
            e.Freed = true;
            ReleaseSpillLocked(e);
            if (e.ReaderCount > 0 && e.InMemory)
            {
                // Mapped by readers: the name goes now, the memory when they let go.
                TryDelete(e.Path!);
                e.Unlinked = true;
                return;
            }
            _objects.Remove(id);
            RemoveFromMemoryLocked(e);
        }
        SignalSpaceFreed();
    }

    /// <summary>The owner <paramref name="owner"/> is gone: the objects it owned can never be read again (their refs
    /// fail with OwnerDied), so every copy here goes.</summary>
    public int FreeOwnedBy(WorkerId owner)
    {
        List<ObjectId> owned;
        lock (_lock) owned = [.. _objects.Values.Where(e => !e.Freed && e.Owner?.WorkerId == owner).Select(e => e.Id)];
        foreach (var id in owned) Free(id);
        return owned.Count;
    }

    /// <summary>A client (a worker or driver of the node) is gone: its reads end and what it was writing is dropped.</summary>
    public void DisconnectClient(string client)
    {
        List<ObjectId> unsealed = [];
        List<(ObjectId, int)> reads = [];
        lock (_lock)
        {
            foreach (var e in _objects.Values)
            {
                if (!e.Sealed && e.Writer == client && e.InMemory) unsealed.Add(e.Id);
                if (e.Readers.TryGetValue(client, out int n)) reads.Add((e.Id, n));
            }
        }
        foreach (var id in unsealed) Abort(id, client);
        foreach (var (id, n) in reads)
            for (int i = 0; i < n; i++) Release(id, client);
    }

    /// <summary>Every object, for <c>raysharp memory</c>.</summary>
    public IReadOnlyList<PlasmaObjectInfo> List()
    {
        lock (_lock)
            return [.. _objects.Values.Where(e => !e.Freed).Select(e => new PlasmaObjectInfo(e.Id, e.Size, e.Primary, e.Sealed, e.ReaderCount,
                e.Spilled is not null, e.Owner, e.OnFallback))];
    }

    /// <summary>Whether the store holds a primary copy of any object, in memory or spilled (removing the node would lose
    /// it): such a node is not idle for the autoscaler.</summary>
    public bool HoldsPrimaryCopies()
    {
        lock (_lock) return _objects.Values.Any(e => e.Primary && !e.Freed);
    }

    public PlasmaStoreStats Stats()
    {
        lock (_lock)
            return new PlasmaStoreStats(_options.Capacity, _used, _objects.Values.Count(e => e.InMemory && !e.Freed),
                _objects.Values.Where(e => e.Spilled is not null && !e.Freed).Sum(e => e.Size),
                _objects.Values.Count(e => e.Spilled is not null && !e.Freed), _restoredBytes, _evictedBytes, _fallbackBytes, _spillFiles);
    }

    // ---- Eviction ----

    /// <summary>Evicts sealed secondary copies nobody reads, least recently used first, until
    /// <paramref name="needed"/> bytes are free or none is left.</summary>
    private void EvictLocked(long needed)
    {
        long evicted = 0;
        foreach (var e in _objects.Values.Where(e => e.InMemory && e.Sealed && !e.Primary && e.ReaderCount == 0 && e.Spilled is null)
                     .OrderBy(e => e.LastAccess).ToList())
        {
            if (evicted >= needed) break;
            _objects.Remove(e.Id);
            RemoveFromMemoryLocked(e);
            evicted += e.Size;
            _evictedBytes += e.Size;
        }
        // A restored copy of a spilled object is secondary too: drop the memory, keep the spilled bytes.
        foreach (var e in _objects.Values.Where(e => e.InMemory && e.Sealed && e.ReaderCount == 0 && e.Spilled is not null)
                     .OrderBy(e => e.LastAccess).ToList())
        {
            if (evicted >= needed) break;
            RemoveFromMemoryLocked(e);
            evicted += e.Size;
            _evictedBytes += e.Size;
        }
        if (evicted > 0) LogEvicted(_logger, evicted);
    }

    private void RemoveFromMemoryLocked(Entry e)
    {
        if (!e.InMemory) return;
        if (e.Unlinked || e.OnFallback || !e.Sealed || _disposed || _pooledBytes + e.Size > PoolLimit) TryDelete(e.Path!);
        else
        {
            string free = System.IO.Path.Combine(_options.Directory, "free-" + Guid.NewGuid().ToString("N"));
            try
            {
                File.Move(e.Path!, free);
                _pool.Add((free, e.Size));
                _pooledBytes += e.Size;
            }
            catch (IOException ex)
            {
                LogDeleteFailed(_logger, ex, e.Path!);
                TryDelete(e.Path!);
            }
        }
        e.Unlinked = false;
        if (e.OnFallback) _fallbackBytes -= e.Size;
        e.Path = null;
        e.OnFallback = false;
        _used -= e.Size;
    }

    /// <summary>The bytes of recycled files kept at most: a quarter of the store.</summary>
    private long PoolLimit => _options.Capacity / 4;

    /// <summary>A recycled file of at least <paramref name="size"/> bytes and at most twice that (the smallest such),
    /// taken out of the pool.</summary>
    private (string Path, long Size)? TakeFromPoolLocked(long size)
    {
        int best = -1;
        for (int i = 0; i < _pool.Count; i++)
            if (_pool[i].Size >= size && _pool[i].Size <= 2 * size && (best < 0 || _pool[i].Size < _pool[best].Size)) best = i;
        if (best < 0) return null;
        var file = _pool[best];
        _pool.RemoveAt(best);
        _pooledBytes -= file.Size;
        return file;
    }

    /// <summary>Puts back a recycled file taken for an object that then found no room (it is not lost on disk).</summary>
    private void ReturnToPoolLocked((string Path, long Size) file)
    {
        _pool.Add(file);
        _pooledBytes += file.Size;
    }

    /// <summary>Deletes recycled files (oldest first) until <paramref name="size"/> more bytes fit beside the objects.</summary>
    private void TrimPoolLocked(long size)
    {
        while (_pool.Count > 0 && _used + _pooledBytes + size > _options.Capacity)
        {
            var (path, bytes) = _pool[0];
            _pool.RemoveAt(0);
            _pooledBytes -= bytes;
            TryDelete(path);
        }
    }

    // ---- Spilling ----

    /// <summary>Spills sealed primary copies nobody reads (least recently used first) into one file: at least
    /// <paramref name="needed"/> bytes, more up to <see cref="PlasmaStoreOptions.MinSpillingSize"/> when available.
    /// Returns the bytes freed.</summary>
    private async Task<long> SpillAsync(long needed, CancellationToken ct)
    {
        List<Entry> chosen = [];
        long total = 0;
        lock (_lock)
        {
            foreach (var e in _objects.Values.Where(e => e.InMemory && e.Sealed && e.Primary && e.ReaderCount == 0 && e.Spilled is null && !e.Freed)
                         .OrderBy(e => e.LastAccess))
            {
                if (total >= Math.Max(needed, _options.MinSpillingSize)) break;
                chosen.Add(e);
                total += e.Size;
                // Read while it is written out: neither evicted, spilled twice nor freed under the copy.
                AddReaderLocked(e, SpillClient);
            }
        }
        if (chosen.Count == 0) return 0;
        var file = new SpillFile(System.IO.Path.Combine(_options.SpillDirectory, $"spill-{Guid.NewGuid():N}.bin"));
        var offsets = new long[chosen.Count];
        try
        {
            await using var output = new FileStream(file.Path, PrivateFile(new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, PreallocationSize = total, Options = FileOptions.Asynchronous,
            }));
            long offset = 0;
            for (int i = 0; i < chosen.Count; i++)
            {
                offsets[i] = offset;
                await using var input = new FileStream(chosen[i].Path!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                    1 << 20, FileOptions.Asynchronous);
                await input.CopyToAsync(output, 1 << 20, ct).ConfigureAwait(false);
                offset += chosen[i].Size;
            }
            await output.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogSpillFailed(_logger, e, file.Path);
            lock (_lock)
                foreach (var c in chosen) ReleaseReaderLocked(c, SpillClient);
            TryDelete(file.Path);
            SignalSpaceFreed();
            return 0;
        }
        long freed = 0;
        lock (_lock)
        {
            for (int i = 0; i < chosen.Count; i++)
            {
                var e = chosen[i];
                if (ReleaseReaderLocked(e, SpillClient) && e.Freed)
                {
                    freed += e.Size; // freed by its owner while it was written out: simply gone
                    continue;
                }
                if (e.Freed || e.ReaderCount > 0) continue; // read meanwhile: keep it in memory
                e.Spilled = file;
                e.SpillOffset = offsets[i];
                file.Live++;
                RemoveFromMemoryLocked(e);
                freed += e.Size;
                _spilledBytes += e.Size;
            }
            if (file.Live == 0) TryDelete(file.Path);
            else _spillFiles++;
        }
        LogSpilled(_logger, chosen.Count, freed, file.Path);
        if (ObjectSpilled is { } report)
            for (int i = 0; i < chosen.Count; i++)
                if (chosen[i].Spilled == file && chosen[i].Owner is { } owner)
                    report(chosen[i].Id, owner, SpillUrl(file.Path, offsets[i], chosen[i].Size));
        if (freed > 0) SignalSpaceFreed();
        return freed;
    }

    private async Task RestoreAsync(Entry spilled, CancellationToken ct)
    {
        var (status, location) = await CreateRestoredAsync(spilled, ct).ConfigureAwait(false);
        if (status != PlasmaCreateStatus.Created) return; // restored by another reader meanwhile, or freed
        try
        {
            await using var input = new FileStream(spilled.Spilled!.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                1 << 20, FileOptions.Asynchronous);
            input.Seek(spilled.SpillOffset, SeekOrigin.Begin);
            await using var output = new FileStream(location.Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete,
                1 << 20, FileOptions.Asynchronous);
            var buffer = new byte[Math.Min(1 << 20, spilled.Size)];
            long left = spilled.Size;
            while (left > 0)
            {
                int n = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
                if (n == 0) throw new IOException($"The spill file {spilled.Spilled.Path} ends before object {spilled.Id}.");
                await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                left -= n;
            }
        }
        catch
        {
            lock (_lock) RemoveFromMemoryLocked(spilled);
            SignalSpaceFreed();
            throw;
        }
        TaskCompletionSource? signal;
        lock (_lock)
        {
            spilled.Sealed = true;
            _restoredBytes += spilled.Size;
            signal = spilled.SealedSignal;
            spilled.SealedSignal = null;
        }
        signal?.TrySetResult();
    }

    /// <summary>Memory for a spilled object's restored copy, reserved like any create.</summary>
    private async Task<(PlasmaCreateStatus, PlasmaObjectLocation)> CreateRestoredAsync(Entry spilled, CancellationToken ct)
    {
        await _createQueue.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            bool reserved = await ReserveLoopAsync(spilled.Id, spilled.Size, collectGarbage: false, () =>
            {
                if (spilled.Freed || spilled.InMemory) return (true, false);
                if (!MakeRoomLocked(spilled.Size)) return (false, false);
                spilled.Path = ObjectPath(_options.Directory, spilled.Id);
                spilled.Sealed = false;
                spilled.Writer = RestoreClient; // not its creator: a creator that exits now must not abort the restore
                spilled.LastAccess = ++_accessClock;
                _used += spilled.Size;
                return (true, true);
            }, ct).ConfigureAwait(false);
            if (!reserved) return (PlasmaCreateStatus.AlreadyExists, default);
        }
        finally
        {
            _createQueue.Release();
        }
        try
        {
            AllocateFile(spilled);
        }
        catch
        {
            lock (_lock)
            {
                spilled.Path = null;
                spilled.Sealed = true;
                _used -= spilled.Size;
            }
            throw;
        }
        return (PlasmaCreateStatus.Created, new PlasmaObjectLocation(spilled.Path!, spilled.Size));
    }

    private void ReleaseSpillLocked(Entry e)
    {
        if (e.Spilled is not { } file) return;
        e.Spilled = null;
        if (--file.Live == 0)
        {
            TryDelete(file.Path);
            _spillFiles--;
        }
    }

    /// <summary>Where a spilled object is, as Ray writes it: the file, the object's offset and size in it.</summary>
    internal static string SpillUrl(string path, long offset, long size) => $"file://{path}?offset={offset}&size={size}";

    // ---- Helpers ----

    private const string SpillClient = "spill";
    private const string RestoreClient = "restore";

    private void AddReaderLocked(Entry e, string client)
    {
        e.Readers[client] = e.Readers.GetValueOrDefault(client) + 1;
        e.ReaderCount++;
        e.LastAccess = ++_accessClock;
    }

    /// <summary>Ends one read; true when that left the object unread (evictable, spillable, or — if its owner freed it
    /// meanwhile — gone, its memory returned).</summary>
    private bool ReleaseReaderLocked(Entry e, string client)
    {
        if (!e.Readers.TryGetValue(client, out int n)) return false;
        if (n == 1) e.Readers.Remove(client);
        else e.Readers[client] = n - 1;
        e.ReaderCount--;
        if (e.ReaderCount > 0) return false;
        if (e.Freed)
        {
            _objects.Remove(e.Id);
            RemoveFromMemoryLocked(e);
        }
        return true;
    }

    private void SignalSpaceFreed()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _spaceFreed;
            _spaceFreed = NewSignal();
        }
        previous.TrySetResult();
    }

    /// <summary>Files of the store are readable by their owner only (the node's user).</summary>
    private static FileStreamOptions PrivateFile(FileStreamOptions options)
    {
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return options;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static string ObjectPath(string directory, ObjectId id) => System.IO.Path.Combine(directory, id.ToString());

    private void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogDeleteFailed(_logger, e, path);
        }
    }

    internal static string Bytes(long n) => n switch
    {
        >= 1L << 30 => $"{n / (double)(1L << 30):0.##} GiB",
        >= 1L << 20 => $"{n / (double)(1L << 20):0.##} MiB",
        >= 1L << 10 => $"{n / 1024.0:0.##} KiB",
        _ => $"{n} B",
    };

    /// <summary>Deletes every object and spill file (the node is shutting down).</summary>
    public void Dispose()
    {
        List<string> paths = [];
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var e in _objects.Values)
            {
                if (e.Path is not null) paths.Add(e.Path);
                if (e.Spilled is not null) paths.Add(e.Spilled.Path);
            }
            _objects.Clear();
            _used = 0;
        }
        foreach (var p in paths.Distinct()) TryDelete(p);
        foreach (var dir in (string?[])[_options.Directory, _options.FallbackDirectory, _options.SpillDirectory, _options.OwnedRoot])
        {
            if (dir is null) continue;
            try
            {
                if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogDeleteFailed(_logger, e, dir);
            }
        }
        _spaceFreed.TrySetResult();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Asking the workers to collect garbage for object store memory failed")]
    private static partial void LogGcRequestFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The shared-memory directory {Directory} is full before the object store is; objects go to files in {Fallback} (slower)")]
    private static partial void LogFallback(ILogger logger, Exception e, string directory, string fallback);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Evicted {Bytes} bytes of secondary copies")]
    private static partial void LogEvicted(ILogger logger, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spilled {Count} objects ({Bytes} bytes) to {Path}")]
    private static partial void LogSpilled(ILogger logger, int count, long bytes, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Spilling objects to {Path} failed")]
    private static partial void LogSpillFailed(ILogger logger, Exception e, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete {Path}")]
    private static partial void LogDeleteFailed(ILogger logger, Exception e, string path);
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaySharp.Core;

/// <summary>
/// The ownership table's reference counts (Ray's <c>ReferenceCounter</c>). For each object this worker knows
/// about it counts: local refs (live <see cref="ObjectRef"/> instances in this process), submitted-task refs
/// (pending tasks that take the object as an argument, directly or nested), and containing objects (other
/// objects in scope whose value holds a ref to it). Borrowers — other workers that received the ref — are
/// tracked by address. When every count is zero the object goes out of scope: its value is freed and the refs
/// nested in it are released in turn.
/// </summary>
internal sealed class ReferenceCounter
{
    private sealed class Reference
    {
        public int Local;
        public int Submitted;
        public int ContainedIn;
        public bool Owned;
        public Address? Owner;
        public ObjectId[] Contains = [];
        public HashSet<Address>? Borrowers;

        public bool InScope => Local > 0 || Submitted > 0 || ContainedIn > 0 || Borrowers is { Count: > 0 };
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<ObjectId, Reference> _refs = [];
    private readonly WorkerId _self;
    private readonly Action<ObjectId, Address?> _onOutOfScope;
    private readonly Action<ObjectId, Address> _onBorrowStarted;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<ObjectId> _deferredReleases = new();
    private readonly Lock _drainLock = new();
    private int _drainScheduled;

    /// <param name="self">This worker: refs owned by anyone else are borrowed.</param>
    /// <param name="onOutOfScope">Called, outside the lock, for each object that goes out of scope, with the owner
    /// when the object was borrowed (the owner must learn this worker no longer borrows it).</param>
    /// <param name="onBorrowStarted">Called, outside the lock, when this worker starts borrowing an object owned
    /// elsewhere (the owner must count this worker as a borrower).</param>
    /// <param name="logger">Where failures of deferred releases go (they run on the thread pool, with no caller to throw to).</param>
    public ReferenceCounter(WorkerId self, Action<ObjectId, Address?> onOutOfScope, Action<ObjectId, Address>? onBorrowStarted = null,
        ILogger<ReferenceCounter>? logger = null)
    {
        _self = self;
        _onOutOfScope = onOutOfScope;
        _onBorrowStarted = onBorrowStarted ?? ((_, _) => { });
        _logger = logger ?? NullLogger<ReferenceCounter>.Instance;
    }

    /// <summary>One reference as <see cref="Snapshot"/> reports it.</summary>
    internal readonly record struct ReferenceInfo(ObjectId Id, bool Owned, Address? Owner, int Local, int Submitted, int ContainedIn, int Borrowers);

    /// <summary>Up to <paramref name="limit"/> of the references in scope here, for the state API (Ray's
    /// <c>GetCoreWorkerStats</c> reference table); <paramref name="total"/> counts them all.</summary>
    public List<ReferenceInfo> Snapshot(int limit, out int total)
    {
        var taken = new List<ReferenceInfo>(Math.Min(limit, 1024));
        total = 0;
        lock (_lock)
        {
            foreach (var (id, r) in _refs)
            {
                if (!r.InScope) continue;
                if (total++ < limit) taken.Add(new ReferenceInfo(id, r.Owned, r.Owner, r.Local, r.Submitted, r.ContainedIn, r.Borrowers?.Count ?? 0));
            }
        }
        return taken;
    }

    /// <summary>Registers an object this worker owns (a task return or a put), with <paramref name="localRefs"/>
    /// references already taken for the refs about to be handed out.</summary>
    public void AddOwnedObject(ObjectId id, Address owner, int localRefs = 1)
    {
        lock (_lock)
        {
            var r = GetOrAdd(id);
            r.Owned = true;
            r.Owner = owner;
            r.Local += localRefs;
        }
    }

    /// <summary>Records that <paramref name="outer"/>'s value holds refs to <paramref name="inner"/>: they live while it does.</summary>
    public void AddNestedObjects(ObjectId outer, ObjectId[] inner)
    {
        if (inner.Length == 0) return;
        lock (_lock)
        {
            if (!_refs.TryGetValue(outer, out var r)) return;
            r.Contains = r.Contains.Length == 0 ? inner : [.. r.Contains, .. inner];
            foreach (var id in inner) GetOrAdd(id).ContainedIn++;
        }
    }

    /// <summary><see cref="AddNestedObjects"/> for a return whose task ran again to rebuild it: its nesting was recorded
    /// when the task first finished (unless the return went out of scope since), and is not counted twice.</summary>
    public void AddNestedObjectsOnce(ObjectId outer, ObjectId[] inner)
    {
        if (inner.Length == 0) return;
        lock (_lock)
        {
            if (!_refs.TryGetValue(outer, out var r) || r.Contains.Length > 0) return;
            r.Contains = inner;
            foreach (var id in inner) GetOrAdd(id).ContainedIn++;
        }
    }

    /// <summary>Marks an object this worker tracks as owned here (a task return that went out of scope and is pinned
    /// again because a task rebuilding a lost object takes it as an argument).</summary>
    public void MarkOwned(ObjectId id, Address owner)
    {
        lock (_lock)
        {
            if (!_refs.TryGetValue(id, out var r)) return;
            r.Owned = true;
            r.Owner = owner;
        }
    }

    public void AddLocalReference(ObjectId id, Address? owner = null)
    {
        bool borrowStarted;
        lock (_lock)
        {
            var r = GetOrAdd(id, owner, out borrowStarted);
            r.Local++;
        }
        if (borrowStarted) _onBorrowStarted(id, owner!);
    }

    /// <summary>Makes sure this worker tracks <paramref name="id"/> as borrowed from <paramref name="owner"/> (a ref
    /// nested in a value that arrived from another process), without adding a count.</summary>
    public void EnsureBorrowed(ObjectId id, Address owner)
    {
        bool borrowStarted;
        lock (_lock) GetOrAdd(id, owner, out borrowStarted);
        if (borrowStarted) _onBorrowStarted(id, owner);
    }

    /// <summary>The owner of an object this worker references, if known.</summary>
    public Address? GetOwner(ObjectId id)
    {
        lock (_lock) return _refs.TryGetValue(id, out var r) ? r.Owner : null;
    }

    public void RemoveLocalReference(ObjectId id) => Release(id, r => r.Local--);

    /// <summary>
    /// <see cref="RemoveLocalReference"/> for a finalizer: only enqueues the release, which a thread-pool work item
    /// applies soon after. Releasing may free objects and tell owners over RPC; none of that may run on the
    /// finalizer thread, where a slow or blocked call stalls every finalizer in the process.
    /// </summary>
    public void RemoveLocalReferenceDeferred(ObjectId id)
    {
        _deferredReleases.Enqueue(id);
        if (Interlocked.Exchange(ref _drainScheduled, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(static rc => rc.DrainDeferredReleases(), this, preferLocal: false);
    }

    private void DrainDeferredReleases()
    {
        while (true)
        {
            FlushDeferredReleases();
            Volatile.Write(ref _drainScheduled, 0);
            // A release enqueued after the flush but before the flag was cleared saw the flag set and scheduled nothing.
            if (_deferredReleases.IsEmpty || Interlocked.Exchange(ref _drainScheduled, 1) != 0) return;
        }
    }

    /// <summary>Applies every release deferred so far, on the calling thread; when it returns, each of them has taken
    /// effect (also those a concurrent drain had already dequeued).</summary>
    public void FlushDeferredReleases()
    {
        lock (_drainLock)
        {
            while (_deferredReleases.TryDequeue(out var id))
            {
                try
                {
                    RemoveLocalReference(id);
                }
                catch (Exception e)
                {
                    // One failed release must not stop the others (nor crash the process from a thread-pool item).
                    _logger.ReleaseFailed(e, id);
                }
            }
        }
    }

    public void AddSubmittedTaskReferences(ReadOnlySpan<ObjectId> ids)
    {
        if (ids.IsEmpty) return;
        lock (_lock)
            foreach (var id in ids) GetOrAdd(id).Submitted++;
    }

    public void RemoveSubmittedTaskReferences(ReadOnlySpan<ObjectId> ids)
    {
        foreach (var id in ids) Release(id, static r => r.Submitted--);
    }

    /// <summary>A process borrows an object this one has a reference to. An object unknown here (already released, or
    /// never known: a malformed or stale request) gets no entry: an entry kept alive by nothing but a borrower nobody
    /// will remove would stay forever.</summary>
    public void AddBorrower(ObjectId id, Address borrower)
    {
        lock (_lock)
            if (_refs.TryGetValue(id, out var r)) (r.Borrowers ??= []).Add(borrower);
    }

    public void RemoveBorrower(ObjectId id, Address borrower) => Release(id, r => r.Borrowers?.Remove(borrower));

    public bool IsInScope(ObjectId id)
    {
        lock (_lock) return _refs.TryGetValue(id, out var r) && r.InScope;
    }

    public bool IsOwned(ObjectId id)
    {
        lock (_lock) return _refs.TryGetValue(id, out var r) && r.Owned;
    }

    /// <summary>Counts for tests and diagnostics: (local, submitted, contained-in).</summary>
    public (int Local, int Submitted, int ContainedIn)? GetCounts(ObjectId id)
    {
        lock (_lock) return _refs.TryGetValue(id, out var r) ? (r.Local, r.Submitted, r.ContainedIn) : null;
    }

    /// <summary>Number of objects with a reference entry.</summary>
    public int Count
    {
        get { lock (_lock) return _refs.Count; }
    }

    private Reference GetOrAdd(ObjectId id)
    {
        if (!_refs.TryGetValue(id, out var r)) _refs[id] = r = new Reference();
        return r;
    }

    private Reference GetOrAdd(ObjectId id, Address? owner, out bool borrowStarted)
    {
        borrowStarted = false;
        if (_refs.TryGetValue(id, out var r))
        {
            r.Owner ??= owner;
            return r;
        }
        _refs[id] = r = new Reference { Owner = owner };
        borrowStarted = owner is not null && owner.WorkerId != _self;
        return r;
    }

    private void Release(ObjectId id, Action<Reference> decrement)
    {
        List<(ObjectId, Address?)>? freed = null;
        Address? borrowedFrom = null;
        lock (_lock)
        {
            if (!_refs.TryGetValue(id, out var r)) return;
            decrement(r);
            if (r.InScope) return;
            if (r.Contains.Length == 0)
            {
                // Nothing inside it to release in turn (the usual case): only this object goes.
                _refs.Remove(id);
                borrowedFrom = BorrowedFrom(r);
            }
            else
            {
                // Free this object and, transitively, whatever only it kept alive.
                var stack = new Stack<ObjectId>();
                stack.Push(id);
                while (stack.Count > 0)
                {
                    var current = stack.Pop();
                    if (!_refs.Remove(current, out var cr)) continue;
                    (freed ??= []).Add((current, BorrowedFrom(cr)));
                    foreach (var inner in cr.Contains)
                    {
                        if (_refs.TryGetValue(inner, out var ir) && --ir.ContainedIn <= 0 && !ir.InScope) stack.Push(inner);
                    }
                }
            }
        }
        if (freed is null)
        {
            _onOutOfScope(id, borrowedFrom);
            return;
        }
        foreach (var (f, owner) in freed) _onOutOfScope(f, owner);
    }

    /// <summary>The owner to tell when a borrowed object goes out of scope here (null: owned here, or owner unknown).</summary>
    private Address? BorrowedFrom(Reference r) => r.Owned || r.Owner is null || r.Owner.WorkerId == _self ? null : r.Owner;
}

using Microsoft.Extensions.Logging;
using RaySharp.Internal;

using RaySharp.Core.Stats;

namespace RaySharp.Core;

/// <summary>
/// The per-process core of RaySharp (Ray's <c>CoreWorker</c>): owns the objects and tasks this process creates,
/// counts their references, stores small objects in process, submits tasks and actor calls, and executes the
/// tasks pushed to it. A driver and every worker have one. What it talks to — the raylet, the GCS and other
/// workers — is behind <see cref="IRayletClient"/>, <see cref="IGcsActorClient"/> and <see cref="ICoreWorkerClient"/>:
/// local mode plugs in in-process implementations, the cluster runtime RPC clients.
/// </summary>
internal sealed class CoreWorker : IDisposable
{
    private static CoreWorker? s_current;

    /// <summary>Longer actor names are refused: a name is a key in the GCS's tables and in every lookup.</summary>
    internal const int MaxActorNameLength = 512;
    private readonly TaskId _driverTaskId;
    private readonly ILogger _logger;
    private int _driverPutIndex;
    private int _disposed;

    public CoreWorker(JobId jobId, string @namespace, RuntimeEnv? jobRuntimeEnv, RayConfig config, ILoggerFactory loggers,
        Func<CoreWorker, WorkerConnections> connect, WorkerId? workerId = null)
    {
        RuntimeFormatters.EnsureRegistered();
        JobId = jobId;
        Namespace = @namespace;
        JobRuntimeEnv = jobRuntimeEnv;
        Config = config;
        Loggers = loggers;
        _logger = loggers.CreateLogger<CoreWorker>();
        WorkerId = workerId ?? WorkerId.FromRandom();
        _driverTaskId = TaskId.ForDriver(jobId);
        ReferenceCounter = new ReferenceCounter(WorkerId, OnObjectOutOfScope, OnBorrowStarted, loggers.CreateLogger<ReferenceCounter>());
        MemoryStore = new CoreWorkerMemoryStore();
        TaskManager = new TaskManager(this);
        Resolver = new DependencyResolver(this);
        Executor = new TaskExecutor(this, TaskManager);
        ActorManager = new ActorManager(this);
        var connections = connect(this);
        (Raylet, Gcs, _ownership) = (connections.Raylet, connections.Gcs, connections.Ownership);
        ObjectStore = connections.ObjectStore;
        _placementGroups = connections.PlacementGroups;
        WorkersShareProcess = connections.WorkersShareProcess;
        _onDispose = connections.OnDispose;
        State = connections.State;
        // RAY_task_events_report_interval_ms=0 turns task events off: nothing is recorded on the submit or execute path.
        if (connections.TaskEvents is { } sink && config.TaskEventsReportInterval > TimeSpan.Zero)
            TaskEvents = new TaskEventBuffer(sink, WorkerId, config.TaskEventsReportInterval, config.TaskEventsMaxBufferSize,
                config.TaskEventsSendBatchSize, loggers.CreateLogger<TaskEventBuffer>());
        Address = new Address(WorkerId, Raylet.NodeId, connections.Endpoint) { Socket = connections.Socket };
        NormalTaskSubmitter = new NormalTaskSubmitter(TaskManager, Resolver, Raylet, loggers.CreateLogger<NormalTaskSubmitter>(), config);
        ActorTaskSubmitter = new ActorTaskSubmitter(TaskManager, Resolver, Gcs, loggers.CreateLogger<ActorTaskSubmitter>(), config.TaskWaitForDeathInfo,
            Raylet.IsNodeDeadAsync, config.HealthCheckTimeout * 2 + TimeSpan.FromSeconds(2));
        Recovery = new ObjectRecoveryManager(this, Raylet.IsNodeDeadAsync, HasCopyAsync, loggers.CreateLogger<ObjectRecoveryManager>());
    }

    private readonly IOwnershipClient? _ownership;
    private readonly IGcsPlacementGroupClient? _placementGroups;
    private readonly Action? _onDispose;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ObjectId, Task> _borrowRegistrations = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ObjectId, Task> _fetches = new();

    /// <summary>True when this worker runs in a cluster (objects may be owned by other processes).</summary>
    public bool IsCluster => _ownership is not null;

    /// <summary>Local mode: tasks run on threads of this process.</summary>
    public bool WorkersShareProcess { get; }

    /// <summary>The ownership protocol with other workers; null when every object is owned in this process.</summary>
    public IOwnershipClient? Ownership => _ownership;

    public static CoreWorker Current => Volatile.Read(ref s_current) ?? throw new InvalidOperationException(
        "RaySharp is not initialized in this process: call Ray.Init() before using remote functions, actors or objects.");

    public static CoreWorker? CurrentOrNull => Volatile.Read(ref s_current);

    public static void SetCurrent(CoreWorker? worker) => Volatile.Write(ref s_current, worker);

    public JobId JobId { get; }

    /// <summary>The task the driver's own puts belong to (outside any task).</summary>
    internal TaskId DriverTaskId => _driverTaskId;
    public string Namespace { get; }
    public WorkerId WorkerId { get; }
    public Address Address { get; }
    public RuntimeEnv? JobRuntimeEnv { get; }
    public RayConfig Config { get; }

    /// <summary>The process's loggers, for the components this worker's connections create.</summary>
    public ILoggerFactory Loggers { get; }
    public ReferenceCounter ReferenceCounter { get; }
    public CoreWorkerMemoryStore MemoryStore { get; }
    public TaskManager TaskManager { get; }
    public DependencyResolver Resolver { get; }
    public TaskExecutor Executor { get; }
    public ActorManager ActorManager { get; }
    public IRayletClient Raylet { get; }

    /// <summary>The node's shared-memory object store (null: every object stays inline, as in component tests).</summary>
    public IObjectStoreClient? ObjectStore { get; }
    public IGcsActorClient Gcs { get; }
    public NormalTaskSubmitter NormalTaskSubmitter { get; }
    public ActorTaskSubmitter ActorTaskSubmitter { get; }

    /// <summary>Recovers owned objects whose copies are lost (re-executing their tasks from lineage).</summary>
    public ObjectRecoveryManager Recovery { get; }

    /// <summary>This process's task events, sent to the GCS in batches; null when they are off.</summary>
    public TaskEventBuffer? TaskEvents { get; }

    /// <summary>The cluster's state (nodes, actors, tasks, objects) for the state API; null without a GCS.</summary>
    public RaySharp.State.IStateSource? State { get; }

    /// <summary>This worker stops borrowing <paramref name="id"/>: drop the cached copy and tell the owner — after it has
    /// heard that we borrowed (the two calls may otherwise overtake each other). Its own method, so that the closure below
    /// is built only for a borrowed object, not on every release.</summary>
    private void StopBorrowing(ObjectId id, Address borrowedFrom)
    {
        MemoryStore.Delete(id);
        _fetches.TryRemove(id, out _);
        if (_ownership is not { } ownership) return;
        var registered = _borrowRegistrations.TryRemove(id, out var r) ? r : Task.CompletedTask;
        _ = registered.ContinueWith(t =>
        {
            try
            {
                ownership.RemoveBorrower(borrowedFrom, id, Address);
            }
            catch (Exception e)
            {
                _logger.BorrowEndNotSent(e, id);
            }
        }, TaskScheduler.Default);
    }

    private void OnObjectOutOfScope(ObjectId id, Address? borrowedFrom)
    {
        if (borrowedFrom is not null)
        {
            StopBorrowing(id, borrowedFrom);
            return;
        }
        // Only the owner gets here for a handle object (borrowers returned above): the actor's last handle is gone.
        if (ActorManager.IsHandleObject(id, out var actorId)) ActorManager.OnHandleObjectOutOfScope(actorId);
        else
        {
            // A large object: every node frees its copies (the primary's raylet unpins it).
            if (MemoryStore.TryGet(id, out var obj) && obj.IsInStore) FreeInStore(id);
            MemoryStore.Delete(id);
            TaskManager.OnOwnedObjectOutOfScope(id);
        }
    }

    private void OnBorrowStarted(ObjectId id, Address owner)
    {
        if (_ownership is null) return;
        _borrowRegistrations[id] = _ownership.AddBorrowerAsync(owner, id, Address);
    }

    /// <summary>Completes once every owner this worker started borrowing from so far has recorded it (a task's reply
    /// waits for this, so the owner cannot free an argument's nested objects under the borrower).</summary>
    public Task BorrowRegistrationsSettled()
    {
        if (_borrowRegistrations.IsEmpty) return Task.CompletedTask;
        var pending = _borrowRegistrations.Values.Where(t => !t.IsCompleted).ToArray();
        return pending.Length == 0 ? Task.CompletedTask : Task.WhenAll(pending);
    }

    /// <summary>Waits for an object: from this worker's store, or fetched from its owner when it lives elsewhere.</summary>
    public Task<RayObject> WhenObjectAvailable(ObjectId id, Address? owner)
    {
        var available = MemoryStore.WhenAvailable(id);
        if (!available.IsCompleted && _ownership is { } ownership && owner is not null && owner.WorkerId != WorkerId)
            _fetches.GetOrAdd(id, _ => FetchAsync(ownership, id, owner));
        return available;
    }

    private async Task FetchAsync(IOwnershipClient ownership, ObjectId id, Address owner)
    {
        var obj = await ownership.GetObjectAsync(owner, id).ConfigureAwait(false);
        MemoryStore.Put(id, obj);
    }

    /// <summary>Refs nested in a task's returns that another process sent: track them as borrowed from their
    /// owners, then let the executor drop its pins once the owners know.</summary>
    public void AdoptRemoteNested(NestedRef[] nested, ICoreWorkerClient executor)
    {
        foreach (var n in nested) ReferenceCounter.EnsureBorrowed(n.Id, n.Owner);
        var ids = Array.ConvertAll(nested, n => n.Id);
        _ = BorrowRegistrationsSettled().ContinueWith(_ => executor.ReleasePins(ids), TaskScheduler.Default);
    }

    /// <summary>Serves an object this worker owns to a borrower: at once if ready, else when its task finishes. A borrower
    /// that could not read the copy on <paramref name="lostAt"/> gets the object recovered first (when every copy is
    /// gone, its task runs again).</summary>
    public async Task<RayObject> ServeObjectAsync(ObjectId id, NodeId lostAt, CancellationToken ct)
    {
        if (MemoryStore.TryGet(id, out var ready))
        {
            if (lostAt.IsNil || !ready.IsInStore || ready.StoreNode != lostAt) return ready;
            return await Recovery.RecoverAsync(id, ready).WaitAsync(ct).ConfigureAwait(false);
        }
        if (!ReferenceCounter.IsInScope(id))
            return RayObject.FromError(new RayErrorInfo
            {
                Kind = ErrorKind.ObjectLost, ObjectId = id,
                Message = $"Object {id} is no longer available at its owner {WorkerId}: every reference the owner knew of was released.",
            });
        return await MemoryStore.WhenAvailable(id).WaitAsync(ct).ConfigureAwait(false);
    }


    // ---- Objects ----

    public ObjectRef<T> Put<T>(T value)
    {
        // A large array of a primitive type has the same bytes in MemoryPack's form as in memory: written as it is.
        if (PrimitiveArray<T>.ElementSize > 0 && value is Array { Length: > 0 } array && GoesToStore((long)array.Length * PrimitiveArray<T>.ElementSize))
        {
            var bytes = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
                ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array), checked(array.Length * PrimitiveArray<T>.ElementSize));
            return new ObjectRef<T>(PutArrayInStore(bytes, array.Length), Address, this, addLocalReference: false);
        }
        using var serialized = ObjectSerializer.SerializePooled(value, this, SerializationSite.Put);
        return new ObjectRef<T>(PutSerialized(serialized), Address, this, addLocalReference: false);
    }

    /// <summary>Puts the elements of <paramref name="span"/> as a <c>T[]</c>, copied once: straight into the node's store
    /// when large (its header and the elements' bytes written as they are), else into an inline array.</summary>
    public ObjectRef<T[]> PutArray<T>(ReadOnlySpan<T> span) where T : unmanaged
    {
        var elements = ObjectSerializer.ArrayBytes(span);
        if (!GoesToStore(sizeof(int) + (long)elements.Length))
            return new ObjectRef<T[]>(PutSerialized(ObjectSerializer.SerializeArray(span)), Address, this, addLocalReference: false);
        return new ObjectRef<T[]>(PutArrayInStore(elements, span.Length), Address, this, addLocalReference: false);
    }

    /// <summary>Writes an array's MemoryPack form — its count, then <paramref name="elements"/> as they are — straight into
    /// the node's store, with no serialization buffer; returns the new object's ID with one local reference.</summary>
    private ObjectId PutArrayInStore(ReadOnlySpan<byte> elements, int count)
    {
        var store = ObjectStore!;
        long size = sizeof(int) + (long)elements.Length;
        var id = NextPutId();
        if (Block(store.CreateAsync(id, size, Address, CancellationToken.None)) is { } path)
        {
            try
            {
                WriteInto(path, elements, count);
            }
            catch
            {
                store.Abort(id);
                throw;
            }
            Block(store.SealAsync(id, CancellationToken.None));
        }
        return AddPut(id, RayObject.InStore(store.NodeId, size, []));
    }

    /// <summary>
    /// A view of the <c>T[]</c> <paramref name="reference"/> points to; throws the object's error as a get does. An
    /// object in the store is mapped (pulled to this node first when needed) and stays read — pinned — until the view
    /// is disposed; an inline object's view aliases its array, which the view keeps reachable.
    /// </summary>
    public ObjectView<T> GetView<T>(ObjectRef<T[]> reference, TimeSpan? timeout) where T : unmanaged
    {
        var obj = GetObject(reference, timeout);
        obj.ThrowIfError();
        if (!obj.IsInStore)
        {
            GC.KeepAlive(reference);
            return ObjectView<T>.Create(obj.Data, pin: null);
        }
        var (mapping, recovered) = BlockRead(reference.Id, MapRecoveringAsync(reference.Id, obj, CancellationToken.None), timeout);
        GC.KeepAlive(reference);
        // Rebuilt small enough to be inline: a view of its array.
        if (mapping is null) return ObjectView<T>.Create(recovered.Data, pin: null);
        return ObjectView<T>.Create(mapping.Memory, new StorePin(this, reference.Id, mapping));
    }

    /// <summary>For <typeparamref name="T"/> an array of a primitive type (whose MemoryPack form is its count and its raw
    /// elements), the size of an element; otherwise 0. Worked out once per type.</summary>
    private static class PrimitiveArray<T>
    {
        public static readonly int ElementSize = typeof(T).IsArray && typeof(T).GetArrayRank() == 1 && typeof(T).GetElementType() is { IsPrimitive: true } e
            ? System.Runtime.InteropServices.Marshal.SizeOf(e == typeof(bool) ? typeof(byte) : e == typeof(char) ? typeof(short) : e)
            : 0;
    }

    /// <summary>Writes an object's bytes (a count header first, when <paramref name="count"/> is not null) into its file
    /// with file writes: the kernel copies into the store's pages, with no page faults in this process (measured faster
    /// than copying through a mapping, even with its pages faulted in at once).</summary>
    private static void WriteInto(string path, ReadOnlySpan<byte> data, int? count = null)
    {
        int offset = count is null ? 0 : sizeof(int);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        if (count is { } c)
        {
            Span<byte> header = stackalloc byte[sizeof(int)];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header, c);
            RandomAccess.Write(file, header, 0);
        }
        RandomAccess.Write(file, data, offset);
    }

    /// <summary>A view's hold on a mapped object: unmaps it and ends the read when the view is disposed.</summary>
    private sealed class StorePin(CoreWorker worker, ObjectId id, StoreMapping mapping) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            mapping.Close();
            worker.ObjectStore?.Release(id);
        }
    }

    /// <summary>Stores a serialized value as a new object owned here (inline, or in the node's store when large) and
    /// returns its ID with one local reference, which the caller's ref adopts or releases.</summary>
    internal ObjectId PutSerialized(PooledSerializedObject serialized)
    {
        var id = NextPutId();
        return AddPut(id, StoreIfLarge(id, serialized, Address));
    }

    /// <inheritdoc cref="PutSerialized(PooledSerializedObject)"/>
    internal ObjectId PutSerialized(SerializedObject serialized)
    {
        var id = NextPutId();
        return AddPut(id, StoreIfLarge(id, serialized, Address));
    }

    /// <summary>Records a put object as owned here, with one local reference (and its nested refs kept alive).</summary>
    private ObjectId AddPut(ObjectId id, RayObject stored)
    {
        ReferenceCounter.AddOwnedObject(id, Address);
        ReferenceCounter.AddNestedObjects(id, stored.NestedIds);
        MemoryStore.Put(id, stored);
        return id;
    }

    private ObjectId NextPutId()
    {
        var context = TaskExecutionContext.Current;
        return context is null
            ? ObjectId.ForPut(_driverTaskId, Interlocked.Increment(ref _driverPutIndex))
            : ObjectId.ForPut(context.Task.TaskId, context.NextPutIndex());
    }

    /// <summary>
    /// A value as it is kept: inline when it is at most <see cref="RayConfig.MaxDirectCallObjectSize"/> bytes (or this
    /// worker has no store); otherwise written into this node's shared-memory store as a primary copy pinned for
    /// <paramref name="owner"/>, and represented by the marker that says where.
    /// </summary>
    internal RayObject StoreIfLarge(ObjectId id, SerializedObject serialized, Address owner) =>
        GoesToStore(serialized.Data.LongLength) ? WriteToStore(id, serialized.Data, serialized.NestedIds, owner) : RayObject.FromValue(serialized);

    /// <inheritdoc cref="StoreIfLarge(ObjectId, SerializedObject, Address)"/>
    internal RayObject StoreIfLarge(ObjectId id, PooledSerializedObject serialized, Address owner) =>
        GoesToStore(serialized.Length) ? WriteToStore(id, serialized.Memory, serialized.NestedIds, owner) : RayObject.FromValue(serialized.ToSerializedObject());

    /// <summary>Whether an object of <paramref name="size"/> bytes goes to the node's store: larger than the inline limit,
    /// in a worker that has a store.</summary>
    private bool GoesToStore(long size) => ObjectStore is not null && size > Config.MaxDirectCallObjectSize;

    private RayObject WriteToStore(ObjectId id, ReadOnlyMemory<byte> data, ObjectId[] nestedIds, Address owner)
    {
        var store = ObjectStore!;
        Block(WriteToStoreAsync(store, id, data, owner, CancellationToken.None));
        return RayObject.InStore(store.NodeId, data.Length, nestedIds);
    }

    /// <summary>Waits for the store's answer in a synchronous call (a put, a return, a read); a task blocked here releases
    /// its CPU as in Get.</summary>
    private static void Block(Task pending)
    {
        if (!pending.IsCompleted) WaitBlocking(pending, null, () => new TimeoutException());
        pending.GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="Block(Task)"/>
    private static T Block<T>(Task<T> pending)
    {
        Block((Task)pending);
        return pending.Result;
    }

    /// <summary>Creates the object and writes it with a file write (the kernel copies into the store's pages: no page
    /// faults in this process), then seals it.</summary>
    private static async Task WriteToStoreAsync(IObjectStoreClient store, ObjectId id, ReadOnlyMemory<byte> data, Address owner, CancellationToken ct)
    {
        string? path = await store.CreateAsync(id, data.Length, owner, ct).ConfigureAwait(false);
        if (path is null) return; // written already (a retried task): objects are immutable
        try
        {
            WriteInto(path, data.Span);
        }
        catch
        {
            store.Abort(id);
            throw;
        }
        await store.SealAsync(id, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A by-value argument as a task carries it: inline when small; when larger than the inline limit, put into this
    /// node's store as an object owned here and passed by reference (Ray puts large arguments too), so it is neither
    /// inlined into the task nor copied through the submitter: it goes from the pooled buffer it was serialized into
    /// straight to the store, with no array of its own. <paramref name="put"/> is that object's ID, with one local
    /// reference the caller drops once the task holds it.
    /// </summary>
    internal TaskArg ArgumentFor(PooledSerializedObject serialized, out ObjectId? put)
    {
        put = null;
        if (!GoesToStore(serialized.Length)) return TaskArg.ByValue(serialized.ToSerializedObject());
        var id = PutSerialized(serialized);
        put = id;
        return TaskArg.ByReference(id, Address);
    }

    // The owner's object directory: for each in-store object it owns, the nodes besides the primary's that hold copies.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ObjectId, HashSet<NodeId>> _copies = new();

    /// <summary>A node made a copy of an object owned here; false when the object is no longer owned (freed meanwhile),
    /// so that the node drops its copy.</summary>
    public bool AddObjectLocation(ObjectId id, NodeId node)
    {
        if (!MemoryStore.TryGet(id, out var obj) || !obj.IsInStore || !ReferenceCounter.IsInScope(id)) return false;
        var nodes = _copies.GetOrAdd(id, _ => []);
        lock (nodes) nodes.Add(node);
        // Freed between the check and the record: the free did not see this node, so refuse the copy.
        return ReferenceCounter.IsInScope(id);
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<ObjectId, string> _spilledUrls = new();

    /// <summary>The primary copy of an object owned here was spilled to <paramref name="url"/> by its node.</summary>
    public bool RecordSpilled(ObjectId id, string url)
    {
        if (!ReferenceCounter.IsInScope(id)) return false;
        _spilledUrls[id] = url;
        return true;
    }

    /// <summary>Where the primary copy of an object owned here was spilled, if it was.</summary>
    internal string? SpilledUrl(ObjectId id) => _spilledUrls.GetValueOrDefault(id);

    /// <summary>The nodes that hold a copy of an in-store object owned here (the primary's first).</summary>
    internal IReadOnlyList<NodeId> ObjectLocations(ObjectId id)
    {
        if (!MemoryStore.TryGet(id, out var obj) || !obj.IsInStore) return [];
        List<NodeId> nodes = [obj.StoreNode];
        if (_copies.TryGetValue(id, out var copies))
            lock (copies) nodes.AddRange(copies.Where(n => n != obj.StoreNode));
        return nodes;
    }

    /// <summary>A lost object is rebuilt: the copies its directory listed are gone (or no longer its value's).</summary>
    internal void ForgetLocations(ObjectId id)
    {
        _copies.TryRemove(id, out _);
        _spilledUrls.TryRemove(id, out _);
    }

    /// <summary>Frees one copy nobody needs (a return stored after every reference to it was released).</summary>
    internal void FreeStoreCopy(ObjectId id, NodeId node)
    {
        try
        {
            ObjectStore?.Free([id], [node]);
        }
        catch (Exception e)
        {
            _logger.StoreCopyNotFreed(e, id, node);
        }
    }

    /// <summary>Whether <paramref name="node"/> still holds a readable copy: pulled here to find out (without a store,
    /// as in component tests, a live node is taken at its word).</summary>
    private async Task<bool> HasCopyAsync(ObjectId id, NodeId node, CancellationToken ct)
    {
        if (ObjectStore is not { } store) return true;
        try
        {
            var mapping = await store.GetAsync(id, node, ct).ConfigureAwait(false);
            if (mapping is null) return false;
            mapping.Close();
            store.Release(id);
            return true;
        }
        catch (RayException e)
        {
            _logger.NoCopyOnNode(e, node, id);
            return false;
        }
    }

    private void FreeInStore(ObjectId id)
    {
        try
        {
            var nodes = ObjectLocations(id);
            _copies.TryRemove(id, out _);
            _spilledUrls.TryRemove(id, out _);
            ObjectStore?.Free([id], [.. nodes]);
        }
        catch (Exception e)
        {
            _logger.ObjectNotFreed(e, id);
        }
    }

    /// <summary>The value of an available object: deserialized from its inline bytes, or from its copy in this node's
    /// store, mapped with no copy (pulled from the node holding it first when this node has none; recovered when that
    /// copy is lost). Waits at most <paramref name="timeout"/> for a pull or a recovery.</summary>
    public T ReadValue<T>(ObjectId id, RayObject obj, TimeSpan? timeout = null)
    {
        if (!obj.IsInStore) return obj.GetValue<T>(this);
        var (mapping, recovered) = BlockRead(id, MapRecoveringAsync(id, obj, CancellationToken.None), timeout);
        return mapping is null ? recovered.GetValue<T>(this) : DeserializeMapped<T>(id, mapping);
    }

    public async ValueTask<T> ReadValueAsync<T>(ObjectId id, RayObject obj, CancellationToken ct)
    {
        if (!obj.IsInStore) return obj.GetValue<T>(this);
        var (mapping, recovered) = await MapRecoveringAsync(id, obj, ct).ConfigureAwait(false);
        return mapping is null ? recovered.GetValue<T>(this) : DeserializeMapped<T>(id, mapping);
    }

    /// <summary>Waits for a read of the store; one that completes after the timeout has its mapping released.</summary>
    private (StoreMapping? Mapping, RayObject Object) BlockRead(ObjectId id, Task<(StoreMapping?, RayObject)> read, TimeSpan? timeout)
    {
        if (!read.IsCompleted)
        {
            try
            {
                WaitBlocking(read, timeout, () => TimeoutFor([id], timeout));
            }
            catch (GetTimeoutException)
            {
                _ = read.ContinueWith(t =>
                {
                    if (!t.IsCompletedSuccessfully || t.Result.Item1 is not { } late) return;
                    late.Close();
                    ObjectStore?.Release(id);
                }, TaskScheduler.Default);
                throw;
            }
        }
        return read.GetAwaiter().GetResult();
    }

    private T DeserializeMapped<T>(ObjectId id, StoreMapping mapping)
    {
        try
        {
            return ObjectSerializer.Deserialize<T>(mapping.Span, this);
        }
        finally
        {
            mapping.Close();
            ObjectStore!.Release(id);
        }
    }

    /// <summary>Reads of a lost object that recover it and read the result before giving up.</summary>
    private const int MaxReadRecoveries = 3;

    /// <summary>Maps an in-store object to read it. When its copy cannot be read, the object is recovered — by this worker
    /// if it owns it, else by its owner — and the recovered copy is mapped instead (a null mapping: it came back inline).
    /// Its error, if it cannot be recovered, is thrown.</summary>
    internal async Task<(StoreMapping? Mapping, RayObject Object)> MapRecoveringAsync(ObjectId id, RayObject obj, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return (await MapAsync(id, obj, ct).ConfigureAwait(false), obj);
            }
            catch (ObjectLostException) when (attempt <= MaxReadRecoveries && !ct.IsCancellationRequested)
            {
                var recovered = await RecoverObjectAsync(id, null, obj).WaitAsync(ct).ConfigureAwait(false);
                if (recovered.IsInStore && recovered.StoreNode == obj.StoreNode) throw; // nothing better to read
                recovered.ThrowIfError();
                if (!recovered.IsInStore) return (null, recovered);
                obj = recovered;
            }
        }
    }

    /// <summary>Recovers an object whose copy <paramref name="stale"/> could not be read: an object owned here by
    /// <see cref="Recovery"/>; a borrowed one by asking its owner (see <see cref="ServeObjectAsync"/>), whose answer —
    /// a new copy, or the error why there is none (<see cref="OwnerDiedException"/> when the owner is gone) — replaces
    /// what this worker cached. Returns <paramref name="stale"/> when nothing better can be had.</summary>
    internal async Task<RayObject> RecoverObjectAsync(ObjectId id, Address? owner, RayObject stale)
    {
        owner ??= ReferenceCounter.GetOwner(id);
        if (owner is null || owner.WorkerId == WorkerId) return await Recovery.RecoverAsync(id, stale).ConfigureAwait(false);
        if (_ownership is not { } ownership) return stale;
        var fresh = await ownership.GetObjectAsync(owner, id, stale.StoreNode).ConfigureAwait(false);
        if (fresh.IsInStore && fresh.StoreNode == stale.StoreNode) return stale;
        if (MemoryStore.TryGet(id, out var cached) && cached.IsInStore && cached.StoreNode == stale.StoreNode) MemoryStore.Replace(id, cached, fresh);
        return fresh;
    }

    /// <summary>Maps an in-store object for reading (one read of the store until released). Fails with an
    /// <see cref="ObjectLostException"/> naming the object when its copy cannot be read (a task whose argument it was
    /// fails with it, and its owner recovers the argument).</summary>
    internal async Task<StoreMapping> MapAsync(ObjectId id, RayObject obj, CancellationToken ct)
    {
        var store = ObjectStore ?? throw new InvalidOperationException(
            $"Object {id} is in the object store of node {obj.StoreNode}, and this worker has no object store to read it from.");
        StoreMapping? mapping;
        try
        {
            mapping = await store.GetAsync(id, obj.StoreNode, ct).ConfigureAwait(false);
        }
        catch (ObjectLostException e) when (e.ObjectId is null)
        {
            throw new ObjectLostException(e.Message, e) { ObjectId = id };
        }
        catch (RayException e) when (e is not ObjectLostException && !ct.IsCancellationRequested)
        {
            throw new ObjectLostException($"Object {id} ({obj.StoreSize} bytes, on node {obj.StoreNode}) could not be read: {e.Message}", e) { ObjectId = id };
        }
        return mapping ?? throw new ObjectLostException(
            $"Object {id} ({obj.StoreSize} bytes) is no longer in the object store of node {obj.StoreNode}: it was freed, or its node died.") { ObjectId = id };
    }

    /// <summary>A ref read out of a serialized value: a new local reference to an object owned by <paramref name="owner"/>.</summary>
    public ObjectRef<T> BorrowRef<T>(ObjectId id, Address owner) => new(id, owner, this);

    public ObjectRef BorrowUntypedRef(ObjectId id, Address owner) => new UntypedObjectRef(id, owner, this);

    public RayObject GetObject(ObjectRef reference, TimeSpan? timeout)
    {
        ValidateTimeout(timeout);
        reference.ThrowIfReleased();
        if (MemoryStore.TryGet(reference.Id, out var ready)) return ready;
        var pending = WhenObjectAvailable(reference.Id, reference.Owner);
        WaitBlocking(pending, timeout, () => TimeoutFor([reference.Id], timeout));
        return pending.Result;
    }

    public async ValueTask<RayObject> GetObjectAsync(ObjectRef reference, TimeSpan? timeout, CancellationToken ct)
    {
        ValidateTimeout(timeout);
        reference.ThrowIfReleased();
        if (MemoryStore.TryGet(reference.Id, out var ready)) return ready;
        var pending = WhenObjectAvailable(reference.Id, reference.Owner);
        await WaitReleasingCpuAsync(pending, timeout, ct, () => TimeoutFor([reference.Id], timeout)).ConfigureAwait(false);
        GC.KeepAlive(reference);
        return pending.Result;
    }

    public T[] GetValues<T>(IReadOnlyList<ObjectRef<T>> refs, TimeSpan? timeout)
    {
        ValidateTimeout(timeout);
        var pending = WhenEach(refs);
        var all = WhenAllOrFirstError(pending);
        if (!all.IsCompleted) WaitBlocking(all, timeout, () => TimeoutFor(NotReady(refs), timeout));
        var values = ValuesOf(refs, pending, timeout);
        GC.KeepAlive(refs);
        return values;
    }

    public async Task<T[]> GetValuesAsync<T>(ObjectRef<T>[] refs, TimeSpan? timeout, CancellationToken ct)
    {
        ValidateTimeout(timeout);
        var pending = WhenEach(refs);
        var all = WhenAllOrFirstError(pending);
        if (!all.IsCompleted)
            await WaitReleasingCpuAsync(all, timeout, ct, () => TimeoutFor(NotReady(refs), timeout)).ConfigureAwait(false);
        var values = ValuesOf(refs, pending, timeout);
        GC.KeepAlive(refs);
        return values;
    }

    private Task<RayObject>[] WhenEach<T>(IReadOnlyList<ObjectRef<T>> refs)
    {
        var pending = new Task<RayObject>[refs.Count];
        for (int i = 0; i < pending.Length; i++)
        {
            var r = refs[i] ?? throw new ArgumentException($"The list of refs holds null at index {i}.", nameof(refs));
            r.ThrowIfReleased();
            pending[i] = WhenObjectAvailable(r.Id, r.Owner);
        }
        return pending;
    }

    /// <summary>The values in order; the first failed object (in list order among those available) throws, as
    /// Ray.Get of a list does as soon as any object has failed.</summary>
    private T[] ValuesOf<T>(IReadOnlyList<ObjectRef<T>> refs, Task<RayObject>[] pending, TimeSpan? timeout)
    {
        foreach (var t in pending)
            if (t.IsCompletedSuccessfully && t.Result.IsError) t.Result.ThrowIfError();
        var values = new T[pending.Length];
        for (int i = 0; i < values.Length; i++) values[i] = ReadValue<T>(refs[i].Id, pending[i].Result, timeout);
        return values;
    }

    /// <summary>Completes when every object is available, or as soon as one of them holds an error.</summary>
    internal static Task WhenAllOrFirstError(Task<RayObject>[] pending)
    {
        // The continuations go on exactly the tasks counted: one that completes between the count and the
        // registration still runs its continuation (at once), so the count always reaches zero.
        List<Task<RayObject>>? waiting = null;
        foreach (var t in pending)
        {
            if (!t.IsCompleted) (waiting ??= []).Add(t);
            else if (t.Result.IsError) return Task.CompletedTask;
        }
        if (waiting is null) return Task.CompletedTask;
        int left = waiting.Count;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var t in waiting)
            _ = t.ContinueWith(c =>
            {
                if (c.IsCompletedSuccessfully && c.Result.IsError || Interlocked.Decrement(ref left) == 0) done.TrySetResult();
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return done.Task;
    }

    /// <summary>A timeout is null or infinite (wait forever), or zero or positive.</summary>
    private static void ValidateTimeout(TimeSpan? timeout)
    {
        if (timeout is { } t && t < TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), t,
                "A timeout must be zero or positive, or Timeout.InfiniteTimeSpan (or null) to wait without limit.");
    }

    private List<ObjectId> NotReady<T>(IReadOnlyList<ObjectRef<T>> refs) =>
        refs.Where(r => !MemoryStore.Contains(r.Id)).Select(r => r.Id).ToList();

    private static GetTimeoutException TimeoutFor(IReadOnlyList<ObjectId> ids, TimeSpan? timeout)
    {
        string which = ids.Count == 1 ? $"object {ids[0]} is" : $"{ids.Count} objects are (first: {ids.FirstOrDefault()})";
        return new GetTimeoutException(
            $"Get timed out after {timeout?.TotalSeconds:0.###} s: {which} not ready. The task computing it may still be " +
            "running or waiting for resources; raise the timeout or check Ray.AvailableResources().");
    }

    /// <summary>Blocks on <paramref name="pending"/>; a task blocked here releases its CPU meanwhile (Ray does the
    /// same, so nested tasks cannot deadlock a full node).</summary>
    private static void WaitBlocking(Task pending, TimeSpan? timeout, Func<Exception> onTimeout)
    {
        var worker = TaskExecutionContext.Current?.Worker;
        worker?.NotifyBlocked();
        try
        {
            if (!pending.Wait(timeout ?? Timeout.InfiniteTimeSpan)) throw onTimeout();
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            // The exception itself, as an await would throw it.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
        }
        finally
        {
            worker?.NotifyUnblocked();
        }
    }

    private static async Task WaitReleasingCpuAsync(Task pending, TimeSpan? timeout, CancellationToken ct, Func<Exception> onTimeout)
    {
        var worker = TaskExecutionContext.Current?.Worker;
        worker?.NotifyBlocked();
        try
        {
            await pending.WaitAsync(timeout ?? Timeout.InfiniteTimeSpan, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw onTimeout();
        }
        finally
        {
            worker?.NotifyUnblocked();
        }
    }

    public async ValueTask<WaitResult<R>> Wait<R>(IReadOnlyList<R> refs, int numReturns, TimeSpan? timeout, bool fetchLocal,
        CancellationToken ct) where R : ObjectRef
    {
        ValidateTimeout(timeout);
        if (refs.Count == 0) return new WaitResult<R>([], []);
        if (numReturns < 1 || numReturns > refs.Count)
            throw new ArgumentException($"numReturns is {numReturns}, but it must be between 1 and the number of refs ({refs.Count}).", nameof(numReturns));
        var seen = new HashSet<ObjectId>();
        foreach (var r in refs)
        {
            if (r is null) throw new ArgumentException("The list of refs contains null.", nameof(refs));
            if (!seen.Add(r.Id)) throw new ArgumentException($"The list of refs contains {r.Id} more than once; Wait takes distinct refs.", nameof(refs));
            r.ThrowIfReleased();
        }
        var available = new Task[refs.Count];
        for (int i = 0; i < available.Length; i++)
        {
            var r = refs[i];
            var obj = WhenObjectAvailable(r.Id, r.Owner);
            // With fetchLocal, an object in another node's store is ready once this node has a copy (as in Ray).
            available[i] = fetchLocal && ObjectStore is not null && (!obj.IsCompleted || obj.Result.IsInStore) ? FetchLocalAsync(r.Id, obj, ct) : obj;
        }
        // Continuations go on exactly the tasks counted as pending, so one that completes meanwhile is still counted.
        var pending = available.Where(t => !t.IsCompleted).ToList();
        int ready = available.Length - pending.Count;
        if (ready < numReturns && timeout != TimeSpan.Zero)
        {
            var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var t in pending)
                _ = t.ContinueWith(_ => { if (Interlocked.Increment(ref ready) >= numReturns) enough.TrySetResult(); },
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            if (Volatile.Read(ref ready) >= numReturns) enough.TrySetResult();
            try
            {
                await WaitReleasingCpuAsync(enough.Task, timeout, ct, () => new TimeoutException()).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Timed out: report what is ready now.
            }
        }
        var readyList = new List<R>(numReturns);
        var notReady = new List<R>(refs.Count);
        for (int i = 0; i < refs.Count; i++)
        {
            if (readyList.Count < numReturns && available[i].IsCompleted) readyList.Add(refs[i]);
            else notReady.Add(refs[i]);
        }
        GC.KeepAlive(refs);
        return new WaitResult<R>(readyList, notReady);
    }

    /// <summary>Completes when the object exists and, if it is in a store, this node has a copy (pulled if needed). A copy
    /// that cannot be pulled still counts as ready: the error shows when the object is read.</summary>
    private async Task FetchLocalAsync(ObjectId id, Task<RayObject> available, CancellationToken ct)
    {
        var obj = await available.ConfigureAwait(false);
        if (!obj.IsInStore || ObjectStore is not { } store) return;
        try
        {
            var mapping = await store.GetAsync(id, obj.StoreNode, ct).ConfigureAwait(false);
            if (mapping is null) return;
            mapping.Close();
            store.Release(id);
        }
        catch (Exception e) when (e is RayException or IOException)
        {
            _logger.WaitFetchFailed(e, id);
        }
    }

    // ---- Tasks ----

    public ObjectId[] SubmitTask(RemoteFunctionDescriptor function, TaskOptions? options, TaskArg[] args)
    {
        using var span = RayTracing.StartSubmit(RayTracing.SubmitTask, function.Name);
        var (spec, maxRetries) = BuildTaskSpec(function, options, args);
        var entry = TaskManager.AddPendingTask(spec, maxRetries);
        NormalTaskSubmitter.Submit(entry);
        return spec.ReturnIds();
    }

    public GeneratorStream SubmitStreamingTask(RemoteFunctionDescriptor function, TaskOptions? options, TaskArg[] args)
    {
        using var span = RayTracing.StartSubmit(RayTracing.SubmitTask, function.Name);
        var (spec, maxRetries) = BuildTaskSpec(function, options, args);
        var stream = new GeneratorStream(spec.TaskId, this);
        var entry = TaskManager.AddPendingTask(spec, maxRetries, stream);
        NormalTaskSubmitter.Submit(entry);
        return stream;
    }

    private static readonly TaskOptions s_noTaskOptions = new();
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TaskOptions, ResourceSet> s_taskResources = [];

    private (TaskSpec Spec, int MaxRetries) BuildTaskSpec(RemoteFunctionDescriptor function, TaskOptions? callOptions, TaskArg[] args)
    {
        if (function.Kind != FunctionKind.NormalTask)
            throw new ArgumentException($"{function.Name} is not a remote function (it is an {function.Kind}).", nameof(function));
        // Options given once (the function's, or one object passed with many calls) have their resources computed once:
        // the same ResourceSet then keys the same scheduling class. Only a merge of both is new each call.
        bool merged = function.Options is not null && callOptions is not null;
        var o = function.Options?.MergedWith(callOptions) ?? callOptions ?? s_noTaskOptions;
        if (merged || !s_taskResources.TryGetValue(o, out var resources))
        {
            resources = ResourceRequest.ForTask(function.Name, o.NumCpus ?? 1, o.NumGpus ?? 0, o.Memory ?? 0, o.Resources);
            if (!merged) s_taskResources.AddOrUpdate(o, resources);
        }
        if (o.MaxRetries is < -1)
            throw new ArgumentException($"{function.Name}: MaxRetries is {o.MaxRetries}; use -1 (forever), 0 or a positive count.");
        int maxRetries = o.MaxRetries ?? Config.TaskMaxRetries;
        o.RuntimeEnv?.Validate("options");
        var strategy = o.SchedulingStrategy ?? CapturedStrategy() ?? SchedulingStrategy.Default;
        var (traceParent, traceState) = RayTracing.Capture();
        var spec = new TaskSpec
        {
            TaskId = TaskId.ForNormalTask(JobId),
            Type = TaskType.NormalTask,
            Function = function,
            Args = args,
            Owner = Address,
            ParentTaskId = TaskExecutionContext.Current?.Task.TaskId,
            Resources = InPlacementGroup(resources, strategy),
            Strategy = strategy,
            RuntimeEnv = MergeRuntimeEnv(o.RuntimeEnv),
            MaxRetries = maxRetries,
            // A list of types turns application retries on for those types, unless RetryExceptions says false.
            RetryExceptions = o.RetryExceptions ?? o.RetryExceptionTypes is { Count: > 0 },
            RetryExceptionTypes = o.RetryExceptionTypes,
            Name = o.Name,
            EnableTaskEvents = o.EnableTaskEvents ?? true,
            TraceParent = traceParent,
            TraceState = traceState,
        };
        return (spec, maxRetries);
    }

    /// <summary>The group that work submitted here joins when it names no strategy of its own: the group of the task or
    /// actor running here, if that was scheduled with <c>CaptureChildTasks</c> (any bundle, as in Ray).</summary>
    private static PlacementGroupSchedulingStrategy? CapturedStrategy()
    {
        var context = TaskExecutionContext.Current;
        return (context?.Actor?.CreationStrategy ?? context?.Task.Strategy) is PlacementGroupSchedulingStrategy { CaptureChildTasks: true } parent
            ? new PlacementGroupSchedulingStrategy(parent.PlacementGroup, bundleIndex: -1, captureChildTasks: true)
            : null;
    }

    /// <summary>Work scheduled into a placement group asks for its bundle's resources instead of the node's.</summary>
    private static ResourceSet InPlacementGroup(ResourceSet resources, SchedulingStrategy strategy) =>
        strategy is PlacementGroupSchedulingStrategy pg ? BundleResources.ForBundle(resources, pg.PlacementGroup.Id, pg.BundleIndex) : resources;

    /// <summary>Uploads a local working dir and returns its package URI (null in local mode: the directory is used as is).</summary>
    internal Func<string, string>? WorkingDirUploader { get; set; }

    private RuntimeEnv? MergeRuntimeEnv(RuntimeEnv? own)
    {
        if (own?.WorkingDir is { } dir && WorkingDirUploader is { } upload) own = own with { WorkingDir = upload(dir) };
        // Nested tasks inherit the environment of the task that submits them, as in Ray.
        var parent = TaskExecutionContext.Current?.Task.RuntimeEnv ?? JobRuntimeEnv;
        return parent is null ? own : parent.MergedWith(own);
    }

    public void CancelTask(ObjectId id, bool force, bool recursive) => TaskManager.Cancel(id.TaskId, force, recursive);

    // ---- Actors ----

    public (ActorId ActorId, string? Name, Address Owner) CreateActor(RemoteFunctionDescriptor constructor, ActorOptions? callOptions, TaskArg[] args)
    {
        if (constructor.Kind != FunctionKind.ActorCreation || constructor.ActorClass is null)
            throw new ArgumentException($"{constructor.Name} is not an actor constructor.", nameof(constructor));
        var cls = constructor.ActorClass;
        var o = (cls.Options ?? new ActorOptions()).MergedWith(callOptions);
        if (o.Name is { Length: 0 } || o.Name is not null && string.IsNullOrWhiteSpace(o.Name))
            throw new ArgumentException($"Actor {cls.Name}: ActorOptions.Name must not be empty or blank.", nameof(callOptions));
        if (o.GetIfExists && o.Name is null)
            throw new ArgumentException($"Actor {cls.Name}: ActorOptions.GetIfExists needs a Name to look up.", nameof(callOptions));
        if (o.MaxConcurrency is < 1)
            throw new ArgumentException($"Actor {cls.Name}: MaxConcurrency is {o.MaxConcurrency}; it must be at least 1.", nameof(callOptions));
        if (o.Name is { Length: > MaxActorNameLength })
            throw new ArgumentException($"Actor {cls.Name}: ActorOptions.Name is {o.Name.Length} characters long; names are at most {MaxActorNameLength}.",
                nameof(callOptions));
        if (o.MaxPendingCalls is 0 or < -1)
            throw new ArgumentException($"Actor {cls.Name}: MaxPendingCalls is {o.MaxPendingCalls}; use -1 (no limit) or a positive count.", nameof(callOptions));
        o.RuntimeEnv?.Validate(nameof(callOptions));
        if (o.MaxRestarts is < -1 || o.MaxTaskRetries is < -1)
            throw new ArgumentException($"Actor {cls.Name}: MaxRestarts and MaxTaskRetries must be -1 (forever), 0 or positive.", nameof(callOptions));
        var actorId = ActorId.Of(JobId);
        var strategy = o.SchedulingStrategy ?? CapturedStrategy() ?? SchedulingStrategy.Default;
        var resources = InPlacementGroup(ResourceRequest.ForTask(cls.Name, o.NumCpus ?? 0, o.NumGpus ?? 0, o.Memory ?? 0, o.Resources), strategy);
        var creation = new ActorCreationSpec
        {
            ActorId = actorId,
            Class = cls,
            Name = o.Name,
            Namespace = o.Namespace ?? Namespace,
            Lifetime = o.Lifetime ?? ActorLifetime.NonDetached,
            MaxRestarts = o.MaxRestarts ?? 0,
            MaxTaskRetries = o.MaxTaskRetries ?? 0,
            MaxConcurrency = o.MaxConcurrency ?? (cls.HasAsyncMethods ? Config.AsyncActorDefaultMaxConcurrency : 1),
            MaxPendingCalls = o.MaxPendingCalls ?? -1,
            UsesDefaultCpus = o.NumCpus is null,
            EnableTaskEvents = o.EnableTaskEvents ?? true,
        };
        using var span = RayTracing.StartSubmit(RayTracing.CreateActor, cls.Name);
        var (traceParent, traceState) = RayTracing.Capture();
        var spec = new TaskSpec
        {
            TaskId = TaskId.ForActorCreation(actorId),
            Type = TaskType.ActorCreationTask,
            Function = constructor,
            Args = args,
            Owner = Address,
            ParentTaskId = TaskExecutionContext.Current?.Task.TaskId,
            Resources = resources,
            Strategy = strategy,
            RuntimeEnv = MergeRuntimeEnv(o.RuntimeEnv),
            ActorId = actorId,
            ActorCreation = creation,
            EnableTaskEvents = creation.EnableTaskEvents,
            TraceParent = traceParent,
            TraceState = traceState,
        };
        // The creation task's arguments stay alive for restarts as long as the actor can be restarted; they are
        // pinned like a pending task's (released when the actor dies, see OnActorDied).
        ReferenceCounter.AddSubmittedTaskReferences(spec.ArgumentReferenceIds());
        ActorId registered;
        try
        {
            registered = Gcs.RegisterActor(spec, o.GetIfExists);
        }
        catch
        {
            ReferenceCounter.RemoveSubmittedTaskReferences(spec.ArgumentReferenceIds());
            throw;
        }
        if (registered != actorId)
        {
            ReferenceCounter.RemoveSubmittedTaskReferences(spec.ArgumentReferenceIds());
            // GetIfExists found another creator's actor: that creator owns (counts) its handles.
            Gcs.TryGetNamedActor(o.Name!, creation.Namespace, out _, out var existingOwner);
            return (registered, o.Name, existingOwner ?? Address);
        }
        ReferenceCounter.AddOwnedObject(ActorManager.HandleObjectId(actorId), Address, localRefs: 0);
        TaskEvents?.Record(spec, 0, RaySharp.State.RayTaskStatus.PendingArgsAvail, withInfo: true);
        var pinned = spec.ArgumentReferenceIds().ToArray();
        if (pinned.Length > 0)
        {
            IDisposable? subscription = null;
            int released = 0;
            subscription = Gcs.SubscribeActor(actorId, u =>
            {
                if (u.State != ActorLifecycleState.Dead || Interlocked.Exchange(ref released, 1) != 0) return;
                ReferenceCounter.RemoveSubmittedTaskReferences(pinned);
                subscription?.Dispose();
            });
        }
        return (actorId, o.Name, Address);
    }

    public ObjectId[] SubmitActorTask(ActorHandle actor, RemoteFunctionDescriptor method, TaskArg[] args)
    {
        using var span = RayTracing.StartSubmit(RayTracing.SubmitActorTask, method.Name);
        var (spec, entry, retries) = BuildActorTask(actor, method, args, stream: null);
        ActorTaskSubmitter.Submit(entry, retries);
        return spec.ReturnIds();
    }

    public GeneratorStream SubmitStreamingActorTask(ActorHandle actor, RemoteFunctionDescriptor method, TaskArg[] args)
    {
        using var span = RayTracing.StartSubmit(RayTracing.SubmitActorTask, method.Name);
        var taskId = TaskId.ForActorTask(actor.Id);
        var stream = new GeneratorStream(taskId, this);
        var (_, entry, retries) = BuildActorTask(actor, method, args, stream, taskId);
        ActorTaskSubmitter.Submit(entry, retries);
        return stream;
    }

    private (TaskSpec, TaskManager.Entry, int) BuildActorTask(ActorHandle actor, RemoteFunctionDescriptor method, TaskArg[] args,
        GeneratorStream? stream, TaskId? taskId = null)
    {
        if (method.Kind != FunctionKind.ActorMethod)
            throw new ArgumentException($"{method.Name} is not an actor method.", nameof(method));
        var info = Gcs.GetActorInfo(actor.Id);
        int maxTaskRetries = method.MaxTaskRetries ?? info?.MaxTaskRetries ?? 0;
        long sequence = ActorTaskSubmitter.NextSequenceNumber(actor.Id, info?.MaxPendingCalls ?? -1, method.Name);
        var (traceParent, traceState) = RayTracing.Capture();
        var spec = new TaskSpec
        {
            TaskId = taskId ?? TaskId.ForActorTask(actor.Id),
            Type = TaskType.ActorTask,
            Function = method,
            Args = args,
            Owner = Address,
            ParentTaskId = TaskExecutionContext.Current?.Task.TaskId,
            ActorId = actor.Id,
            SequenceNumber = sequence,
            MaxRetries = maxTaskRetries,
            RetryExceptions = method.RetryExceptions ?? false,
            EnableTaskEvents = info?.EnableTaskEvents ?? true,
            TraceParent = traceParent,
            TraceState = traceState,
        };
        var entry = TaskManager.AddPendingTask(spec, maxTaskRetries, stream);
        return (spec, entry, maxTaskRetries);
    }

    public void ExitActor()
    {
        var actor = TaskExecutionContext.Current?.Actor
            ?? throw new InvalidOperationException("Ray.ExitActor() can only be called from inside an actor method.");
        actor.ExitRequested = true;
    }

    // ---- Placement groups ----

    private IGcsPlacementGroupClient PlacementGroups => _placementGroups
        ?? throw new NotSupportedException("This worker is not connected to a GCS with a placement-group manager.");

    public PlacementGroup CreatePlacementGroup(IReadOnlyList<IReadOnlyDictionary<string, double>> bundles, PlacementStrategy strategy,
        string? name, PlacementGroupLifetime lifetime)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        if (bundles.Count == 0) throw new ArgumentException("A placement group needs at least one bundle.", nameof(bundles));
        var copy = new IReadOnlyDictionary<string, double>[bundles.Count];
        for (int i = 0; i < bundles.Count; i++)
        {
            if (bundles[i] is not { Count: > 0 } bundle)
                throw new ArgumentException($"Bundle {i} of the placement group is empty: a bundle reserves at least one resource.", nameof(bundles));
            foreach (var (resource, amount) in bundle)
            {
                if (string.IsNullOrWhiteSpace(resource) || !double.IsFinite(amount) || amount <= 0)
                    throw new ArgumentException($"Bundle {i} of the placement group asks for {amount} of '{resource}': a bundle's amounts are " +
                        "positive finite numbers of named resources.", nameof(bundles));
                if (BundleResources.IsBundleResource(resource))
                    throw new ArgumentException($"Bundle {i} of the placement group asks for '{resource}', a resource of another placement group.",
                        nameof(bundles));
            }
            copy[i] = new Dictionary<string, double>(bundle, StringComparer.Ordinal);
        }
        if (!Enum.IsDefined(strategy)) throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "Unknown placement strategy.");
        if (!Enum.IsDefined(lifetime)) throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, "Unknown placement group lifetime.");
        if (name is not null && string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A placement group's name must not be empty or blank (use null for no name).", nameof(name));
        if (name is { Length: > MaxActorNameLength })
            throw new ArgumentException($"A placement group's name is at most {MaxActorNameLength} characters; this one has {name.Length}.", nameof(name));
        var id = PlacementGroupId.Of(JobId);
        // Created inside an actor: a non-detached group goes when that actor dies (else with the job).
        PlacementGroups.Create(id, copy, strategy, name, Namespace, lifetime, TaskExecutionContext.Current?.Actor?.Spec.ActorId ?? default);
        return new PlacementGroup(id, copy, strategy, name, (timeout, ct) => WaitPlacementGroupAsync(id, timeout, ct));
    }

    public void RemovePlacementGroup(PlacementGroup pg)
    {
        ArgumentNullException.ThrowIfNull(pg);
        if (!PlacementGroups.Remove(pg.Id))
            throw new ArgumentException($"Placement group {pg.Id} does not exist in this cluster.", nameof(pg));
    }

    public PlacementGroup GetPlacementGroup(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var found = PlacementGroups.GetNamed(name, Namespace)
            ?? throw new ArgumentException($"No live placement group named '{name}' in namespace '{Namespace}'.", nameof(name));
        return new PlacementGroup(found.Id, found.Bundles, found.Strategy, found.Name, (timeout, ct) => WaitPlacementGroupAsync(found.Id, timeout, ct));
    }

    /// <summary>A group known only by ID (from a task's scheduling strategy): described by the GCS when asked.</summary>
    internal static PlacementGroup PlacementGroupHandle(PlacementGroupId id) => new(id, () =>
    {
        var found = Current.PlacementGroups.Get(id) ?? throw new PlacementGroupSchedulingException($"Placement group {id} does not exist in this cluster.");
        return (found.Bundles, found.Strategy, found.Name);
    }, (timeout, ct) => Current.WaitPlacementGroupAsync(id, timeout, ct));

    /// <summary>Waits for the group on the GCS, in slices, so that no call outlives the GCS's deadlines.</summary>
    private async Task<bool> WaitPlacementGroupAsync(PlacementGroupId id, TimeSpan timeout, CancellationToken ct)
    {
        var slice = TimeSpan.FromSeconds(30);
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            long left = deadline - Environment.TickCount64;
            var wait = left > slice.TotalMilliseconds ? slice : TimeSpan.FromMilliseconds(Math.Max(0, left));
            if (await PlacementGroups.WaitUntilReadyAsync(id, wait, ct).ConfigureAwait(false)) return true;
            if (Environment.TickCount64 >= deadline) return false;
        }
    }

    // ---- Cluster and context ----

    public IReadOnlyList<NodeInfo> Nodes() => Raylet.GetNodes();

    public IReadOnlyDictionary<string, double> ClusterResources() => Raylet.GetTotalResources();

    public IReadOnlyDictionary<string, double> AvailableResources() => Raylet.GetAvailableResources();

    public RuntimeContext GetRuntimeContext()
    {
        var context = TaskExecutionContext.Current;
        return new RuntimeContext
        {
            JobId = JobId,
            NodeId = Raylet.NodeId,
            WorkerId = context?.Worker.WorkerId ?? WorkerId,
            TaskId = context?.Task.TaskId,
            ActorId = context?.Actor?.Spec.ActorId,
            Namespace = Namespace,
            WasCurrentActorReconstructed = context?.Actor?.WasReconstructed ?? false,
            AssignedResources = context?.Worker.AssignedResources.ToDictionary() ?? new Dictionary<string, double>(),
        };
    }

    /// <summary>This process's reference table for the state API (<c>ListObjects</c>): up to <paramref name="limit"/>
    /// references, each with what the owner knows of its value (size, in a store, spilled) and of the task creating it.</summary>
    public CoreWorkerObjects ListObjectRefs(int limit, bool isDriver)
    {
        var refs = ReferenceCounter.Snapshot(limit, out int total);
        var objects = new ObjectRefData[refs.Count];
        for (int i = 0; i < objects.Length; i++)
        {
            var r = refs[i];
            long size = -1;
            NodeId storeNode = default;
            if (MemoryStore.TryGet(r.Id, out var obj) && !obj.IsError)
            {
                size = obj.Size;
                storeNode = obj.StoreNode;
            }
            RaySharp.State.RayTaskStatus? taskStatus = null;
            int attempt = 0;
            if (r.Owned && !r.Id.IsPut && !ActorManager.IsHandleObject(r.Id, out _))
            {
                if (TaskManager.TryGetPending(r.Id.TaskId, out var entry))
                {
                    taskStatus = entry.Status switch
                    {
                        TaskManager.Status.WaitingForDependencies => RaySharp.State.RayTaskStatus.PendingArgsAvail,
                        TaskManager.Status.WaitingForLease => RaySharp.State.RayTaskStatus.PendingNodeAssignment,
                        TaskManager.Status.Running => RaySharp.State.RayTaskStatus.SubmittedToWorker,
                        _ => RaySharp.State.RayTaskStatus.Finished,
                    };
                    attempt = entry.Attempt;
                }
                else if (obj is not null) taskStatus = obj.IsError ? RaySharp.State.RayTaskStatus.Failed : RaySharp.State.RayTaskStatus.Finished;
            }
            objects[i] = new ObjectRefData
            {
                ObjectId = r.Id, Size = size, Owned = r.Owned, Owner = r.Owner?.WorkerId ?? default, Local = r.Local, Submitted = r.Submitted,
                ContainedIn = r.ContainedIn, Borrowers = r.Borrowers, TaskStatus = taskStatus, Attempt = attempt, StoreNode = storeNode,
                Spilled = r.Owned && SpilledUrl(r.Id) is not null,
                ReferenceType = ActorManager.IsHandleObject(r.Id, out _) ? RaySharp.State.ReferenceType.ActorHandle
                    : r.Submitted > 0 ? RaySharp.State.ReferenceType.UsedByPendingTask
                    : r.Local > 0 ? RaySharp.State.ReferenceType.LocalReference
                    : r.ContainedIn > 0 ? RaySharp.State.ReferenceType.CapturedInObject
                    : RaySharp.State.ReferenceType.BorrowedByOthers,
            };
        }
        return new CoreWorkerObjects(WorkerId, isDriver, Environment.ProcessId, Raylet.NodeId, Address.Endpoint, objects, total);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var shutdown = new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = "RaySharp was shut down before the task finished." };
        TaskManager.FailAll(shutdown);
        // The last events (those failures among them) go out while the GCS is still there.
        try
        {
            TaskEvents?.StopAsync(TimeSpan.FromSeconds(5)).Wait(TimeSpan.FromSeconds(6));
        }
        catch (AggregateException e)
        {
            _logger.LastTaskEventsNotSent(e.GetBaseException());
        }
        NormalTaskSubmitter.Dispose();
        ActorTaskSubmitter.Dispose();
        Gcs.Dispose();
        Raylet.Dispose();
        MemoryStore.FailAllWaiters(shutdown);
        _onDispose?.Invoke();
        _logger.ShutDown(WorkerId, JobId);
    }
}

namespace RaySharp.Core;

/// <summary>A request for a worker lease (Ray's <c>RequestWorkerLease</c>).</summary>
/// <param name="Resources">What the lease holds while it lives.</param>
/// <param name="Strategy">Where it may run.</param>
/// <param name="RuntimeEnvKey">Workers are reused only for the same runtime environment.</param>
/// <param name="IsActorCreation">The lease is for an actor's worker.</param>
/// <param name="Description">The task or actor, for messages.</param>
/// <param name="PlacementResources">Resources that must be free to place the lease, when they differ from those it
/// holds (an actor with default CPUs needs 1 CPU to be placed and holds 0 while it runs, as in Ray).</param>
/// <param name="EnvVars">The runtime env's variables, set on the worker process that serves the lease.</param>
internal sealed record LeaseRequest(ResourceSet Resources, SchedulingStrategy Strategy, string RuntimeEnvKey,
    bool IsActorCreation, string Description, ResourceSet? PlacementResources = null, IReadOnlyDictionary<string, string>? EnvVars = null)
{
    /// <summary>The node holding most of the task's argument bytes in its object store (data locality): the request goes
    /// to that node's raylet rather than the local one, when the strategy leaves the choice open. Nil: no preference.</summary>
    public NodeId PreferredNode { get; init; }

    /// <summary>The task's arguments in object stores and the node holding each, for the granting raylet to pull.</summary>
    public IReadOnlyList<(ObjectId Id, NodeId Node)>? StoreArgs { get; init; }

    /// <summary>The working-dir package (<c>gcs://…</c>) the worker runs in, from the task's runtime env.</summary>
    public string? WorkingDirUri { get; init; }
}

/// <summary>A granted lease: a worker to push tasks to, holding <see cref="Resources"/> on <see cref="NodeId"/>.</summary>
internal sealed class WorkerLease(long leaseId, ICoreWorkerClient worker, NodeId nodeId, ResourceSet resources)
{
    public long LeaseId { get; } = leaseId;
    public ICoreWorkerClient Worker { get; } = worker;
    public NodeId NodeId { get; } = nodeId;
    public ResourceSet Resources { get; } = resources;

    /// <summary>The endpoint of the raylet that granted the lease (cluster runtime), to return it there.</summary>
    public string? Raylet { get; init; }

    /// <summary>Other owners were waiting for resources on its node when it was granted: it goes back once idle.</summary>
    public bool Contended { get; init; }
}

/// <summary>
/// The raylet as a task owner sees it: grants worker leases against exact local resource accounting. Local
/// mode implements it in process; the cluster runtime implements it over RPC.
/// </summary>
internal interface IRayletClient : IDisposable
{
    /// <summary>Waits until a worker with the resources is granted. Throws
    /// <see cref="TaskUnschedulableException"/>/<see cref="ActorUnschedulableException"/> when the request is
    /// canceled as never satisfiable (e.g. hard affinity to an unknown node).</summary>
    ValueTask<WorkerLease> RequestWorkerLeaseAsync(LeaseRequest request, CancellationToken ct);

    /// <summary>As <see cref="RequestWorkerLeaseAsync(LeaseRequest, CancellationToken)"/>, and <paramref name="cancel"/> asks
    /// the raylet to drop the request while it waits (Ray's <c>CancelWorkerLease</c>): the call then throws
    /// <see cref="OperationCanceledException"/>, unless the lease was being granted already, in which case it returns the
    /// lease (the caller returns it if it has no use for it). <paramref name="ct"/> abandons the call instead.</summary>
    ValueTask<WorkerLease> RequestWorkerLeaseAsync(LeaseRequest request, CancellationToken ct, CancellationToken cancel)
    {
        if (!cancel.CanBeCanceled) return RequestWorkerLeaseAsync(request, ct);
        return Linked(request, ct, cancel);

        async ValueTask<WorkerLease> Linked(LeaseRequest request, CancellationToken ct, CancellationToken cancel)
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, cancel);
            return await RequestWorkerLeaseAsync(request, both.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Returns the worker and its resources.</summary>
    void ReturnWorker(WorkerLease lease, bool disconnectWorker);

    /// <summary>Returns several leases at once (one message per raylet where the client can batch them).</summary>
    void ReturnWorkers(IReadOnlyList<(WorkerLease Lease, bool Disconnect)> leases)
    {
        foreach (var (lease, disconnect) in leases) ReturnWorker(lease, disconnect);
    }

    /// <summary>A task holding <paramref name="lease"/> blocked in Get: its CPUs are released meanwhile.</summary>
    void NotifyTaskBlocked(WorkerLease lease);

    /// <summary>The blocked task resumed: its CPUs are taken back (even if that oversubscribes the node).</summary>
    void NotifyTaskUnblocked(WorkerLease lease);

    NodeId NodeId { get; }

    /// <summary>True when <paramref name="node"/> is dead: the GCS says so, or its raylet does not answer.</summary>
    Task<bool> IsNodeDeadAsync(NodeId node, CancellationToken ct) => Task.FromResult(false);

    IReadOnlyList<NodeInfo> GetNodes();
    IReadOnlyDictionary<string, double> GetTotalResources();
    IReadOnlyDictionary<string, double> GetAvailableResources();
}

/// <summary>The reply to a pushed task.</summary>
internal sealed record PushTaskReply(RayObject[] Returns, RayErrorInfo? Error, bool IsApplicationError, ObjectId[][]? NestedPins = null)
{
    /// <summary>Refs nested in the returns of a task that ran in another process, with their owners: the
    /// submitter registers as their borrower, then asks <see cref="Executor"/> to drop its pins.</summary>
    public NestedRef[]? RemoteNested { get; init; }

    /// <summary>The worker that ran the task, when it holds pins on <see cref="RemoteNested"/>.</summary>
    public ICoreWorkerClient? Executor { get; init; }

    /// <summary>The worker gave the task back without starting it (the task ahead of it blocked in Get): the submitter
    /// sends it again, elsewhere, at no cost to its retries.</summary>
    public bool NotStarted { get; init; }

    /// <summary>The reply to a task the worker gives back unstarted.</summary>
    public static PushTaskReply GivenBack { get; } = new([], null, false) { NotStarted = true };

    /// <summary>The worker died or left before the task finished (a system failure, retried per MaxRetries).</summary>
    public static PushTaskReply WorkerDied(string message) =>
        new([], new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = message }, false);
}

/// <summary>A ref nested in a task's return, with its owner (so the receiver can register as its borrower).</summary>
internal readonly record struct NestedRef(ObjectId Id, Address Owner);

/// <summary>A worker as its task submitters see it (Ray's <c>CoreWorkerClient</c>).</summary>
internal interface ICoreWorkerClient
{
    /// <summary>Runs the task on the worker and returns its results.</summary>
    Task<PushTaskReply> PushTaskAsync(TaskSpec task, CancellationToken ct);

    /// <summary>Signals a running task's cancellation token; false when the task is not running there. With
    /// <paramref name="recursive"/> the worker also cancels the tasks that task submitted (it owns them).</summary>
    bool CancelTask(TaskId taskId, bool force, bool recursive = false);

    /// <summary><see cref="CancelTask"/>, completing once the worker has acted on it (a task queued there is dropped by
    /// then, so it can no longer start); completes too if the worker cannot be reached.</summary>
    Task CancelTaskAsync(TaskId taskId, bool force, bool recursive = false)
    {
        CancelTask(taskId, force, recursive);
        return Task.CompletedTask;
    }

    /// <summary>Drops the executor's pins on refs nested in a task's returns (once the owner holds them).</summary>
    void ReleasePins(ObjectId[] ids) { }

    /// <summary>False once the connection to the worker is known to be broken (its process died): a lease held idle on it
    /// is given back rather than used.</summary>
    bool IsAlive => true;
}

/// <summary>Where an executing task reports the items of a streaming generator (the owner's endpoint).</summary>
internal interface IGeneratorItemSink
{
    void ReportGeneratorItem(TaskId taskId, int index, RayObject item);
}

/// <summary>Ray's actor states (GCS <c>ActorTableData.state</c>).</summary>
internal enum ActorLifecycleState { PendingCreation, Alive, Restarting, Dead }

/// <summary>What the GCS publishes to handle holders when an actor changes state.</summary>
internal sealed record ActorStateUpdate(ActorId ActorId, ActorLifecycleState State, ICoreWorkerClient? Worker, int NumRestarts,
    RayErrorInfo? DeathCause, NodeId NodeId = default);

/// <summary>The GCS actor manager as workers see it: registration (with named-actor uniqueness), lookup,
/// kill, and pub/sub of actor state. Local mode implements it in process.</summary>
internal interface IGcsActorClient : IDisposable
{
    /// <summary>Registers and schedules an actor. With <paramref name="getIfExists"/> and a live actor of the same
    /// name, returns that actor instead. Throws <see cref="ArgumentException"/> when the name is taken.</summary>
    ActorId RegisterActor(TaskSpec creationTask, bool getIfExists);

    /// <summary>The live actor with that name, and the worker that owns it (counts its handles).</summary>
    bool TryGetNamedActor(string name, string @namespace, out ActorId actorId, out Address? owner);

    void KillActor(ActorId actorId, bool noRestart, string reason);

    /// <summary>Every handle of a non-detached actor is gone and its calls are done: exit it gracefully.</summary>
    void ReportActorOutOfScope(ActorId actorId);

    /// <summary>Calls <paramref name="onUpdate"/> with the current state now and with every later change.</summary>
    IDisposable SubscribeActor(ActorId actorId, Action<ActorStateUpdate> onUpdate);

    /// <summary>The actor's call limits, if the GCS knows it.</summary>
    ActorLimits? GetActorInfo(ActorId actorId);
}

/// <summary>The GCS's placement-group manager as workers call it (Ray's <c>PlacementGroupInfoAccessor</c>).</summary>
internal interface IGcsPlacementGroupClient
{
    /// <summary>Stores and queues the group; throws <see cref="ArgumentException"/> when a live group has the name.</summary>
    void Create(PlacementGroupId id, IReadOnlyList<IReadOnlyDictionary<string, double>> bundles, PlacementStrategy strategy, string? name,
        string @namespace, PlacementGroupLifetime lifetime, ActorId creatorActor);

    /// <summary>Removes the group; false when the GCS knows no such group.</summary>
    bool Remove(PlacementGroupId id);

    PlacementGroupDescription? Get(PlacementGroupId id);

    PlacementGroupDescription? GetNamed(string name, string @namespace);

    /// <summary>True once the group is created, false at the timeout; throws <see cref="PlacementGroupSchedulingException"/>
    /// when it was removed.</summary>
    Task<bool> WaitUntilReadyAsync(PlacementGroupId id, TimeSpan timeout, CancellationToken ct);
}

/// <summary>A placement group as the GCS describes it to a worker.</summary>
internal sealed record PlacementGroupDescription(PlacementGroupId Id, IReadOnlyList<IReadOnlyDictionary<string, double>> Bundles, PlacementStrategy Strategy,
    string? Name, bool Removed);

/// <summary>What a caller needs to know about an actor to submit calls: its retry and backpressure limits.</summary>
internal sealed record ActorLimits(int MaxTaskRetries, int MaxPendingCalls, bool EnableTaskEvents = true);

/// <summary>What a core worker is connected to: its raylet and the GCS, its own RPC endpoint, and — in a cluster —
/// the ownership protocol with other workers.</summary>
/// <param name="Raylet">The local raylet.</param>
/// <param name="Gcs">The GCS's actor manager.</param>
/// <param name="Endpoint">Where this worker serves its RPCs.</param>
/// <param name="Socket">Its Unix socket for same-node callers, if any.</param>
/// <param name="Ownership">The ownership protocol with other workers; null when every object is owned here.</param>
/// <param name="OnDispose">Run when the core worker shuts down (closes what the composition root opened).</param>
/// <param name="WorkersShareProcess">Local mode: the workers are threads of this process, so a task's env vars are
/// set process-wide while it runs (a worker process is started with them instead).</param>
/// <param name="ObjectStore">The node's shared-memory object store; null when objects stay inline (component tests).</param>
/// <param name="PlacementGroups">The GCS's placement-group manager; null when there is none (component tests).</param>
/// <param name="TaskEvents">Where this process's task events go (the GCS); null: none are recorded.</param>
/// <param name="State">The cluster's state for <see cref="RaySharp.State.StateApi"/>; null when there is no GCS to ask.</param>
internal sealed record WorkerConnections(IRayletClient Raylet, IGcsActorClient Gcs, string Endpoint, string? Socket = null,
    IOwnershipClient? Ownership = null, bool WorkersShareProcess = false, Action? OnDispose = null, IObjectStoreClient? ObjectStore = null,
    IGcsPlacementGroupClient? PlacementGroups = null, ITaskEventSink? TaskEvents = null, RaySharp.State.IStateSource? State = null);

/// <summary>The ownership protocol as a borrower uses it (Ray's object status and borrower RPCs to owners).</summary>
internal interface IOwnershipClient
{
    /// <summary>The object's value from its owner, waiting until it exists; an OwnerDied error when the owner is gone. With
    /// <paramref name="lostAt"/>, the copy on that node could not be read: the owner recovers the object first.</summary>
    Task<RayObject> GetObjectAsync(Address owner, ObjectId id, NodeId lostAt = default);

    /// <summary>Tells the owner this worker borrows the object (completes when the owner has recorded it).</summary>
    Task AddBorrowerAsync(Address owner, ObjectId id, Address borrower);

    void RemoveBorrower(Address owner, ObjectId id, Address borrower);

    /// <summary>Sends one item of a streaming task to the task's owner; completes once the owner has it.</summary>
    Task ReportGeneratorItemAsync(Address owner, TaskId taskId, int index, RayObject item);
}

/// <summary>
/// The node's shared-memory object store as a worker or driver of the node uses it (Ray's plasma client): create,
/// write and seal objects; map sealed ones to read them (pulled from another node first when this one has no copy);
/// release them; free them when their owner is done. Mappings alias the node's shared memory: no copy.
/// </summary>
internal interface IObjectStoreClient
{
    /// <summary>This node.</summary>
    NodeId NodeId { get; }

    /// <summary>Allocates the object and returns the path of its file, to write (or map) before sealing; null when it
    /// exists already (objects are immutable).</summary>
    /// <exception cref="ObjectStoreFullException">No room within the store's grace period, or larger than the store.</exception>
    Task<string?> CreateAsync(ObjectId id, long size, Address owner, CancellationToken ct);

    /// <summary>The object is written: it becomes visible to readers.</summary>
    Task SealAsync(ObjectId id, CancellationToken ct);

    /// <summary>Drops an object this client did not finish writing.</summary>
    void Abort(ObjectId id);

    /// <summary>Maps a sealed copy for reading, pulled from <paramref name="from"/> when this node has none; the mapping
    /// counts as a reader until <see cref="Release"/>. Null when no copy can be found.</summary>
    Task<StoreMapping?> GetAsync(ObjectId id, NodeId from, CancellationToken ct);

    /// <summary>Ends one read of <see cref="GetAsync"/> (after unmapping).</summary>
    void Release(ObjectId id);

    /// <summary>The owner released these objects: the nodes that hold copies of them (<paramref name="nodes"/>, from the
    /// owner's object directory) free them.</summary>
    void Free(ObjectId[] ids, NodeId[] nodes);

    /// <summary>This node's store: its capacity, what it holds and what it spilled.</summary>
    Task<ObjectStoreStats> GetStatsAsync(CancellationToken ct);
}

/// <summary>A node's object store figures (<see cref="Objects"/> counts every object it holds, in memory or spilled).</summary>
internal sealed record ObjectStoreStats(NodeId NodeId, long Capacity, long Used, int Objects, long SpilledBytes, int SpilledObjects,
    long RestoredBytes, long EvictedBytes, long FallbackBytes, int ObjectsBeingRead);

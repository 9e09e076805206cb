using MemoryPack;

namespace RaySharp.Core.Rpc;

// The messages of RaySharp's gRPC services, written with MemoryPack. Ray's protobuf messages of the same
// purpose are named in the comments so a Ray engineer can map them.

[MemoryPackable] internal sealed partial record Empty { public static readonly Empty Instance = new(); }

[MemoryPackable] internal sealed partial record BoolReply(bool Value);

// ---- Objects and tasks (common.proto: TaskSpec, ObjectReference) ----

/// <summary>An object's value or error, with the refs nested in it.</summary>
[MemoryPackable] internal sealed partial record WireObject(byte[]? Data, RayErrorInfo? Error, ObjectId[] NestedIds, NodeId StoreNode = default, long StoreSize = 0);

/// <summary>A ref nested in a return, with its owner (so the receiver can register as its borrower).</summary>
[MemoryPackable] internal sealed partial record WireNestedRef(ObjectId Id, Address Owner);

[MemoryPackable] internal sealed partial record WireArg(bool IsRef, ObjectId Id, Address? Owner, byte[]? Data, ObjectId[] NestedIds, NodeId StoreNode = default,
    long StoreSize = 0);

internal enum WireStrategyKind : byte { Default, Spread, NodeAffinity, PlacementGroup }

/// <summary>Where work may run; for <see cref="WireStrategyKind.PlacementGroup"/>, the group, the bundle (-1: any) and
/// whether work submitted from inside joins the group too.</summary>
[MemoryPackable] internal sealed partial record WireStrategy(WireStrategyKind Kind, NodeId NodeId, bool Soft, PlacementGroupId PlacementGroup = default,
    int BundleIndex = -1, bool CaptureChildTasks = false)
{
    // Immutable, so the two strategies without parameters are shared rather than built per message.
    public static readonly WireStrategy Default = new(WireStrategyKind.Default, default, false);
    public static readonly WireStrategy Spread = new(WireStrategyKind.Spread, default, false);
}

[MemoryPackable]
internal sealed partial record WireActorCreation
{
    public required ActorId ActorId { get; init; }
    public required string ClassName { get; init; }
    public string? Name { get; init; }
    public required string Namespace { get; init; }
    public ActorLifetime Lifetime { get; init; }
    public int MaxRestarts { get; init; }
    public int MaxTaskRetries { get; init; }
    public int MaxConcurrency { get; init; } = 1;
    public int MaxPendingCalls { get; init; } = -1;
    public bool UsesDefaultCpus { get; init; }
    public bool EnableTaskEvents { get; init; } = true;
}

[MemoryPackable]
internal sealed partial record WireTaskSpec
{
    public required TaskId TaskId { get; init; }
    public required TaskType Type { get; init; }
    public required JobId JobId { get; init; }
    public required ulong FunctionId { get; init; }
    public required string FunctionName { get; init; }
    public required WireArg[] Args { get; init; }
    public required Address Owner { get; init; }
    public TaskId? ParentTaskId { get; init; }
    /// <summary>Null when the task asks for no resources (an actor call).</summary>
    public Dictionary<string, double>? Resources { get; init; }
    public WireStrategy Strategy { get; init; } = WireStrategy.Default;
    public Dictionary<string, string>? EnvVars { get; init; }
    public string? WorkingDir { get; init; }
    public int MaxRetries { get; init; }
    public bool RetryExceptions { get; init; }
    public string? Name { get; init; }
    public bool EnableTaskEvents { get; init; } = true;
    public ActorId ActorId { get; init; }
    public long SequenceNumber { get; init; }
    public int AttemptNumber { get; init; }
    public WireActorCreation? ActorCreation { get; init; }
    /// <summary>The submitter's W3C trace context (<c>traceparent</c>, <c>tracestate</c>); null when it was not traced.</summary>
    public string? TraceParent { get; init; }
    public string? TraceState { get; init; }

    public string DisplayName => Name ?? FunctionName;
}

// ---- CoreWorkerService (core_worker.proto) ----

[MemoryPackable] internal sealed partial record PushTaskRequest(long CallId, WireTaskSpec Task, long LeaseId, Dictionary<string, double> LeaseResources);

// NotStarted: the worker gave the task back without running it (the task ahead of it blocked in Get).
[MemoryPackable] internal sealed partial record PushTaskResponse(long CallId, WireObject[] Returns, RayErrorInfo? Error, bool IsApplicationError,
    WireNestedRef[]? NestedPins, bool NotStarted = false);

/// <summary>Pushes batched on the long-lived task stream.</summary>
[MemoryPackable] internal sealed partial record PushBatch(PushTaskRequest[] Items);

[MemoryPackable] internal sealed partial record ReplyBatch(PushTaskResponse[] Items);

[MemoryPackable] internal sealed partial record CancelTaskRequest(TaskId TaskId, bool Force, bool Recursive);

/// <summary>A borrower asks the owner for an object; <see cref="LostAt"/>: the copy on that node could not be read.</summary>
[MemoryPackable] internal sealed partial record GetObjectRequest(ObjectId ObjectId, NodeId LostAt = default);

[MemoryPackable] internal sealed partial record BorrowerRequest(ObjectId ObjectId, Address Borrower);

[MemoryPackable] internal sealed partial record ReleasePinsRequest(ObjectId[] Ids);

[MemoryPackable] internal sealed partial record GeneratorItemRequest(TaskId TaskId, int Index, WireObject Item);

[MemoryPackable] internal sealed partial record ExitRequest(bool Force, string Reason);

// ---- NodeManagerService (node_manager.proto) ----

[MemoryPackable]
internal sealed partial record WireLeaseRequest
{
    public required JobId JobId { get; init; }
    public required Dictionary<string, double> Resources { get; init; }
    public Dictionary<string, double>? PlacementResources { get; init; }
    public required WireStrategy Strategy { get; init; }
    public required string RuntimeEnvKey { get; init; }
    public Dictionary<string, string>? EnvVars { get; init; }
    public bool IsActorCreation { get; init; }
    /// <summary>On the GCS's actor-creation leases: which GCS process asked. A GCS that restarted releases the actor
    /// workers an earlier one leased that no actor uses (<see cref="ReleaseUnusedActorWorkersRequest"/>).</summary>
    public long GcsIncarnation { get; init; }
    public required string Description { get; init; }
    /// <summary>Set when another raylet already chose this node (no second spillback).</summary>
    public bool GrantOrReject { get; init; }
    /// <summary>Another raylet chose this node for the request (a spillback).</summary>
    public bool Spilled { get; init; }
    /// <summary>The task's arguments in object stores, with the node holding each: the granting raylet pulls those it
    /// lacks while the task is pushed.</summary>
    public WireStoreArg[]? StoreArgs { get; init; }
    /// <summary>The task's or actor's own working-dir package URI, when it differs from its job's.</summary>
    public string? WorkingDirUri { get; init; }
    /// <summary>Chosen by the requester (0: none) to cancel the request while it waits (Ray's <c>CancelWorkerLease</c>).</summary>
    public long LeaseRequestId { get; init; }
    /// <summary>The worker (driver or worker process) that will hold the lease; nil for the GCS's actor leases. When it
    /// dies, the raylet takes its leases back (Ray releases the workers leased to a dead owner).</summary>
    public WorkerId Holder { get; init; }
    /// <summary>Where the holder serves (its core worker): a raylet where other owners' requests wait asks it to give back
    /// the leases it holds idle there (<see cref="ReturnIdleLeasesRequest"/>). Null: not reachable so.</summary>
    public Address? HolderAddress { get; init; }
}

/// <summary>From a raylet where lease requests of other owners wait for resources: the owner gives back at once the leases
/// on that node it keeps idle for reuse (their linger), and the rest of its leases there as soon as they go idle.</summary>
[MemoryPackable] internal sealed partial record ReturnIdleLeasesRequest(NodeId NodeId);

[MemoryPackable] internal sealed partial record WireStoreArg(ObjectId ObjectId, NodeId Node);

/// <summary>Granted; Spillback to another node; Canceled: never schedulable as asked (the work fails); Rejected: not
/// this time (the worker failed to start, the node is stopping), ask again.</summary>
internal enum LeaseReplyKind : byte { Granted, Spillback, Canceled, Rejected }

[MemoryPackable]
internal sealed partial record WireLeaseReply
{
    public required LeaseReplyKind Kind { get; init; }
    public long LeaseId { get; init; }
    public Address? Worker { get; init; }
    public NodeId NodeId { get; init; }
    public Dictionary<string, double>? Resources { get; init; }
    public string? SpillbackEndpoint { get; init; }
    public string? CancelMessage { get; init; }
    /// <summary>Canceled because the placement group the work was scheduled into was removed.</summary>
    public bool PlacementGroupRemoved { get; init; }
    /// <summary>Canceled because its requester no longer needs it (<see cref="CancelWorkerLeaseRequest"/>).</summary>
    public bool CanceledByOwner { get; init; }
    /// <summary>Granted while other owners' requests wait here for resources: give the worker back as soon as it is idle,
    /// without keeping it for reuse.</summary>
    public bool Contended { get; init; }
}

/// <summary>The requester no longer needs the lease request it numbered so (Ray's <c>CancelWorkerLease</c>): a request still
/// queued is answered Canceled; one being granted is not touched (the requester gets the grant and returns it).</summary>
[MemoryPackable] internal sealed partial record CancelWorkerLeaseRequest(long LeaseRequestId);

[MemoryPackable] internal sealed partial record ReturnWorkerRequest(long LeaseId, bool Disconnect);

/// <summary>Several leases returned at once (leases that went idle together).</summary>
[MemoryPackable] internal sealed partial record ReturnWorkersRequest(ReturnWorkerRequest[] Leases);

/// <summary>From a GCS that restarted (Ray's <c>ReleaseUnusedActorWorkers</c>): actor workers leased by another GCS
/// incarnation and not in <paramref name="InUse"/> (the workers of the actors it knows on the node) are stopped.</summary>
[MemoryPackable] internal sealed partial record ReleaseUnusedActorWorkersRequest(long GcsIncarnation, WorkerId[] InUse);

[MemoryPackable] internal sealed partial record ReleaseUnusedActorWorkersReply(int Released);

[MemoryPackable] internal sealed partial record LeaseIdRequest(long LeaseId);

[MemoryPackable] internal sealed partial record RegisterWorkerRequest(WorkerId WorkerId, int ProcessId, Address Address);

[MemoryPackable] internal sealed partial record NodeStatsReply(Dictionary<string, double> Total, Dictionary<string, double> Available, int NumWorkers);

// ---- Placement-group bundles on a raylet (node_manager.proto: PrepareBundleResources, CommitBundleResources,
// CancelResourceReserve) ----

[MemoryPackable] internal sealed partial record WireBundle(int Index, Dictionary<string, double> Resources);

/// <summary>Phase one of reserving bundles of a group on a node.</summary>
[MemoryPackable] internal sealed partial record PrepareBundlesRequest(PlacementGroupId Group, WireBundle[] Bundles);

/// <summary>Commit (phase two) or cancel bundles of a group on a node; <see cref="GroupRemoved"/>: the group is gone for
/// good (its work here is stopped and requests for it are refused).</summary>
[MemoryPackable] internal sealed partial record BundlesRequest(PlacementGroupId Group, int[] Indices, bool GroupRemoved = false);

/// <summary>Whether the node did it, and its resources after.</summary>
[MemoryPackable] internal sealed partial record BundlesReply(bool Ok, Dictionary<string, double> Total, Dictionary<string, double> Available);

// ---- The object store and object manager (plasma/protocol, object_manager.proto) ----

/// <summary>A client of the node's store (a worker or driver, named by its worker ID) asks for room for an object.</summary>
[MemoryPackable] internal sealed partial record StoreCreateRequest(WorkerId Client, ObjectId ObjectId, long Size, Address? Owner);

/// <summary>Created: map <see cref="Path"/> and write. Exists: the object is there already (nothing to write).
/// <see cref="Error"/>: the store is full (the message says why).</summary>
[MemoryPackable] internal sealed partial record StoreCreateReply(bool Created, string Path, string? Error);

/// <summary>Seal, abort or release one object of the client.</summary>
[MemoryPackable] internal sealed partial record StoreObjectRequest(WorkerId Client, ObjectId ObjectId);

/// <summary>A client maps a sealed object; when the node has no copy and <see cref="PullFrom"/> is another node, the
/// raylet pulls one from there first.</summary>
[MemoryPackable] internal sealed partial record StoreGetRequest(WorkerId Client, ObjectId ObjectId, NodeId PullFrom);

/// <summary>Found: map <see cref="Path"/> (<see cref="Size"/> bytes) and release it when done.</summary>
[MemoryPackable] internal sealed partial record StoreGetReply(bool Found, string Path, long Size, string? Error);

/// <summary>The owners of these objects released them: free every copy here, and forward the request to
/// <see cref="Nodes"/> (the nodes the owners know hold copies) or, when <see cref="AllNodes"/>, to every node.</summary>
[MemoryPackable] internal sealed partial record FreeObjectsRequest(ObjectId[] ObjectIds, bool AllNodes, NodeId[]? Nodes = null);

/// <summary>Another raylet asks for an object's bytes (a pull).</summary>
[MemoryPackable] internal sealed partial record ReadObjectRequest(ObjectId ObjectId, NodeId Requester);

/// <summary>One chunk of a transferred object; the first carries its total size and its owner (told where the copy went).</summary>
[MemoryPackable] internal sealed partial record ObjectChunk(long Total, long Offset, byte[] Data, Address? Owner = null);

/// <summary>A raylet tells an object's owner that its node now holds a copy (the owner's object directory), or, with
/// <see cref="SpilledUrl"/>, that it spilled the primary copy there.</summary>
[MemoryPackable] internal sealed partial record ObjectLocationRequest(ObjectId ObjectId, NodeId NodeId, string? SpilledUrl = null);

/// <summary>The node's object store, for <c>raysharp memory</c> and <c>status</c>.</summary>
[MemoryPackable] internal sealed partial record StoreObjectInfo(ObjectId ObjectId, long Size, bool IsPrimary, bool IsSealed, int Readers,
    bool IsSpilled, Address? Owner, bool OnFallback);

[MemoryPackable] internal sealed partial record StoreStatsReply(NodeId NodeId, long Capacity, long Used, long SpilledBytes, int SpilledObjects,
    long RestoredBytes, long EvictedBytes, long FallbackBytes, StoreObjectInfo[] Objects);

// ---- GCS (gcs_service.proto) ----

[MemoryPackable]
internal sealed partial record NodeRecord
{
    public required NodeId NodeId { get; init; }
    public required string RayletEndpoint { get; init; }
    public string? RayletSocket { get; init; }
    public required Dictionary<string, double> Total { get; init; }
    public Dictionary<string, double> Available { get; init; } = [];
    public bool Alive { get; init; } = true;
    public bool IsHead { get; init; }
    public int ProcessId { get; init; }
    public string? DeathReason { get; init; }
    /// <summary>The node's Prometheus port (<c>--metrics-export-port</c>) on the raylet endpoint's host; 0: it exports none.</summary>
    public int MetricsExportPort { get; init; }
    /// <summary>The node provider's name for the machine or pod this node runs on (<c>RAY_CLOUD_INSTANCE_ID</c>, set by the
    /// autoscaler's provider): how the autoscaler tells which of its instances became which node.</summary>
    public string? InstanceId { get; init; }
    /// <summary>The autoscaler's node type of this node (<c>RAY_NODE_TYPE_NAME</c>); null for nodes it did not launch.</summary>
    public string? NodeTypeName { get; init; }
    /// <summary>The node accepted a drain (DrainNode): it takes no new work and is about to be removed.</summary>
    public bool Draining { get; init; }
}

/// <summary>A raylet's periodic report: what is free, and its totals (which change as bundles are committed and returned).</summary>
/// <paramref name="RemovalsSeen"/> is the last placement-group removal the raylet learned of (see <see cref="ClusterView"/>).
/// <paramref name="Demand"/> is the work queued here waiting for resources, by shape (the autoscaler's input);
/// <paramref name="IdleMs"/> how long the node has had no leases, bundles or primary objects (0: it is busy).
[MemoryPackable] internal sealed partial record ResourceReport(NodeId NodeId, Dictionary<string, double> Available, Dictionary<string, double>? Total = null,
    long RemovalsSeen = 0, ResourceDemand[]? Demand = null, long IdleMs = 0);

/// <summary>The cluster view a raylet gets back for each report; <paramref name="FinishedJobs"/> lists jobs that
/// finished recently, whose leases and workers the raylet frees.</summary>
/// <paramref name="RemovedPlacementGroups"/> lists the groups removed since the raylet's last report (up to
/// <paramref name="RemovalsSeq"/>, which it reports back): work queued for them fails.
/// <paramref name="FaultTolerant"/>: the GCS keeps its tables in external storage (clients wait for it while it restarts).
/// <paramref name="UnknownNode"/>: the reporting raylet is not in the GCS's node table (a GCS that restarted without it):
/// the raylet registers again.
[MemoryPackable] internal sealed partial record ClusterView(NodeRecord[] Nodes, JobId[]? FinishedJobs = null, PlacementGroupId[]? RemovedPlacementGroups = null,
    long RemovalsSeq = 0, bool FaultTolerant = false, bool UnknownNode = false);

[MemoryPackable] internal sealed partial record NodeIdRequest(NodeId NodeId, string? Reason);

internal enum ClusterEventKind : byte { NodeDead, WorkerDead }

/// <summary>A death every process hears of through its one subscription to the GCS (Ray's node and worker failure
/// pub/sub channels): a node (<see cref="WorkerId"/> nil) or a worker process.</summary>
[MemoryPackable] internal sealed partial record ClusterEvent(ClusterEventKind Kind, NodeId NodeId, WorkerId WorkerId, string Reason);

[MemoryPackable]
internal sealed partial record JobRecord
{
    public required JobId JobId { get; init; }
    public required string Namespace { get; init; }
    public required string CodeSearchPath { get; init; }
    public Address? Driver { get; init; }
    public int DriverProcessId { get; init; }
    public Dictionary<string, string>? EnvVars { get; init; }
    public bool IsDead { get; init; }
    public long StartTimeMs { get; init; }
    public long EndTimeMs { get; init; }
    /// <summary>The job's working directory as a package in the GCS (<c>gcs://_ray_pkg_&lt;hash&gt;.zip</c>): every node
    /// unpacks it and runs the job's workers there.</summary>
    public string? WorkingDirUri { get; init; }
    /// <summary>The submission that started this driver (<c>raysharp job submit</c>), if any.</summary>
    public string? SubmissionId { get; init; }
    /// <summary>The program the job's workers run (the driver's own, <see cref="Raylet.WorkerCommand"/>): relative to
    /// <see cref="CodeSearchPath"/>, or absolute; an assembly (<c>.dll</c>) runs under <c>dotnet exec</c>.</summary>
    public string? WorkerProgram { get; init; }
    /// <summary>Where this node unpacked <see cref="WorkingDirUri"/> (set by the raylet, never sent).</summary>
    [MemoryPackIgnore] public string? LocalWorkingDir { get; init; }
}

[MemoryPackable] internal sealed partial record JobIdRequest(JobId JobId);

[MemoryPackable] internal sealed partial record JobList(JobRecord[] Jobs);

[MemoryPackable] internal sealed partial record RegisterActorRequest(WireTaskSpec CreationTask, bool GetIfExists);

[MemoryPackable] internal sealed partial record RegisterActorReply(ActorId ActorId, string? Error);

[MemoryPackable] internal sealed partial record NamedActorRequest(string Name, string Namespace);

[MemoryPackable] internal sealed partial record ActorIdReply(bool Found, ActorId ActorId);

[MemoryPackable] internal sealed partial record ActorIdRequest(ActorId ActorId);

[MemoryPackable] internal sealed partial record KillActorRequest(ActorId ActorId, bool NoRestart, string Reason);

[MemoryPackable] internal sealed partial record ActorExitedRequest(ActorId ActorId, string Reason);

[MemoryPackable] internal sealed partial record WorkerFailureRequest(WorkerId WorkerId, NodeId NodeId, string Reason);

[MemoryPackable]
internal sealed partial record ActorInfo
{
    public required ActorId ActorId { get; init; }
    public required WireActorCreation Creation { get; init; }
    public required ActorLifecycleState State { get; init; }
    public Address? Worker { get; init; }
    public Address? Owner { get; init; }
    public JobId JobId { get; init; }
    public int NumRestarts { get; init; }
    public RayErrorInfo? DeathCause { get; init; }
    public NodeId NodeId { get; init; }
    /// <summary>The owner asked for the creation (the stored creation task has its arguments resolved).</summary>
    public bool CreateRequested { get; init; }
    /// <summary>The lease of the actor's worker at its raylet (a restarted GCS returns it when the actor dies).</summary>
    public long LeaseId { get; init; }
}

[MemoryPackable] internal sealed partial record ActorInfoReply(ActorInfo? Info);

[MemoryPackable] internal sealed partial record ActorList(ActorInfo[] Actors);

[MemoryPackable] internal sealed partial record KvRequest(string Namespace, string Key, byte[]? Value, bool Overwrite);

[MemoryPackable] internal sealed partial record KvReply(bool Found, byte[]? Value);

[MemoryPackable] internal sealed partial record KvKeysReply(string[] Keys);

[MemoryPackable] internal sealed partial record LogBatch(JobId JobId, string Prefix, string[] Lines, bool IsError);

// ---- Placement groups (gcs_service.proto: PlacementGroupInfoGcsService) ----

[MemoryPackable]
internal sealed partial record WirePlacementGroupSpec
{
    public required PlacementGroupId Id { get; init; }
    public required Dictionary<string, double>[] Bundles { get; init; }
    public required PlacementStrategy Strategy { get; init; }
    public string? Name { get; init; }
    public required string Namespace { get; init; }
    public required JobId JobId { get; init; }
    public PlacementGroupLifetime Lifetime { get; init; }
    public Address? Creator { get; init; }
    /// <summary>The actor that created the group, if one did (a non-detached group goes when it dies).</summary>
    public ActorId CreatorActor { get; init; }
}

[MemoryPackable] internal sealed partial record CreatePlacementGroupReply(string? Error);

[MemoryPackable] internal sealed partial record PlacementGroupIdRequest(PlacementGroupId Id);

[MemoryPackable] internal sealed partial record NamedPlacementGroupRequest(string Name, string Namespace);

/// <summary>Wait up to <see cref="TimeoutMs"/> for the group to be created.</summary>
[MemoryPackable] internal sealed partial record WaitPlacementGroupRequest(PlacementGroupId Id, long TimeoutMs);

/// <summary>Ready, or not yet, or never (<see cref="Error"/>: removed or unknown).</summary>
[MemoryPackable] internal sealed partial record WaitPlacementGroupReply(bool Ready, string? Error);

/// <summary>A placement group as the GCS tables hold it (Ray's <c>PlacementGroupTableData</c>).</summary>
[MemoryPackable]
internal sealed partial record PlacementGroupTableData
{
    public required WirePlacementGroupSpec Spec { get; init; }
    public required PlacementGroupState State { get; init; }
    /// <summary>The node of each bundle; nil while the bundle is not placed.</summary>
    public required NodeId[] BundleNodes { get; init; }
    public bool Infeasible { get; init; }
    public long CreateTimeMs { get; init; }
    public long RemoveTimeMs { get; init; }
}

/// <summary>A placement group's states (Ray's <c>PlacementGroupTableData.PlacementGroupState</c>).</summary>
internal enum PlacementGroupState : byte { Pending, Prepared, Created, Removed, Rescheduling }

[MemoryPackable] internal sealed partial record PlacementGroupReply(PlacementGroupTableData? Group);

[MemoryPackable] internal sealed partial record PlacementGroupList(PlacementGroupTableData[] Groups);

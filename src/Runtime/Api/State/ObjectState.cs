namespace RaySharp.State;

/// <summary>Why a process holds a reference (Ray's <c>reference_type</c> of <c>ray list objects</c>).</summary>
public enum ReferenceType
{
    /// <summary>Live <c>ObjectRef</c> instances in the process.</summary>
    LocalReference,

    /// <summary>A task that is not done takes it as an argument.</summary>
    UsedByPendingTask,

    /// <summary>Another object in scope holds a ref to it.</summary>
    CapturedInObject,

    /// <summary>The owner keeps it only because other processes borrow it.</summary>
    BorrowedByOthers,

    /// <summary>The object that stands for an actor's handles.</summary>
    ActorHandle,
}

/// <summary>
/// One object reference one process holds, from that process's reference table (Ray's <c>ObjectState</c>): an object
/// appears once per process that references it, with its owner saying how large it is and where its value is.
/// </summary>
public sealed record ObjectState
{
    /// <summary>The object (lowercase hex).</summary>
    public required string ObjectId { get; init; }

    /// <summary>Bytes of its value, when this process knows (the owner does once it exists); null otherwise.</summary>
    public long? ObjectSize { get; init; }

    /// <summary>The state of the task that creates it, as its owner knows it (null for a put, or in a borrower).</summary>
    public RayTaskStatus? TaskStatus { get; init; }
    /// <summary>Why this process holds the reference.</summary>
    public ReferenceType ReferenceType { get; init; }

    /// <summary>Where the ref was created; RaySharp does not record call sites, so this is null.</summary>
    public string? CallSite { get; init; }

    /// <summary><c>DRIVER</c> or <c>WORKER</c>: the kind of process holding the reference.</summary>
    public required string Type { get; init; }
    /// <summary>The process holding the reference.</summary>
    public int Pid { get; init; }

    /// <summary>The address of the node the process runs on.</summary>
    public string? Ip { get; init; }
    /// <summary>The node (lowercase hex).</summary>
    public required string NodeId { get; init; }
    /// <summary>The worker (or driver) holding the reference.</summary>
    public required string WorkerId { get; init; }

    /// <summary>This process owns the object (else it borrows it from <see cref="OwnerWorkerId"/>).</summary>
    public bool IsOwner { get; init; }
    /// <summary>The process that owns the object.</summary>
    public string? OwnerWorkerId { get; init; }
    /// <summary>Live ObjectRef instances in this process.</summary>
    public int LocalRefCount { get; init; }
    /// <summary>Tasks not yet done that take the object as an argument.</summary>
    public int SubmittedTaskRefCount { get; init; }
    /// <summary>Objects in scope here whose value holds a ref to it.</summary>
    public int ContainedInCount { get; init; }
    /// <summary>Other processes the owner knows borrow it.</summary>
    public int BorrowerCount { get; init; }

    /// <summary>The value is in a node's shared-memory object store (large objects), not inline at the owner.</summary>
    public bool InObjectStore { get; init; }

    /// <summary>The node holding the primary copy in its store (null when inline or not known here).</summary>
    public string? StoreNodeId { get; init; }

    /// <summary>The primary copy was spilled to disk.</summary>
    public bool Spilled { get; init; }
}

using RaySharp.Core;

namespace RaySharp;

/// <summary>
/// A handle to an actor: calls made through it go to that actor, in submission order per caller for sync
/// actors. Handles can be passed to tasks and other actors. A non-detached actor dies once every handle to it
/// is gone (disposed or collected) and its pending calls are done.
/// </summary>
public abstract class ActorHandle : IEquatable<ActorHandle>, IDisposable
{
    private int _released;

    private protected ActorHandle(ActorId id, string? name, CoreWorker worker, Address? owner)
    {
        Id = id;
        Name = name;
        Worker = worker;
        Owner = owner ?? worker.Address;
        worker.ActorManager.AddHandleReference(id, Owner);
    }

    /// <summary>The worker that created the actor and counts its handles.</summary>
    internal Address Owner { get; }

    /// <summary>The actor's ID.</summary>
    public ActorId Id { get; }

    /// <summary>The actor's name, if it was created with one.</summary>
    public string? Name { get; }

    internal CoreWorker Worker { get; }

    /// <summary>Releases this handle now instead of at garbage collection.</summary>
    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the handle when it was never disposed.</summary>
    ~ActorHandle()
    {
        // Only enqueue: the last handle going away tells the GCS over RPC, which must not run on the finalizer thread.
        if (Interlocked.Exchange(ref _released, 1) == 0)
            Worker.ReferenceCounter.RemoveLocalReferenceDeferred(ActorManager.HandleObjectId(Id));
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
            Worker.ActorManager.RemoveHandleReference(Id);
    }

    /// <inheritdoc/>
    public bool Equals(ActorHandle? other) => other is not null && other.Id == Id;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ActorHandle other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Id.GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => Name is null ? $"ActorHandle({Id})" : $"ActorHandle({Name}, {Id})";
}

/// <summary>A typed actor handle; the generator adds one extension method per public method of
/// <typeparamref name="T"/>.</summary>
public sealed class ActorHandle<T> : ActorHandle
{
    internal ActorHandle(ActorId id, string? name, CoreWorker worker, Address? owner = null) : base(id, name, worker, owner) { }
}

using System.Runtime.CompilerServices;
using RaySharp.Core;

namespace RaySharp;

/// <summary>
/// A reference to an immutable object in the cluster: the result of a task, or a value passed to
/// <see cref="Ray.Put{T}(T)"/>. The object lives while any reference to it exists anywhere; this instance is one
/// such reference. <see cref="Dispose"/> releases it at once, otherwise the finalizer releases it after garbage
/// collection. Awaiting a non-generic ref waits for the object and throws if its task failed.
/// </summary>
public abstract class ObjectRef : IEquatable<ObjectRef>, IDisposable
{
    private int _released;

    private protected ObjectRef(ObjectId id, Address owner, CoreWorker worker, bool addLocalReference)
    {
        Id = id;
        Owner = owner;
        Worker = worker;
        if (addLocalReference) worker.ReferenceCounter.AddLocalReference(id, owner);
    }

    /// <summary>The object's ID.</summary>
    public ObjectId Id { get; }

    /// <summary>The worker that owns the object and counts its references.</summary>
    internal Address Owner { get; }

    /// <summary>The worker in this process that counts this reference.</summary>
    internal CoreWorker Worker { get; }

    internal bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Waits for the object without reading its value; throws the task's error if it failed.</summary>
    public ValueTaskAwaiter GetAwaiter() => WaitReadyAsync(CancellationToken.None).GetAwaiter();

    private async ValueTask WaitReadyAsync(CancellationToken ct)
    {
        var obj = await Worker.GetObjectAsync(this, null, ct).ConfigureAwait(false);
        obj.ThrowIfError();
    }

    /// <summary>Releases this reference now instead of at garbage collection.</summary>
    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the reference when the ref was never disposed.</summary>
    ~ObjectRef()
    {
        // Only enqueue: freeing the object (and telling its owner over RPC) must not run on the finalizer thread.
        if (Interlocked.Exchange(ref _released, 1) == 0)
            Worker.ReferenceCounter.RemoveLocalReferenceDeferred(Id);
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
            Worker.ReferenceCounter.RemoveLocalReference(Id);
    }

    internal void ThrowIfReleased()
    {
        if (IsReleased)
            throw new ObjectDisposedException(GetType().Name,
                $"ObjectRef {Id} was disposed; its reference no longer keeps the object alive. Keep the ref until you are done reading it.");
    }

    /// <inheritdoc/>
    public bool Equals(ObjectRef? other) => other is not null && other.Id == Id;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ObjectRef other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Id.GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => $"ObjectRef({Id})";
}

/// <summary>A typed <see cref="ObjectRef"/>: <c>await</c> it, or <see cref="Get"/> it, to read the value.</summary>
public sealed class ObjectRef<T> : ObjectRef
{
    internal ObjectRef(ObjectId id, Address owner, CoreWorker worker, bool addLocalReference = true)
        : base(id, owner, worker, addLocalReference) { }

    /// <summary>Blocks until the value is available and returns it.</summary>
    /// <exception cref="GetTimeoutException">The value was not available within <paramref name="timeout"/>.</exception>
    /// <exception cref="RayTaskException">The task that computes the value threw.</exception>
    public T Get(TimeSpan? timeout = null)
    {
        var obj = Worker.GetObject(this, timeout);
        var value = Worker.ReadValue<T>(Id, obj, timeout);
        GC.KeepAlive(this);
        return value;
    }

    /// <summary>Waits for the value without blocking a thread.</summary>
    public new ValueTaskAwaiter<T> GetAwaiter() => GetValueAsync(null, CancellationToken.None).GetAwaiter();

    /// <summary>The value as a <see cref="Task{T}"/>.</summary>
    public Task<T> AsTask(CancellationToken ct = default) => GetValueAsync(null, ct).AsTask();

    internal async ValueTask<T> GetValueAsync(TimeSpan? timeout, CancellationToken ct)
    {
        var obj = await Worker.GetObjectAsync(this, timeout, ct).ConfigureAwait(false);
        var value = await Worker.ReadValueAsync<T>(Id, obj, ct).ConfigureAwait(false);
        GC.KeepAlive(this);
        return value;
    }

    /// <inheritdoc/>
    public override string ToString() => $"ObjectRef<{typeof(T).Name}>({Id})";
}

/// <summary>The ref of a task or method that returns nothing (<c>void</c> or <c>Task</c>).</summary>
internal sealed class UntypedObjectRef : ObjectRef
{
    internal UntypedObjectRef(ObjectId id, Address owner, CoreWorker worker, bool addLocalReference = true)
        : base(id, owner, worker, addLocalReference) { }
}

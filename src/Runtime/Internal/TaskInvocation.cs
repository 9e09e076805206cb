using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>
/// The executing side of one task, as generated invokers see it: deserialized arguments in declaration order
/// (the <see cref="System.Threading.CancellationToken"/> parameter is not an argument), the actor instance,
/// and sinks for results. Implemented by the runtime.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class TaskInvocation
{
    /// <summary>Argument <paramref name="index"/> (0-based, CancellationToken parameters excluded), deserialized with MemoryPack.</summary>
    public abstract T Arg<T>(int index);

    /// <summary>
    /// Argument <paramref name="index"/> of an <see cref="ObjectView{T}"/> parameter: a view of the argument's serialized
    /// <c>T[]</c> where it lies, not a copy. The invoker disposes it once the method has returned (for async methods,
    /// once the returned task has completed).
    /// </summary>
    public ObjectView<T> ArgView<T>(int index) where T : unmanaged
    {
        var bytes = SerializedArg(index, out var pin);
        return ObjectView<T>.Create(bytes, pin);
    }

    /// <summary>
    /// The MemoryPack bytes of argument <paramref name="index"/> as they arrived, without deserializing or copying them,
    /// and what keeps those bytes valid until disposed (null when they are ordinary managed memory).
    /// </summary>
    private protected abstract ReadOnlyMemory<byte> SerializedArg(int index, out IDisposable? pin);

    /// <summary>Signalled when the task is cancelled with <c>Ray.Cancel</c>.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>The actor instance an actor method runs on.</summary>
    public abstract TActor Actor<TActor>() where TActor : class;

    /// <summary>Called by an actor creation invoker with the constructed instance.</summary>
    public abstract void SetActor(object instance);

    /// <summary>The single return value.</summary>
    public abstract void Return<T>(T value);

    /// <summary>Return value <paramref name="index"/> (0-based) of a <see cref="ReturnKind.Multiple"/> function.</summary>
    public abstract void Return<T>(int index, T value);

    /// <summary>One item of a streaming generator; completes when the item has been stored.</summary>
    public abstract ValueTask Yield<T>(T item);
}

using RaySharp.Core;

namespace RaySharp;

/// <summary>
/// The refs yielded by a streaming generator (a remote method returning <see cref="IAsyncEnumerable{T}"/>),
/// in order, each available as soon as the generator yields it. If the generator throws, the enumeration
/// yields one last ref whose value raises the error. Can be enumerated once.
/// </summary>
public sealed class ObjectRefStream<T> : IAsyncEnumerable<ObjectRef<T>>
{
    private readonly GeneratorStream _stream;
    private int _enumerated;

    internal ObjectRefStream(GeneratorStream stream) => _stream = stream;

    /// <summary>The task running the generator (for <see cref="Ray.Cancel"/> via the first ref).</summary>
    public TaskId TaskId => _stream.TaskId;

    /// <summary>Blocks until the next ref is available; false at the end of the stream.</summary>
    public bool TryNext(out ObjectRef<T>? next, TimeSpan? timeout = null)
    {
        next = _stream.NextAsync<T>(timeout, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return next is not null;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerator<ObjectRef<T>> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _enumerated, 1) != 0)
            throw new InvalidOperationException("An ObjectRefStream can be enumerated only once.");
        while (true)
        {
            var next = await _stream.NextAsync<T>(null, cancellationToken).ConfigureAwait(false);
            if (next is null) yield break;
            yield return next;
        }
    }
}

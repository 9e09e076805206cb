using System.Threading.Channels;

namespace RaySharp.Core;

/// <summary>
/// The owner's view of a streaming generator task: item objects in the order the generator yielded them. Each
/// item is owned by this worker and carries one local reference until a consumer takes it as an ObjectRef.
/// </summary>
internal sealed class GeneratorStream
{
    private readonly Channel<ObjectId> _items = Channel.CreateUnbounded<ObjectId>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CoreWorker _worker;

    public GeneratorStream(TaskId taskId, CoreWorker worker)
    {
        TaskId = taskId;
        _worker = worker;
    }

    public TaskId TaskId { get; }

    public void Add(ObjectId item) => _items.Writer.TryWrite(item);

    public void Complete() => _items.Writer.TryComplete();

    public async ValueTask<ObjectRef<T>?> NextAsync<T>(TimeSpan? timeout, CancellationToken ct)
    {
        using var cts = timeout is { } t ? CancellationTokenSource.CreateLinkedTokenSource(ct) : null;
        if (timeout is { } to) cts!.CancelAfter(to);
        try
        {
            if (!await _items.Reader.WaitToReadAsync(cts?.Token ?? ct).ConfigureAwait(false)) return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new GetTimeoutException($"No item of stream {TaskId} arrived within {timeout}.");
        }
        return _items.Reader.TryRead(out var id)
            ? new ObjectRef<T>(id, _worker.Address, _worker, addLocalReference: false)
            : null;
    }
}

using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>
/// Moves objects between the stores of the cluster's nodes (Ray's <c>ObjectManager</c> with its pull manager). A pull
/// asks the raylet of the node that holds a copy to stream it in chunks (<see cref="RayConfig.ObjectManagerChunkSize"/>)
/// and writes them straight into a secondary copy here: room is reserved in the local store before the first byte
/// arrives, so pulls queue with every other create and never overcommit the store. One pull per object at a time;
/// readers that ask meanwhile wait for it.
/// </summary>
internal sealed partial class ObjectManager
{
    private readonly PlasmaStore _store;
    private readonly NodeId _nodeId;
    private readonly Func<NodeId, string?> _endpointOf;
    private readonly RayConfig _config;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ObjectId, Task> _pulls = new();

    /// <param name="store">This node's store.</param>
    /// <param name="nodeId">This node.</param>
    /// <param name="endpointOf">The raylet endpoint of an alive node (null when the node is unknown or dead).</param>
    /// <param name="config">Chunk size and channel settings.</param>
    /// <param name="logger">The object manager's log.</param>
    public ObjectManager(PlasmaStore store, NodeId nodeId, Func<NodeId, string?> endpointOf, RayConfig config, ILogger<ObjectManager> logger)
    {
        _store = store;
        _nodeId = nodeId;
        _endpointOf = endpointOf;
        _config = config;
        _logger = logger;
    }

    public PlasmaStore Store => _store;

    /// <summary>A sealed local copy for <paramref name="client"/> to read (one more reader until it releases it),
    /// pulled from <paramref name="from"/> first when this node has none. Null when there is no copy here and none
    /// could be pulled (the source node is gone or no longer has it).</summary>
    public async Task<PlasmaObjectLocation?> GetAsync(ObjectId id, string client, NodeId from, CancellationToken ct)
    {
        while (true)
        {
            if (await _store.GetAsync(id, client, ct).ConfigureAwait(false) is { } local) return local;
            if (from.IsNil || from == _nodeId) return null;
            var pull = _pulls.GetOrAdd(id, _ => PullAsync(id, from));
            try
            {
                await pull.WaitAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                if (pull.IsCompleted) _pulls.TryRemove(new KeyValuePair<ObjectId, Task>(id, pull));
            }
            if (!pull.IsCompletedSuccessfully) return null;
            // Pulled: read it (it may have been evicted again under pressure: then pull again).
            if (await _store.GetAsync(id, client, ct).ConfigureAwait(false) is { } pulled) return pulled;
        }
    }

    /// <summary>Starts pulling the arguments of a task leased here that this node lacks (a task's worker reading one joins
    /// its pull). Failures are left to the reader, which reports them.</summary>
    public void Prefetch(IReadOnlyList<WireStoreArg> args)
    {
        foreach (var arg in args)
        {
            if (arg.Node.IsNil || arg.Node == _nodeId || _store.Contains(arg.ObjectId)) continue;
            var pull = _pulls.GetOrAdd(arg.ObjectId, id => PullAsync(id, arg.Node));
            _ = pull.ContinueWith(t =>
            {
                _pulls.TryRemove(new KeyValuePair<ObjectId, Task>(arg.ObjectId, t));
                if (t.IsFaulted) LogPrefetchFailed(_logger, t.Exception!.GetBaseException(), arg.ObjectId, arg.Node);
            }, TaskScheduler.Default);
            LogPrefetching(_logger, arg.ObjectId, arg.Node);
        }
    }

    /// <summary>Copies the object from the raylet of <paramref name="from"/> into a secondary copy here.</summary>
    private async Task PullAsync(ObjectId id, NodeId from)
    {
        await Task.Yield();
        string endpoint = _endpointOf(from) ?? throw new ObjectLostException(
            $"Object {id} lives on node {from}, which is dead or not in the cluster.");
        using var call = RpcChannels.Invoker(endpoint, _config).AsyncServerStreamingCall(NodeManagerService.ReadObjectMethod, null,
            new CallOptions(), new ReadObjectRequest(id, _nodeId));
        Microsoft.Win32.SafeHandles.SafeFileHandle? file = null;
        bool created = false;
        long received = 0, total = -1;
        Address? owner = null;
        try
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false))
            {
                var chunk = call.ResponseStream.Current;
                if (total < 0)
                {
                    total = chunk.Total;
                    if (total <= 0 || total > StoreMapping.MaxObjectSize)
                        throw new InvalidDataException($"Node {from} announced object {id} with {total} bytes.");
                    owner = chunk.Owner;
                    var (status, location) = await _store.CreateAsync(id, total, primary: false, owner, client: PullClient, CancellationToken.None)
                        .ConfigureAwait(false);
                    if (status == PlasmaCreateStatus.AlreadyExists) return; // another path made a copy meanwhile
                    created = true;
                    file = File.OpenHandle(location.Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                }
                if (chunk.Offset != received || chunk.Data.Length == 0 || received + chunk.Data.Length > total)
                    throw new InvalidDataException($"Node {from} sent a chunk of object {id} at {chunk.Offset} ({chunk.Data.Length} bytes) " +
                        $"after {received} of {total} bytes.");
                // A file write: the kernel copies into the store's pages, with no page faults here.
                await RandomAccess.WriteAsync(file!, chunk.Data, received).ConfigureAwait(false);
                received += chunk.Data.Length;
            }
            if (total < 0 || received != total)
                throw new InvalidDataException($"Node {from} ended the transfer of object {id} after {received} of {Math.Max(total, 0)} bytes.");
            file!.Dispose();
            _store.Seal(id);
            LogPulled(_logger, id, total, from);
            if (owner is not null) _ = TellOwnerAsync(id, owner);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            if (created) _store.Abort(id);
            throw new ObjectLostException($"Object {id} is no longer on node {from}: {e.Status.Detail}");
        }
        catch (Exception e)
        {
            if (created) _store.Abort(id);
            LogPullFailed(_logger, e, id, from);
            throw;
        }
        finally
        {
            file?.Dispose();
        }
    }

    /// <summary>Adds this node to the owner's object directory, so the owner's free reaches this copy; a copy the owner
    /// no longer wants (freed while it was pulled) is freed here at once.</summary>
    private async Task TellOwnerAsync(ObjectId id, Address owner)
    {
        try
        {
            var reply = await RpcChannels.Invoker(RpcChannels.EndpointFor(owner, _nodeId), _config).AsyncUnaryCall(
                Rpc.CoreWorkerService.AddObjectLocationMethod, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)),
                new ObjectLocationRequest(id, _nodeId)).ResponseAsync.ConfigureAwait(false);
            if (!reply.Value) _store.Free(id);
        }
        catch (RpcException e)
        {
            // The owner is gone: its objects are unreachable, and this copy with them.
            LogOwnerUnreachable(_logger, id, owner.WorkerId, e.StatusCode);
            _store.Free(id);
        }
    }

    /// <summary>Streams a local copy to the raylet that pulls it (reads the file; the object is counted as read meanwhile,
    /// so it is neither evicted nor spilled under the transfer).</summary>
    public async Task ServeAsync(ObjectId id, NodeId requester, IAsyncStreamWriter<ObjectChunk> output, CancellationToken ct)
    {
        string client = "transfer:" + requester + ":" + Guid.NewGuid().ToString("N")[..8];
        var location = await _store.GetAsync(id, client, ct).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"node {_nodeId} holds no copy of object {id}"));
        try
        {
            await using var input = new FileStream(location.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
            long offset = 0;
            int chunkSize = _config.ObjectManagerChunkSize;
            while (offset < location.Size)
            {
                var data = new byte[(int)Math.Min(chunkSize, location.Size - offset)];
                int read = 0;
                while (read < data.Length)
                {
                    int n = await input.ReadAsync(data.AsMemory(read), ct).ConfigureAwait(false);
                    if (n == 0) throw new IOException($"Object {id} ends after {offset + read} of {location.Size} bytes.");
                    read += n;
                }
                await output.WriteAsync(new ObjectChunk(location.Size, offset, data, offset == 0 ? _store.OwnerOf(id) : null), ct).ConfigureAwait(false);
                offset += data.Length;
            }
        }
        finally
        {
            _store.Release(id, client);
        }
    }

    private const string PullClient = "pull";

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pulled object {ObjectId} ({Bytes} bytes) from node {NodeId}")]
    private static partial void LogPulled(ILogger logger, ObjectId objectId, long bytes, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Prefetching object {ObjectId} from node {NodeId} for a task leased here")]
    private static partial void LogPrefetching(ILogger logger, ObjectId objectId, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Prefetching object {ObjectId} from node {NodeId} failed; its reader will try again")]
    private static partial void LogPrefetchFailed(ILogger logger, Exception e, ObjectId objectId, NodeId nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "The owner {Owner} of pulled object {ObjectId} is unreachable ({Status}); the copy is freed")]
    private static partial void LogOwnerUnreachable(ILogger logger, ObjectId objectId, WorkerId owner, StatusCode status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pulling object {ObjectId} from node {NodeId} failed")]
    private static partial void LogPullFailed(ILogger logger, Exception e, ObjectId objectId, NodeId nodeId);
}

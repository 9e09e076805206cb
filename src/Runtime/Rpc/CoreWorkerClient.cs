using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaySharp.Core.Rpc;

/// <summary>
/// The connection to one remote worker (Ray's <c>CoreWorkerClient</c>): pushes ride one long-lived bidirectional
/// stream, written in batches; replies are matched by call ID. When the stream breaks, every call in flight
/// fails as WorkerDied (retried per MaxRetries), and the next push opens a new connection.
/// </summary>
internal sealed partial class CoreWorkerConnection
{
    private static readonly ConcurrentDictionary<WorkerId, CoreWorkerConnection> s_connections = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<PushTaskResponse>> _inflight = new();
    private readonly Lock _lock = new();
    private readonly CallInvoker _invoker;
    private readonly RayConfig _config;
    private readonly ILogger _logger;
    private Channel<PushTaskRequest>? _outbox;
    private volatile string? _broken;
    private long _nextCallId;

    private CoreWorkerConnection(Address address, NodeId localNode, RayConfig config, ILogger logger)
    {
        Address = address;
        _config = config;
        _logger = logger;
        _invoker = RpcChannels.Invoker(RpcChannels.EndpointFor(address, localNode), config);
    }

    public Address Address { get; }

    /// <summary>The worker as messages name it: which process, where, on which node.</summary>
    private string Who => $"the worker process {Address.WorkerId} at {Address.Endpoint} on node {Address.NodeId}";

    /// <summary>The process's connection to the worker at <paramref name="address"/>, opened with the caller's
    /// configuration (batch size, keepalive) and logger if there is none yet.</summary>
    public static CoreWorkerConnection For(Address address, NodeId localNode, RayConfig config, ILogger? logger = null)
    {
        while (true)
        {
            var c = s_connections.GetOrAdd(address.WorkerId,
                static (_, s) => new CoreWorkerConnection(s.address, s.localNode, s.config, s.logger ?? NullLogger.Instance),
                (address, localNode, config, logger));
            if (c._broken is null) return c;
            s_connections.TryRemove(new KeyValuePair<WorkerId, CoreWorkerConnection>(address.WorkerId, c));
        }
    }

    public CallInvoker Invoker => _invoker;

    /// <summary>False once the connection broke (the worker died or became unreachable).</summary>
    public bool IsBroken => _broken is not null;

    /// <summary>The GCS says the node died: connections to its workers break now, failing the calls in flight (a node cut
    /// off by the network leaves them hanging otherwise).</summary>
    public static void BreakNode(NodeId node, string reason)
    {
        foreach (var c in s_connections.Values)
            if (c.Address.NodeId == node) c.BreakForGood($"its node {node} died ({reason})");
    }

    /// <summary>The GCS says the worker died: the connection to it breaks now.</summary>
    public static void BreakWorker(WorkerId worker, string reason)
    {
        if (s_connections.TryGetValue(worker, out var c)) c.BreakForGood($"the worker process {worker} died ({reason})");
    }

    /// <summary>Breaks the connection of a process that is gone and drops its channels: a channel keeps trying to
    /// reconnect to its endpoint (every second at most) until it is disposed.</summary>
    private void BreakForGood(string reason)
    {
        Break(reason);
        RpcChannels.Forget(Address.Endpoint);
        if (Address.Socket is { } socket) RpcChannels.Forget("unix:" + socket);
    }

    public Task<PushTaskResponse> PushAsync(WireTaskSpec task, long leaseId, Dictionary<string, double> leaseResources)
    {
        // Replies complete in stream order with their continuations inline: a caller that sees a later reply has
        // already stored the earlier ones (calls of one caller finish in submission order, as they ran).
        var done = new TaskCompletionSource<PushTaskResponse>();
        long id = Interlocked.Increment(ref _nextCallId);
        _inflight[id] = done;
        LogPush(_logger, id, task.TaskId, Address.WorkerId);
        Channel<PushTaskRequest> outbox;
        try
        {
            outbox = EnsureStream();
        }
        catch (Exception e)
        {
            // The stream could not even be opened (refused, the server stopped): the call fails as the worker's death,
            // saying why, rather than throwing the transport's exception at the submitter.
            Break($"opening the task stream to {Who} failed: {RpcErrors.Describe(e, Address.Endpoint)}");
            return done.Task;
        }
        if (_broken is { } reason || !outbox.Writer.TryWrite(new PushTaskRequest(id, task, leaseId, leaseResources)))
        {
            if (_inflight.TryRemove(id, out _)) done.TrySetResult(Died(id, _broken ?? $"the connection to {Who} closed"));
        }
        return done.Task;
    }

    private Channel<PushTaskRequest> EnsureStream()
    {
        if (_outbox is { } existing) return existing;
        lock (_lock)
        {
            if (_outbox is not null) return _outbox;
            var outbox = Channel.CreateUnbounded<PushTaskRequest>(new UnboundedChannelOptions { SingleReader = true });
            LogOpenStream(_logger, Address.WorkerId, Address.Endpoint);
            var call = _invoker.AsyncDuplexStreamingCall(CoreWorkerService.PushTasksMethod, null, new CallOptions());
            _ = BatchWriter.RunAsync(outbox.Reader, items => call.RequestStream.WriteAsync(new PushBatch(items)), _config.RpcMaxBatchSize, CancellationToken.None)
                .ContinueWith(_ => Break($"the task stream to {Who} closed"), TaskScheduler.Default);
            _ = ReadRepliesAsync(call);
            _outbox = outbox;
            return outbox;
        }
    }

    private async Task ReadRepliesAsync(AsyncDuplexStreamingCall<PushBatch, ReplyBatch> call)
    {
        string reason = $"{Who} closed the connection";
        try
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false))
                foreach (var reply in call.ResponseStream.Current.Items)
                    if (_inflight.TryRemove(reply.CallId, out var done)) done.TrySetResult(reply);
        }
        catch (RpcException e)
        {
            reason = $"{Who} died or became {RpcErrors.Describe(e, Address.Endpoint)}";
        }
        catch (Exception e)
        {
            // Whatever broke the stream, the calls in flight must learn it (Break below) rather than wait forever.
            reason = $"the connection to {Who} failed: {RpcErrors.Describe(e, Address.Endpoint)}";
        }
        Break(reason);
        call.Dispose();
    }

    private void Break(string reason)
    {
        if (_broken is null) LogBroken(_logger, Address.WorkerId, reason, _inflight.Count);
        _broken ??= reason;
        _outbox?.Writer.TryComplete();
        s_connections.TryRemove(new KeyValuePair<WorkerId, CoreWorkerConnection>(Address.WorkerId, this));
        foreach (var id in _inflight.Keys)
            if (_inflight.TryRemove(id, out var done)) done.TrySetResult(Died(id, _broken));
    }

    private static PushTaskResponse Died(long id, string reason) =>
        new(id, [], new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = $"The worker running the task died: {reason}." }, false, null);

    /// <summary>A unary call to the worker; null when it is unreachable.</summary>
    public Task<TResponse?> CallAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request,
        CancellationToken ct = default) where TRequest : class where TResponse : class =>
        RpcChannels.TryCallAsync(_invoker, method, request, ct);

    public void Fire<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request) where TRequest : class where TResponse : class =>
        RpcChannels.Fire(_invoker, method, request, _logger);

    // Every push logs through source-generated methods: nothing is formatted unless the level is on.

    [LoggerMessage(Level = LogLevel.Trace, Message = "Push {CallId} of task {TaskId} to worker {WorkerId}")]
    private static partial void LogPush(ILogger logger, long callId, TaskId taskId, WorkerId workerId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Opening the task stream to worker {WorkerId} at {Endpoint}")]
    private static partial void LogOpenStream(ILogger logger, WorkerId workerId, string endpoint);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The connection to worker {WorkerId} broke ({Reason}); failing {InFlight} calls in flight")]
    private static partial void LogBroken(ILogger logger, WorkerId workerId, string reason, int inFlight);
}

/// <summary>
/// A remote worker as a task submitter sees it: pushes carry the lease they run under; replies are turned back
/// into the submitter's types. Refs nested in returns are adopted before the worker's pins are released.
/// </summary>
internal sealed class RemoteCoreWorkerClient : ICoreWorkerClient
{
    private readonly CoreWorkerConnection _connection;
    private readonly JobId _jobId;
    private readonly long _leaseId;
    private readonly Dictionary<string, double> _leaseResources;

    public RemoteCoreWorkerClient(Address address, NodeId localNode, JobId jobId, long leaseId, ResourceSet leaseResources, RayConfig config,
        ILogger? logger = null)
    {
        _connection = CoreWorkerConnection.For(address, localNode, config, logger);
        _jobId = jobId;
        _leaseId = leaseId;
        _leaseResources = leaseResources.ToWire();
        Address = address;
    }

    public Address Address { get; }

    public async Task<PushTaskReply> PushTaskAsync(TaskSpec task, CancellationToken ct)
    {
        var reply = await _connection.PushAsync(task.ToWire(_jobId), _leaseId, _leaseResources).ConfigureAwait(false);
        if (reply.NotStarted) return PushTaskReply.GivenBack;
        return new PushTaskReply(Array.ConvertAll(reply.Returns, r => r.FromWire()), reply.Error, reply.IsApplicationError)
        {
            RemoteNested = reply.NestedPins is { } pins ? Array.ConvertAll(pins, p => new NestedRef(p.Id, p.Owner)) : null,
            Executor = reply.NestedPins is null ? null : this,
        };
    }

    public bool CancelTask(TaskId taskId, bool force, bool recursive = false)
    {
        _connection.Fire(CoreWorkerService.CancelTaskMethod, new CancelTaskRequest(taskId, force, recursive));
        return true;
    }

    public async Task CancelTaskAsync(TaskId taskId, bool force, bool recursive = false)
    {
        try
        {
            await _connection.CallAsync(CoreWorkerService.CancelTaskMethod, new CancelTaskRequest(taskId, force, recursive)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
            // The worker is gone or refused: there is nothing left there to stop.
        }
    }

    public void ReleasePins(ObjectId[] ids) => _connection.Fire(CoreWorkerService.ReleasePinsMethod, new ReleasePinsRequest(ids));

    public bool IsAlive => !_connection.IsBroken;
}

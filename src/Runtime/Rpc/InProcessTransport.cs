using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;

namespace RaySharp.Core.Rpc;

/// <summary>
/// The in-process transport of local mode: services registered under an <c>inproc:</c> endpoint are called through
/// the same <see cref="CallInvoker"/> API as over gRPC, so every client and service is the one the cluster runs.
/// Messages still pass through their MemoryPack marshallers (a copy per message, as on the wire): nothing shares
/// mutable state across the seam, and local mode exercises the wire format too.
/// </summary>
internal static class InProcessTransport
{
    public const string Scheme = "inproc:";

    private static readonly ConcurrentDictionary<string, InProcessServer> s_servers = new();
    private static long s_next;

    public static bool IsInProcess(string endpoint) => endpoint.StartsWith(Scheme, StringComparison.Ordinal);

    /// <summary>Serves <paramref name="services"/> at a new <c>inproc:</c> endpoint named after <paramref name="name"/>.</summary>
    /// <param name="name">Names the endpoint.</param>
    /// <param name="services">The services to serve.</param>
    /// <param name="token">The cluster token every call must carry, checked as an <see cref="RpcServer"/> checks it.</param>
    public static InProcessServer Start(string name, IReadOnlyList<IRpcService> services, ClusterToken token)
    {
        string endpoint = $"{Scheme}{name}-{Interlocked.Increment(ref s_next)}";
        var server = new InProcessServer(endpoint, services, new ClusterAuthenticator(token));
        s_servers[endpoint] = server;
        return server;
    }

    internal static void Remove(InProcessServer server) => s_servers.TryRemove(new KeyValuePair<string, InProcessServer>(server.Endpoint, server));

    /// <summary>Calls the server at <paramref name="endpoint"/>, each call carrying <paramref name="token"/> in its
    /// metadata as a gRPC client's would.</summary>
    public static CallInvoker Invoker(string endpoint, ClusterToken? token) => new InProcessCallInvoker(endpoint, token);

    internal static InProcessServer Server(string endpoint, string method) =>
        s_servers.TryGetValue(endpoint, out var server) && !server.IsStopped
            ? server
            : throw new RpcException(new Status(StatusCode.Unavailable, $"No in-process server at {endpoint} (calling {method}): it stopped."));

    /// <summary>The message as the receiver would read it off the wire (every RaySharp message is MemoryPack, as
    /// <see cref="RpcMarshaller"/> writes it), checked as a server checks it.</summary>
    internal static T Copy<T>(Marshaller<T> marshaller, T value)
    {
        var buffer = RpcMarshaller.Serialize(value);
        try
        {
            return RpcMarshaller.Decode<T>(new System.Buffers.ReadOnlySequence<byte>(buffer.Memory));
        }
        finally
        {
            RpcMarshaller.Release(buffer);
        }
    }
}

/// <summary>The services of one in-process endpoint; disposing it fails every open call as the peer going away.</summary>
internal sealed class InProcessServer : IRpcHost
{
    private readonly Dictionary<string, Delegate> _handlers = [];
    private readonly CancellationTokenSource _stopping = new();

    internal InProcessServer(string endpoint, IReadOnlyList<IRpcService> services, ClusterAuthenticator authenticator)
    {
        Endpoint = endpoint;
        Authenticator = authenticator;
        var binder = new Binder(_handlers);
        foreach (var s in services) s.Bind(binder);
    }

    public string Endpoint { get; }

    public string? Socket => null;

    /// <summary>Checks the cluster token of every call; counts the refused ones.</summary>
    public ClusterAuthenticator Authenticator { get; }

    public bool IsStopped => _stopping.IsCancellationRequested;

    /// <summary>Cancelled when the server stops: open calls end as Unavailable.</summary>
    internal CancellationToken Stopping => _stopping.Token;

    internal TDelegate Handler<TDelegate>(string method) where TDelegate : Delegate =>
        _handlers.TryGetValue(method, out var h) && h is TDelegate typed
            ? typed
            : throw new RpcException(new Status(StatusCode.Unimplemented, $"{Endpoint} does not serve {method}."));

    public ValueTask DisposeAsync()
    {
        InProcessTransport.Remove(this);
        try { _stopping.Cancel(); } catch (ObjectDisposedException) { }
        return ValueTask.CompletedTask;
    }

    private sealed class Binder(Dictionary<string, Delegate> handlers) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (handler is not null) handlers[method.FullName] = handler;
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (handler is not null) handlers[method.FullName] = handler;
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (handler is not null) handlers[method.FullName] = handler;
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (handler is not null) handlers[method.FullName] = handler;
        }
    }
}

/// <summary>Calls an in-process server's handlers on the thread pool, as a gRPC server would dispatch them.</summary>
internal sealed class InProcessCallInvoker(string endpoint, ClusterToken? token) : CallInvoker
{
    /// <summary>The server of a call, once the call's token passed its check (the same check as over gRPC).</summary>
    private InProcessServer Server(IMethod method, CallOptions options)
    {
        var server = InProcessTransport.Server(endpoint, method.FullName);
        var headers = new Metadata();
        foreach (var entry in options.Headers ?? []) headers.Add(entry);
        if (token is not null) headers.Add(ClusterAuthenticator.HeaderName, token.Header);
        server.Authenticator.Check(headers, method.FullName, "inproc");
        return server;
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options,
        TRequest request) =>
        UnaryAsync(method, options, request).GetAwaiter().GetResult();

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host,
        CallOptions options, TRequest request)
    {
        var response = UnaryAsync(method, options, request);
        return new AsyncUnaryCall<TResponse>(response, Task.FromResult(Metadata.Empty), () => Status.DefaultSuccess, () => Metadata.Empty, () => { });
    }

    private async Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options, TRequest request)
        where TRequest : class where TResponse : class
    {
        var server = Server(method, options);
        var handler = server.Handler<UnaryServerMethod<TRequest, TResponse>>(method.FullName);
        var copy = InProcessTransport.Copy(method.RequestMarshaller, request);
        using var call = CallScope.Start(server, method, options);
        try
        {
            var response = await Task.Run(() => handler(copy, call.Context), call.Token).WaitAsync(call.Token).ConfigureAwait(false);
            return InProcessTransport.Copy(method.ResponseMarshaller, response);
        }
        catch (Exception e)
        {
            throw call.Translate(e);
        }
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method,
        string? host, CallOptions options, TRequest request)
    {
        var server = Server(method, options);
        var handler = server.Handler<ServerStreamingServerMethod<TRequest, TResponse>>(method.FullName);
        var copy = InProcessTransport.Copy(method.RequestMarshaller, request);
        var call = CallScope.Start(server, method, options);
        var responses = new Pipe<TResponse>(method.ResponseMarshaller, call, serverReads: false);
        Serve(() => handler(copy, responses, call.Context), responses, call);
        return new AsyncServerStreamingCall<TResponse>(responses, Task.FromResult(Metadata.Empty), () => Status.DefaultSuccess,
            () => Metadata.Empty, call.Dispose);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method,
        string? host, CallOptions options)
    {
        var server = Server(method, options);
        var handler = server.Handler<DuplexStreamingServerMethod<TRequest, TResponse>>(method.FullName);
        var call = CallScope.Start(server, method, options);
        var requests = new Pipe<TRequest>(method.RequestMarshaller, call, serverReads: true);
        var responses = new Pipe<TResponse>(method.ResponseMarshaller, call, serverReads: false);
        Serve(() => handler(requests, responses, call.Context), responses, call);
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(requests, responses, Task.FromResult(Metadata.Empty),
            () => Status.DefaultSuccess, () => Metadata.Empty, call.Dispose);
    }

    /// <summary>Runs a streaming handler on the thread pool; its end (or failure, as the client would see it) ends the
    /// response stream.</summary>
    private static void Serve<T>(Func<Task> handler, Pipe<T> responses, CallScope call) =>
        _ = Task.Run(async () =>
        {
            try
            {
                await handler().ConfigureAwait(false);
                responses.Complete(null);
            }
            catch (Exception e)
            {
                responses.Complete(call.Translate(e));
            }
        });

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method,
        string? host, CallOptions options) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "Client-streaming calls are not used by RaySharp."));

    /// <summary>One call's lifetime: cancelled by the caller, by its deadline, or by the server stopping.</summary>
    private sealed class CallScope : IDisposable
    {
        // Never disposed, so its token stays valid for handlers that outlive the call; the registrations on the
        // caller's and the server's tokens are what must not leak, and Dispose removes them.
        private readonly CancellationTokenSource _cts = new();
        private readonly CancellationTokenRegistration _caller, _stopping;
        private readonly InProcessServer _server;
        private readonly CancellationToken _callerToken;

        private CallScope(InProcessServer server, IMethod method, CallOptions options)
        {
            _server = server;
            _callerToken = options.CancellationToken;
            _caller = options.CancellationToken.Register(Cancel);
            _stopping = server.Stopping.Register(Cancel);
            if (options.Deadline is { } deadline && deadline != DateTime.MaxValue)
            {
                var left = deadline.ToUniversalTime() - DateTime.UtcNow;
                _cts.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            }
            Context = new InProcessServerCallContext(method.FullName, _server.Endpoint, options.Deadline ?? DateTime.MaxValue, _cts.Token);
        }

        public static CallScope Start(InProcessServer server, IMethod method, CallOptions options) => new(server, method, options);

        public ServerCallContext Context { get; }
        public CancellationToken Token => _cts.Token;

        private void Cancel()
        {
            try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        }

        /// <summary>What the caller sees for a failure, as a gRPC client would.</summary>
        public RpcException Translate(Exception e) => e switch
        {
            RpcException r => r,
            OperationCanceledException when _server.IsStopped =>
                new RpcException(new Status(StatusCode.Unavailable, $"The in-process server at {_server.Endpoint} stopped.")),
            OperationCanceledException when _callerToken.IsCancellationRequested => new RpcException(Status.DefaultCancelled),
            OperationCanceledException when _cts.IsCancellationRequested => new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline exceeded.")),
            _ => new RpcException(new Status(StatusCode.Unknown, $"Exception was thrown by handler. {e.GetType().Name}: {e.Message}")),
        };

        public void Dispose()
        {
            Cancel();
            _caller.Dispose();
            _stopping.Dispose();
        }
    }

    /// <summary>One direction of a stream: a writer on one side, a reader on the other, each message copied.</summary>
    /// <param name="marshaller">Copies each message, as the wire would.</param>
    /// <param name="call">The call the stream belongs to.</param>
    /// <param name="serverReads">The server reads this pipe: a cancelled call ends its reads as
    /// OperationCanceledException, as ASP.NET Core's do; a client's reads end as RpcException.</param>
    private sealed class Pipe<T>(Marshaller<T> marshaller, CallScope call, bool serverReads) : IAsyncStreamReader<T>, IServerStreamWriter<T>, IClientStreamWriter<T>
    {
        private readonly Channel<T> _channel = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true });
        private RpcException? _error;

        public T Current { get; private set; } = default!;

        public WriteOptions? WriteOptions { get; set; }

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, call.Token);
            try
            {
                if (await _channel.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false) && _channel.Reader.TryRead(out var item))
                {
                    Current = item;
                    return true;
                }
            }
            catch (OperationCanceledException e)
            {
                // Items written before the stream ended are still delivered.
                if (_channel.Reader.TryRead(out var item))
                {
                    Current = item;
                    return true;
                }
                if (_error is null)
                {
                    if (serverReads) throw;
                    throw call.Translate(e);
                }
            }
            if (_error is not null) throw _error;
            return false;
        }

        public Task WriteAsync(T message)
        {
            if (call.Token.IsCancellationRequested)
                return Task.FromException(new InvalidOperationException("The stream is closed: the call ended."));
            return _channel.Writer.TryWrite(InProcessTransport.Copy(marshaller, message))
                ? Task.CompletedTask
                : Task.FromException(new InvalidOperationException("The stream is closed."));
        }

        public Task WriteAsync(T message, CancellationToken cancellationToken) =>
            cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : WriteAsync(message);

        public Task CompleteAsync()
        {
            _channel.Writer.TryComplete();
            return Task.CompletedTask;
        }

        public void Complete(RpcException? error)
        {
            _error = error;
            _channel.Writer.TryComplete();
        }
    }
}

/// <summary>The server-side view of an in-process call.</summary>
internal sealed class InProcessServerCallContext(string method, string host, DateTime deadline, CancellationToken ct) : ServerCallContext
{
    private readonly Metadata _trailers = [];
    private Status _status = Status.DefaultSuccess;

    protected override string MethodCore => method;
    protected override string HostCore => host;
    protected override string PeerCore => "inproc";
    protected override DateTime DeadlineCore => deadline;
    protected override Metadata RequestHeadersCore => Metadata.Empty;
    protected override CancellationToken CancellationTokenCore => ct;
    protected override Metadata ResponseTrailersCore => _trailers;
    protected override Status StatusCore { get => _status; set => _status = value; }
    protected override WriteOptions? WriteOptionsCore { get; set; }
    protected override AuthContext AuthContextCore => new(null, []);
    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("RaySharp does not propagate in-process call contexts.");
    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}

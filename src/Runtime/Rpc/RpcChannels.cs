using System.Collections.Concurrent;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Rpc;

/// <summary>
/// One gRPC channel per remote endpoint, shared by every client in the process. An endpoint is <c>host:port</c>
/// (TCP) or <c>unix:/path</c> (a Unix domain socket on this node). A channel is created with the keepalive settings
/// of the configuration of the first client that reaches its endpoint (every client of a process passes the process's
/// <see cref="RayConfig"/>; tools that pass none get the defaults).
/// </summary>
internal static class RpcChannels
{
    private static readonly ConcurrentDictionary<string, Lazy<GrpcChannel>> s_channels = new();

    /// <summary>The invoker every client of <paramref name="endpoint"/> calls through: each call carries the cluster
    /// token of <paramref name="config"/> (none when it has none: the server refuses such calls as Unauthenticated).</summary>
    public static CallInvoker Invoker(string endpoint, RayConfig? config = null)
    {
        var token = config?.AuthToken;
        if (InProcessTransport.IsInProcess(endpoint)) return InProcessTransport.Invoker(endpoint, token);
        var invoker = Channel(endpoint, config).CreateCallInvoker().Intercept(RpcMetricsInterceptor.Instance);
        return token is null ? invoker : invoker.Intercept(metadata =>
        {
            metadata.Add(ClusterAuthenticator.HeaderName, token.Header);
            return metadata;
        });
    }

    public static GrpcChannel Channel(string endpoint, RayConfig? config = null)
    {
        config ??= RayConfig.Default;
        // A TLS channel and a clear one to the same address are different channels (a port may be reused by a server of
        // another kind).
        string key = config.Tls is not null && !endpoint.StartsWith("unix:", StringComparison.Ordinal) ? TlsKeyPrefix + endpoint : endpoint;
        return s_channels.GetOrAdd(key, static (_, state) => new Lazy<GrpcChannel>(() => Create(state.Endpoint, state.Config)), (Endpoint: endpoint, Config: config))
            .Value;
    }

    private const string TlsKeyPrefix = "tls:";

    /// <summary>The endpoint to reach <paramref name="address"/> from a process on <paramref name="localNode"/>:
    /// its socket when it is on the same node, else TCP.</summary>
    public static string EndpointFor(Address address, NodeId localNode) =>
        address.Socket is { } socket && address.NodeId == localNode && File.Exists(socket) ? "unix:" + socket : address.Endpoint;

    /// <summary>How soon a channel whose peer went away tries to connect again, and the most it waits between tries.</summary>
    internal static readonly TimeSpan ReconnectBackoffInitial = TimeSpan.FromMilliseconds(100), ReconnectBackoffMax = TimeSpan.FromSeconds(1);

    private static GrpcChannel Create(string endpoint, RayConfig config)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = config.GrpcKeepAliveTime,
            KeepAlivePingTimeout = config.GrpcKeepAliveTimeout,
            InitialHttp2StreamWindowSize = 8 * 1024 * 1024,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        string target;
        if (endpoint.StartsWith("unix:", StringComparison.Ordinal))
        {
            string path = endpoint["unix:".Length..];
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            target = "http://localhost";
        }
        else if (config.Tls is { } tls)
        {
            // Over TCP with TLS on: this process's certificate out, the peer's checked against the cluster's CA.
            handler.SslOptions = tls.ClientOptions();
            target = "https://" + endpoint;
        }
        else
        {
            target = "http://" + endpoint;
        }
        return GrpcChannel.ForAddress(target, new GrpcChannelOptions
        {
            HttpHandler = handler,
            // Replies as large as the largest message any server accepts (objects from a core worker); sends are
            // limited by the server that receives them.
            MaxReceiveMessageSize = Math.Max(config.CoreWorkerGrpcMaxReceiveMessageSize,
                Math.Max(config.GcsGrpcMaxReceiveMessageSize, config.RayletGrpcMaxReceiveMessageSize)),
            MaxSendMessageSize = null,
            // A peer that restarts (a GCS over Redis) is reached again within a couple of seconds, not after the
            // client's default reconnect backoff, which grows to two minutes.
            InitialReconnectBackoff = ReconnectBackoffInitial,
            MaxReconnectBackoff = ReconnectBackoffMax,
        });
    }

    /// <summary>Drops the channel to an endpoint that went away, so a later process on the same address gets a fresh one.</summary>
    public static void Forget(string endpoint)
    {
        foreach (var key in (string[])[endpoint, TlsKeyPrefix + endpoint])
            if (s_channels.TryRemove(key, out var lazy) && lazy.IsValueCreated) lazy.Value.Dispose();
    }

    /// <summary>A unary call whose peer may be gone: null when it is unreachable (any other failure throws).</summary>
    public static async Task<TResponse?> TryCallAsync<TRequest, TResponse>(CallInvoker invoker, Method<TRequest, TResponse> method,
        TRequest request, CancellationToken ct = default) where TRequest : class where TResponse : class
    {
        try
        {
            return await invoker.AsyncUnaryCall(method, null, new CallOptions(cancellationToken: ct), request).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (IsUnavailable(e))
        {
            return null;
        }
    }

    /// <summary>A notice nobody waits for (lease returns, borrower removal, reports to the GCS). A peer that is gone is
    /// ignored; any other failure is logged as a warning to <paramref name="logger"/> (the caller's, so it lands in the
    /// process's log) rather than lost as an unobserved task exception.</summary>
    public static void Fire<TRequest, TResponse>(CallInvoker invoker, Method<TRequest, TResponse> method, TRequest request, ILogger logger)
        where TRequest : class where TResponse : class =>
        _ = TryCallAsync(invoker, method, request).ContinueWith(static (t, state) =>
            {
                var (log, name) = ((ILogger, string))state!;
                var e = t.Exception!.GetBaseException();
                log.NoticeFailed(e, name, e is RpcException rpc ? RpcErrors.Describe(rpc) : e.Message);
            },
            (logger, method.FullName), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

    /// <summary>True for the status codes that mean the peer is gone (not an application error).</summary>
    public static bool IsUnavailable(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled or StatusCode.Aborted;
}

using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Rpc;

namespace RaySharp.Benchmarks;

/// <summary>
/// The raw gRPC round trip the Ray workloads are compared with: an <see cref="EchoService"/> on a Unix domain
/// socket (how processes of one node talk) and a client on the runtime's shared channel to it.
/// </summary>
internal sealed class RawRpcBaseline : IAsyncDisposable
{
    private static readonly byte[] s_payload = "ok"u8.ToArray();

    private readonly RpcServer _server;
    private readonly string _endpoint;
    private readonly CallInvoker _invoker;
    private readonly AsyncDuplexStreamingCall<EchoMessage, EchoMessage> _stream;
    private long _sequence;

    private RawRpcBaseline(RpcServer server, string endpoint, RayConfig config)
    {
        _server = server;
        _endpoint = endpoint;
        _invoker = RpcChannels.Invoker(endpoint, config);
        _stream = _invoker.AsyncDuplexStreamingCall(EchoService.EchoStreamMethod, null, new CallOptions());
    }

    public static async Task<RawRpcBaseline> StartAsync(CancellationToken ct)
    {
        string socket = Path.Combine(Path.GetTempPath(), $"raysharp-bench-echo-{Environment.ProcessId}.sock");
        // The baseline pays what RaySharp's calls pay: the cluster token on each call and its check.
        var config = RayConfig.Default with { AuthToken = ClusterToken.Generate() };
        var server = await RpcServer.StartAsync("127.0.0.1", 0, socket, [new EchoService()], config, ct: ct).ConfigureAwait(false);
        return new RawRpcBaseline(server, "unix:" + socket, config);
    }

    /// <summary>One unary call, awaited before the next: the cost of a round trip.</summary>
    public async ValueTask UnaryAsync()
    {
        var reply = await _invoker.AsyncUnaryCall(EchoService.EchoMethod, null, new CallOptions(), Next()).ConfigureAwait(false);
        if (reply.Payload.Length != s_payload.Length) throw new InvalidOperationException("The echo server changed the message.");
    }

    /// <summary>One unary call carrying <paramref name="payload"/>, answered with two bytes, awaited before the next: the
    /// baseline of a call with an argument of that size.</summary>
    public async ValueTask UnaryWithPayloadAsync(byte[] payload)
    {
        var reply = await _invoker.AsyncUnaryCall(EchoService.AckMethod, null, new CallOptions(), new EchoMessage(Interlocked.Increment(ref _sequence), payload))
            .ConfigureAwait(false);
        if (reply.Payload.Length != s_payload.Length) throw new InvalidOperationException("The echo server answered an unexpected message.");
    }

    /// <summary>One message on the long-lived stream, its echo read before the next: a round trip without the
    /// per-call HTTP/2 stream and headers, the least a sync call over the runtime's push streams can cost.</summary>
    public async ValueTask StreamPingPongAsync(CancellationToken ct)
    {
        await _stream.RequestStream.WriteAsync(Next(), ct).ConfigureAwait(false);
        await ReadAsync(1, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// <paramref name="count"/> messages written on the long-lived stream while their replies are read: the
    /// throughput of the stack when nothing waits for a round trip (the shape of the "async" workloads).
    /// </summary>
    public async ValueTask StreamBatchAsync(int count, CancellationToken ct)
    {
        var reader = ReadAsync(count, ct);
        for (int i = 0; i < count; i++)
            await _stream.RequestStream.WriteAsync(Next(), ct).ConfigureAwait(false);
        await reader.ConfigureAwait(false);
    }

    private async Task ReadAsync(int count, CancellationToken ct)
    {
        for (int i = 0; i < count; i++)
            if (!await _stream.ResponseStream.MoveNext(ct).ConfigureAwait(false))
                throw new InvalidOperationException("The echo stream ended early.");
    }

    private EchoMessage Next() => new(Interlocked.Increment(ref _sequence), s_payload);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _stream.RequestStream.CompleteAsync().ConfigureAwait(false);
            while (await _stream.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false)) { }
        }
        catch (RpcException)
        {
            // Already broken: nothing left to drain.
        }
        _stream.Dispose();
        RpcChannels.Forget(_endpoint);
        await _server.DisposeAsync().ConfigureAwait(false);
    }
}

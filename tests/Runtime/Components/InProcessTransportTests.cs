using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>Local mode's transport behaves as gRPC does for the callers that RaySharp's clients are: copies on the
/// way, the peer going away as Unavailable, handler failures as RpcException, cancellation reaching the handler.</summary>
public sealed class InProcessTransportTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly RayConfig Config = RayConfig.Default with { AuthToken = ClusterToken.Generate() };

    internal sealed class Service : IRpcService
    {
        public static readonly Method<KvRequest, KvReply> Echo = RpcMarshaller.Unary<KvRequest, KvReply>("test.Service", nameof(Echo));
        public static readonly Method<KvRequest, KvReply> Fail = RpcMarshaller.Unary<KvRequest, KvReply>("test.Service", nameof(Fail));
        public static readonly Method<KvRequest, KvReply> Watch = RpcMarshaller.ServerStreaming<KvRequest, KvReply>("test.Service", nameof(Watch));
        public static readonly Method<KvRequest, KvReply> Chat = RpcMarshaller.Duplex<KvRequest, KvReply>("test.Service", nameof(Chat));

        public KvRequest? Received { get; private set; }
        public TaskCompletionSource WatchEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Map(IEndpointRouteBuilder app) => throw new NotSupportedException();

        public void Bind(ServiceBinderBase binder)
        {
            binder.AddMethod(Echo, (r, _) =>
            {
                Received = r;
                return Task.FromResult(new KvReply(true, r.Value));
            });
            binder.AddMethod(Fail, (UnaryServerMethod<KvRequest, KvReply>)((_, _) => throw new InvalidOperationException("bad request")));
            binder.AddMethod(Watch, (ServerStreamingServerMethod<KvRequest, KvReply>)(async (r, stream, context) =>
            {
                try
                {
                    await stream.WriteAsync(new KvReply(true, [1]));
                    await Task.Delay(Timeout.Infinite, context.CancellationToken);
                }
                finally
                {
                    WatchEnded.TrySetResult();
                }
            }));
            binder.AddMethod(Chat, (DuplexStreamingServerMethod<KvRequest, KvReply>)(async (requests, responses, context) =>
            {
                while (await requests.MoveNext(context.CancellationToken))
                    await responses.WriteAsync(new KvReply(true, requests.Current.Value));
            }));
        }
    }

    [Fact]
    public async Task A_unary_call_reaches_the_handler_with_a_copy_of_the_message()
    {
        var service = new Service();
        await using var server = InProcessTransport.Start("test", [service], Config.AuthToken!);
        var request = new KvRequest("ns", "k", [1, 2, 3], false);
        var reply = await RpcChannels.Invoker(server.Endpoint, Config).AsyncUnaryCall(Service.Echo, null, new CallOptions(), request).ResponseAsync;
        Assert.Equal([1, 2, 3], reply.Value);
        Assert.NotSame(request, service.Received);
        Assert.Equal([1, 2, 3], service.Received!.Value);
        Assert.NotSame(request.Value, service.Received!.Value);
    }

    [Fact]
    public async Task A_handler_that_throws_is_an_RpcException_at_the_caller()
    {
        await using var server = InProcessTransport.Start("test", [new Service()], Config.AuthToken!);
        var e = await Assert.ThrowsAsync<RpcException>(() =>
            RpcChannels.Invoker(server.Endpoint, Config).AsyncUnaryCall(Service.Fail, null, new CallOptions(), new KvRequest("", "", null, false)).ResponseAsync);
        Assert.Equal(StatusCode.Unknown, e.StatusCode);
        Assert.Contains("bad request", e.Status.Detail);
    }

    [Fact]
    public async Task A_stopped_server_is_unavailable_and_ends_its_open_streams()
    {
        var service = new Service();
        var server = InProcessTransport.Start("test", [service], Config.AuthToken!);
        var invoker = RpcChannels.Invoker(server.Endpoint, Config);
        using var watch = invoker.AsyncServerStreamingCall(Service.Watch, null, new CallOptions(), new KvRequest("", "", null, false));
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Wait));

        await server.DisposeAsync();
        var broken = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Wait));
        Assert.Equal(StatusCode.Unavailable, broken.StatusCode);
        await service.WatchEnded.Task.WaitAsync(Wait);
        var refused = Assert.Throws<RpcException>(() => invoker.BlockingUnaryCall(Service.Echo, null, new CallOptions(), new KvRequest("", "", null, false)));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.True(RpcChannels.IsUnavailable(refused));
    }

    [Fact]
    public async Task Cancelling_a_stream_reaches_the_handler()
    {
        var service = new Service();
        await using var server = InProcessTransport.Start("test", [service], Config.AuthToken!);
        using var cts = new CancellationTokenSource();
        using var watch = RpcChannels.Invoker(server.Endpoint, Config).AsyncServerStreamingCall(Service.Watch, null, new CallOptions(cancellationToken: cts.Token),
            new KvRequest("", "", null, false));
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Wait));
        cts.Cancel();
        await service.WatchEnded.Task.WaitAsync(Wait);
        var e = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Wait));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
    }

    [Fact]
    public async Task A_duplex_stream_carries_messages_both_ways_in_order()
    {
        await using var server = InProcessTransport.Start("test", [new Service()], Config.AuthToken!);
        using var chat = RpcChannels.Invoker(server.Endpoint, Config).AsyncDuplexStreamingCall(Service.Chat, null, new CallOptions());
        for (byte i = 0; i < 5; i++) await chat.RequestStream.WriteAsync(new KvRequest("", "", [i], false));
        await chat.RequestStream.CompleteAsync();
        var seen = new List<byte>();
        while (await chat.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Wait)) seen.Add(chat.ResponseStream.Current.Value![0]);
        Assert.Equal([0, 1, 2, 3, 4], seen);
    }
}

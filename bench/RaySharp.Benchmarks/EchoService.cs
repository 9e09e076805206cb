using Grpc.Core;
using MemoryPack;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using RaySharp.Core.Rpc;

namespace RaySharp.Benchmarks;

/// <summary>The message of the raw baseline: about the size of a small task reply (Ray's <c>b"ok"</c>).</summary>
[MemoryPackable]
internal sealed partial record EchoMessage(long Sequence, byte[] Payload);

/// <summary>
/// The baseline's server: returns each message unchanged, as a unary call and on a bidirectional stream. It
/// goes through exactly the stack the runtime uses (Kestrel HTTP/2, <see cref="RpcMarshaller"/>,
/// <see cref="RpcServer"/>), with no work behind it, so it measures what the wire alone costs.
/// </summary>
/// <summary>Asks for <see cref="Total"/> bytes in messages of <see cref="Chunk"/> bytes.</summary>
[MemoryPackable]
internal sealed partial record ChunksRequest(long Total, int Chunk);

[BindServiceMethod(typeof(EchoService), nameof(BindService))]
// Not sealed: ASP.NET Core gRPC binds handlers to virtual methods of the type that declares BindService.
internal class EchoService : IRpcService
{
    public const string Name = "raysharp.bench.EchoService";
    public static readonly Method<EchoMessage, EchoMessage> EchoMethod = RpcMarshaller.Unary<EchoMessage, EchoMessage>(Name, nameof(Echo));
    public static readonly Method<EchoMessage, EchoMessage> EchoStreamMethod = RpcMarshaller.Duplex<EchoMessage, EchoMessage>(Name, nameof(EchoStream));
    public static readonly Method<EchoMessage, EchoMessage> AckMethod = RpcMarshaller.Unary<EchoMessage, EchoMessage>(Name, nameof(Ack));
    public static readonly Method<ChunksRequest, EchoMessage> ChunksMethod = RpcMarshaller.ServerStreaming<ChunksRequest, EchoMessage>(Name, nameof(Chunks));

    public void Map(IEndpointRouteBuilder app) => app.MapGrpcService<EchoService>();

    public void Bind(ServiceBinderBase binder) => BindService(binder, this);

    public static void BindService(ServiceBinderBase binder, EchoService? service)
    {
        binder.AddMethod(EchoMethod, service is null ? null : service.Echo);
        binder.AddMethod(EchoStreamMethod, service is null ? null : service.EchoStream);
        binder.AddMethod(AckMethod, service is null ? null : service.Ack);
        binder.AddMethod(ChunksMethod, service is null ? null : service.Chunks);
    }

    public virtual Task<EchoMessage> Echo(EchoMessage request, ServerCallContext context) => Task.FromResult(request);

    private static readonly byte[] s_ok = "ok"u8.ToArray();

    /// <summary>Takes a message of any size and answers two bytes: the baseline of a call with a large argument and a
    /// small result.</summary>
    public virtual Task<EchoMessage> Ack(EchoMessage request, ServerCallContext context) => Task.FromResult(new EchoMessage(request.Sequence, s_ok));

    /// <summary>Streams the bytes asked for, a new buffer per message (as an object transfer reads its chunks): the
    /// baseline of the inter-node transfer.</summary>
    public virtual async Task Chunks(ChunksRequest request, IServerStreamWriter<EchoMessage> responses, ServerCallContext context)
    {
        long sent = 0;
        long sequence = 0;
        while (sent < request.Total)
        {
            var data = new byte[(int)Math.Min(request.Chunk, request.Total - sent)];
            await responses.WriteAsync(new EchoMessage(sequence++, data), context.CancellationToken).ConfigureAwait(false);
            sent += data.Length;
        }
    }

    /// <summary>Writes each message back as it arrives: one reply per request, no batching.</summary>
    public virtual async Task EchoStream(IAsyncStreamReader<EchoMessage> requests, IServerStreamWriter<EchoMessage> responses,
        ServerCallContext context)
    {
        try
        {
            while (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
                await responses.WriteAsync(requests.Current, context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client ended the benchmark by going away.
        }
        catch (IOException)
        {
        }
    }
}

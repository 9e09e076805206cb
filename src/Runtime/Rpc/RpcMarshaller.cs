using Grpc.Core;
using MemoryPack;

namespace RaySharp.Core.Rpc;

/// <summary>gRPC marshallers that write messages with MemoryPack straight into gRPC's pooled buffers (no protobuf).</summary>
internal static class RpcMarshaller
{
    public static Marshaller<T> For<T>() => Cache<T>.Instance;

    private static class Cache<T>
    {
        public static readonly Marshaller<T> Instance = new(
            static (value, context) =>
            {
                var writer = context.GetBufferWriter();
                MemoryPackSerializer.Serialize(writer, value);
                context.Complete();
            },
            static context => MemoryPackSerializer.Deserialize<T>(context.PayloadAsReadOnlySequence())!);
    }

    public static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name) =>
        new(MethodType.Unary, service, name, For<TRequest>(), For<TResponse>());

    public static Method<TRequest, TResponse> ServerStreaming<TRequest, TResponse>(string service, string name) =>
        new(MethodType.ServerStreaming, service, name, For<TRequest>(), For<TResponse>());

    public static Method<TRequest, TResponse> Duplex<TRequest, TResponse>(string service, string name) =>
        new(MethodType.DuplexStreaming, service, name, For<TRequest>(), For<TResponse>());
}

using System.Buffers;
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
            static context => Decode<T>(context.PayloadAsReadOnlySequence()));
    }

    /// <summary>
    /// Reads a message off the wire. Bytes that are not a <typeparamref name="T"/> (truncated, a length past the end, a
    /// negative count, a duplicate dictionary key), or a message without the shape its type declares
    /// (<see cref="WireShape"/>), fail with <see cref="StatusCode.InvalidArgument"/>: the caller hears that its message
    /// was refused, and the handler never runs. Collections cannot claim more elements than the message has bytes
    /// (MemoryPack checks), so what a length field can make the reader allocate is bounded by the message size limit.
    /// </summary>
    public static T Decode<T>(in ReadOnlySequence<byte> payload)
    {
        T? value;
        try
        {
            value = MemoryPackSerializer.Deserialize<T>(payload);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever the reader threw, the bytes were not a message of this type.
            throw WireValidation.Invalid($"Malformed {typeof(T).Name}: {e.GetType().Name}: {e.Message}");
        }
        WireShape.Check(value);
        return value!;
    }

    public static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name) =>
        new(MethodType.Unary, service, name, For<TRequest>(), For<TResponse>());

    public static Method<TRequest, TResponse> ServerStreaming<TRequest, TResponse>(string service, string name) =>
        new(MethodType.ServerStreaming, service, name, For<TRequest>(), For<TResponse>());

    public static Method<TRequest, TResponse> Duplex<TRequest, TResponse>(string service, string name) =>
        new(MethodType.DuplexStreaming, service, name, For<TRequest>(), For<TResponse>());
}

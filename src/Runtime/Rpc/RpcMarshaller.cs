using System.Buffers;
using Grpc.Core;
using MemoryPack;

namespace RaySharp.Core.Rpc;

/// <summary>gRPC marshallers that write messages with MemoryPack (no protobuf), without an array per message.</summary>
internal static class RpcMarshaller
{
    public static Marshaller<T> For<T>() => Cache<T>.Instance;

    /// <summary>A thread keeps its buffer for the next message up to this size; a larger one (a large message's) goes back
    /// to the pool, so it is not held by the thread for good.</summary>
    private const int MaxKeptBufferBytes = 256 * 1024;

    [ThreadStatic] private static PooledBufferWriter? t_buffer;

    private static class Cache<T>
    {
        public static readonly Marshaller<T> Instance = new(Write, static context => Decode<T>(context.PayloadAsReadOnlySequence()));

        /// <summary>
        /// gRPC's writer, asked for a buffer before it knows the message's length, grows an array of its own per message
        /// (doubling from 256 bytes); told the length first, it writes into a pooled buffer. So the message is written
        /// into this thread's pooled buffer, its length given, and its bytes copied once into gRPC's.
        /// </summary>
        private static void Write(T value, SerializationContext context)
        {
            var buffer = Serialize(value);
            try
            {
                var payload = buffer.Span;
                context.SetPayloadLength(payload.Length);
                context.GetBufferWriter().Write(payload);
                context.Complete();
            }
            finally
            {
                Release(buffer);
            }
        }
    }

    /// <summary>Writes <paramref name="value"/> into this thread's pooled buffer; give it back with <see cref="Release"/>
    /// once its bytes are read.</summary>
    internal static PooledBufferWriter Serialize<T>(T value)
    {
        // Taken off the thread while in use: a message written while another is (a formatter that sends) gets its own.
        var buffer = t_buffer ?? new PooledBufferWriter();
        t_buffer = null;
        buffer.Reset();
        try
        {
            MemoryPackSerializer.Serialize(buffer, value);
        }
        catch
        {
            Release(buffer);
            throw;
        }
        return buffer;
    }

    internal static void Release(PooledBufferWriter buffer)
    {
        if (buffer.Capacity > MaxKeptBufferBytes || t_buffer is not null) buffer.Dispose();
        else
        {
            buffer.Reset();
            t_buffer = buffer;
        }
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

using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using MemoryPack;

namespace RaySharp.Core;

/// <summary>A value serialized with MemoryPack, and the refs found inside it.</summary>
internal readonly record struct SerializedObject(byte[] Data, ObjectId[] NestedIds);

/// <summary>
/// A value serialized into a pooled buffer (large values are written from here straight into the object store, with no
/// array of their own); dispose it to return the buffer.
/// </summary>
internal sealed class PooledSerializedObject : PooledBufferWriter
{
    public ObjectId[] NestedIds { get; internal set; } = [];

    /// <summary>An exact-size copy, for a value kept inline.</summary>
    public SerializedObject ToSerializedObject() => new(Span.ToArray(), NestedIds);
}

/// <summary>What a value is being serialized as, for the error when it cannot be (formatted only then).</summary>
internal readonly record struct SerializationSite(string Kind, string? Function = null, int Index = -1)
{
    public static SerializationSite Put => new("the value passed to Ray.Put");

    public static SerializationSite Argument(string function, int index) => new("argument", function, index);

    public static SerializationSite Return(string function, int index) => new("return", function, index);

    public static SerializationSite Item(string function) => new("item", function);

    public override string ToString() => Kind switch
    {
        "argument" => $"argument {Index} of {Function}",
        "return" => $"return value {Index} of {Function}",
        "item" => $"an item yielded by {Function}",
        _ => Kind,
    };
}

/// <summary>
/// Serializes arguments, returns and put values with MemoryPack, exactly as they travel between processes.
/// Refs and actor handles inside a value are written as IDs with their owner; the serializer records them so
/// the owner can keep them alive while the containing object lives (Ray's nested references).
/// </summary>
internal static class ObjectSerializer
{
    [ThreadStatic] private static List<ObjectId>? t_nested;
    [ThreadStatic] private static List<ObjectId>? t_spareNested;
    [ThreadStatic] private static CoreWorker? t_deserializingWorker;

    static ObjectSerializer() => RuntimeFormatters.EnsureRegistered();

    /// <summary>Serializes <paramref name="value"/> into a pooled buffer: a large value costs no array of its own (it is
    /// written from the buffer into the store), a small one is copied out once (<see cref="PooledSerializedObject.ToSerializedObject"/>).</summary>
    /// <exception cref="ArgumentException">MemoryPack does not support the type (see RAY002).</exception>
    /// <exception cref="RayException">The type's serializer threw; the message names the type and <paramref name="site"/>.</exception>
    public static PooledSerializedObject SerializePooled<T>(T value, CoreWorker worker, SerializationSite site)
    {
        var outer = t_nested;
        // The outermost serialization on a thread records into the thread's own list; one nested inside it (a formatter
        // that serializes a value of its own) gets a fresh one.
        var nested = t_nested = outer is null ? (t_spareNested ??= []) : [];
        nested.Clear();
        var buffer = new PooledSerializedObject();
        try
        {
            try
            {
                MemoryPackSerializer.Serialize(buffer, value);
            }
            catch (Exception e) when (e is MemoryPackSerializationException or NotSupportedException or InvalidOperationException)
            {
                throw new ArgumentException(
                    $"{site} is a {typeof(T).FullName}, which MemoryPack cannot serialize, so it cannot cross the wire: {e.Message} " +
                    "Mark the type [MemoryPackable] and partial, or pass a supported type (see RAY002).", e);
            }
            catch (Exception e) when (e is not RayException)
            {
                throw new RayException($"Serializing {site} (a {typeof(T).FullName}) failed: the type's serializer threw " +
                    $"{e.GetType().FullName}: {e.Message}", e);
            }
            buffer.NestedIds = nested.Count == 0 ? [] : DistinctIds(nested);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
        finally
        {
            nested.Clear();
            t_nested = outer;
        }
    }

    private static ObjectId[] DistinctIds(List<ObjectId> ids)
    {
        if (ids.Count == 1) return [ids[0]];
        var seen = new HashSet<ObjectId>(ids.Count);
        var distinct = new List<ObjectId>(ids.Count);
        foreach (var id in ids)
            if (seen.Add(id)) distinct.Add(id);
        return [.. distinct];
    }

    /// <summary>
    /// The elements of <paramref name="span"/> as MemoryPack writes a <c>T[]</c> (a little-endian int32 count, then the
    /// elements' bytes), copied once: the bytes read back as a <c>T[]</c> and as an <see cref="ObjectView{T}"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The elements do not fit in one object.</exception>
    public static SerializedObject SerializeArray<T>(ReadOnlySpan<T> span) where T : unmanaged
    {
        var elements = ArrayBytes(span);
        var data = GC.AllocateUninitializedArray<byte>(sizeof(int) + elements.Length);
        BinaryPrimitives.WriteInt32LittleEndian(data, span.Length);
        elements.CopyTo(data.AsSpan(sizeof(int)));
        return new SerializedObject(data, []);
    }

    /// <summary>The bytes of the elements of a <c>T[]</c> to be stored (checked to fit one object with its header).</summary>
    public static ReadOnlySpan<byte> ArrayBytes<T>(ReadOnlySpan<T> span) where T : unmanaged
    {
        var elements = MemoryMarshal.AsBytes(span);
        if ((long)elements.Length + sizeof(int) > Array.MaxLength)
            throw new ArgumentException(
                $"{span.Length} elements of {typeof(T).Name} take {elements.Length} bytes, more than one object holds " +
                $"({Array.MaxLength} bytes with its header): put it in parts.", nameof(span));
        return elements;
    }

    public static T Deserialize<T>(byte[] data, CoreWorker worker) => Deserialize<T>(data.AsSpan(), worker);

    /// <summary>Reads a value straight from <paramref name="data"/> (inline bytes, or a mapping of the object store).</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> data, CoreWorker worker)
    {
        var outer = t_deserializingWorker;
        t_deserializingWorker = worker;
        try
        {
            return MemoryPackSerializer.Deserialize<T>(data)!;
        }
        catch (MemoryPackSerializationException e)
        {
            throw new InvalidOperationException(
                $"The stored object cannot be read as {typeof(T).FullName}: {e.Message} Read it as the type the task returns.", e);
        }
        finally
        {
            t_deserializingWorker = outer;
        }
    }

    /// <summary>Called by the ref and handle formatters for every ref written.</summary>
    internal static void RecordNested(ObjectId id) => t_nested?.Add(id);

    /// <summary>The worker that refs being read belong to.</summary>
    internal static CoreWorker DeserializingWorker =>
        t_deserializingWorker ?? CoreWorker.CurrentOrNull ?? throw new InvalidOperationException(
            "An ObjectRef or ActorHandle was deserialized outside RaySharp: call Ray.Init() first.");
}

/// <summary>MemoryPack formatters for the runtime's own types that may appear inside user values.</summary>
internal static class RuntimeFormatters
{
    private static int s_registered;

    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref s_registered, 1) != 0) return;
        MemoryPackFormatterProvider.RegisterGenericType(typeof(ObjectRef<>), typeof(ObjectRefFormatter<>));
        MemoryPackFormatterProvider.RegisterGenericType(typeof(ActorHandle<>), typeof(ActorHandleFormatter<>));
        MemoryPackFormatterProvider.Register(new UntypedObjectRefFormatter());
    }

    internal static void WriteRef<TBufferWriter>(ref MemoryPackWriter<TBufferWriter> writer, ObjectRef value)
        where TBufferWriter : IBufferWriter<byte>
    {
        value.ThrowIfReleased();
        var id = value.Id;
        writer.WriteUnmanaged(id);
        writer.WritePackable(value.Owner);
        ObjectSerializer.RecordNested(id);
    }

    internal static (ObjectId Id, Address Owner) ReadRef(ref MemoryPackReader reader)
    {
        reader.ReadUnmanaged(out ObjectId id);
        var owner = reader.ReadPackable<Address>()!;
        return (id, owner);
    }
}

internal sealed class ObjectRefFormatter<T> : MemoryPackFormatter<ObjectRef<T>>
{
    public override void Serialize<TBufferWriter>(ref MemoryPackWriter<TBufferWriter> writer, scoped ref ObjectRef<T>? value)
    {
        if (value is null) { writer.WriteNullObjectHeader(); return; }
        writer.WriteObjectHeader(2);
        RuntimeFormatters.WriteRef(ref writer, value);
    }

    public override void Deserialize(ref MemoryPackReader reader, scoped ref ObjectRef<T>? value)
    {
        if (!reader.TryReadObjectHeader(out _)) { value = null; return; }
        var (id, owner) = RuntimeFormatters.ReadRef(ref reader);
        value = ObjectSerializer.DeserializingWorker.BorrowRef<T>(id, owner);
    }
}

internal sealed class UntypedObjectRefFormatter : MemoryPackFormatter<ObjectRef>
{
    public override void Serialize<TBufferWriter>(ref MemoryPackWriter<TBufferWriter> writer, scoped ref ObjectRef? value)
    {
        if (value is null) { writer.WriteNullObjectHeader(); return; }
        writer.WriteObjectHeader(2);
        RuntimeFormatters.WriteRef(ref writer, value);
    }

    public override void Deserialize(ref MemoryPackReader reader, scoped ref ObjectRef? value)
    {
        if (!reader.TryReadObjectHeader(out _)) { value = null; return; }
        var (id, owner) = RuntimeFormatters.ReadRef(ref reader);
        value = ObjectSerializer.DeserializingWorker.BorrowUntypedRef(id, owner);
    }
}

internal sealed class ActorHandleFormatter<T> : MemoryPackFormatter<ActorHandle<T>>
{
    public override void Serialize<TBufferWriter>(ref MemoryPackWriter<TBufferWriter> writer, scoped ref ActorHandle<T>? value)
    {
        if (value is null) { writer.WriteNullObjectHeader(); return; }
        writer.WriteObjectHeader(3);
        writer.WriteUnmanaged(value.Id);
        writer.WriteString(value.Name);
        writer.WritePackable(value.Owner);
        ObjectSerializer.RecordNested(ActorManager.HandleObjectId(value.Id));
    }

    public override void Deserialize(ref MemoryPackReader reader, scoped ref ActorHandle<T>? value)
    {
        if (!reader.TryReadObjectHeader(out _)) { value = null; return; }
        reader.ReadUnmanaged(out ActorId id);
        string? name = reader.ReadString();
        var owner = reader.ReadPackable<Address>();
        value = new ActorHandle<T>(id, name, ObjectSerializer.DeserializingWorker, owner);
    }
}

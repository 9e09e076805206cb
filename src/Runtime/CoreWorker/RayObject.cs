namespace RaySharp.Core;

/// <summary>
/// An object's stored form: MemoryPack bytes of the value, or an error that every reader raises, or — for a large
/// object — the marker that its bytes are in the shared-memory store of <see cref="StoreNode"/> (Ray's "in plasma"),
/// plus the IDs of refs nested inside the value (they stay alive while this object does).
/// </summary>
internal sealed class RayObject
{
    private RayObject(byte[]? data, RayErrorInfo? error, ObjectId[] nestedIds, NodeId storeNode = default, long storeSize = 0)
    {
        Data = data;
        Error = error;
        NestedIds = nestedIds;
        StoreNode = storeNode;
        StoreSize = storeSize;
    }

    /// <summary>The value's bytes, when it is held inline (null for errors and in-store objects).</summary>
    public byte[]? Data { get; }
    public RayErrorInfo? Error { get; }
    public ObjectId[] NestedIds { get; }

    /// <summary>The node whose object store holds the primary copy (nil for inline objects).</summary>
    public NodeId StoreNode { get; }

    /// <summary>The size of the in-store copy.</summary>
    public long StoreSize { get; }

    public bool IsError => Error is not null;
    public bool IsInStore => !StoreNode.IsNil;
    public long Size => IsInStore ? StoreSize : Data?.Length ?? 0;

    public static RayObject FromValue(SerializedObject value) => new(value.Data, null, value.NestedIds);

    public static RayObject FromError(RayErrorInfo error) => new(null, error, []);

    /// <summary>A large object written to the store of <paramref name="node"/>.</summary>
    public static RayObject InStore(NodeId node, long size, ObjectId[] nestedIds) => new(null, null, nestedIds, node, size);

    /// <summary>The value of a call that returns nothing.</summary>
    public static RayObject Void { get; } = new([], null, []);

    public void ThrowIfError()
    {
        if (Error is { } e) throw e.ToException();
    }

    /// <summary>The value of an inline object (in-store objects are read through <see cref="CoreWorker.ReadValue{T}"/>).</summary>
    public T GetValue<T>(CoreWorker worker)
    {
        ThrowIfError();
        if (IsInStore) throw new InvalidOperationException("An object in the shared-memory store is read through its mapping.");
        return ObjectSerializer.Deserialize<T>(Data!, worker);
    }
}

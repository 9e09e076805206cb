namespace RaySharp.Core;

/// <summary>
/// An object's stored form: MemoryPack bytes of the value, or an error that every reader raises, plus the IDs
/// of refs nested inside the value (they stay alive while this object does).
/// </summary>
internal sealed class RayObject
{
    private RayObject(byte[]? data, RayErrorInfo? error, ObjectId[] nestedIds)
    {
        Data = data;
        Error = error;
        NestedIds = nestedIds;
    }

    public byte[]? Data { get; }
    public RayErrorInfo? Error { get; }
    public ObjectId[] NestedIds { get; }
    public bool IsError => Error is not null;
    public long Size => Data?.Length ?? 0;

    public static RayObject FromValue(SerializedObject value) => new(value.Data, null, value.NestedIds);

    public static RayObject FromError(RayErrorInfo error) => new(null, error, []);

    /// <summary>The value of a call that returns nothing.</summary>
    public static RayObject Void { get; } = new([], null, []);

    public void ThrowIfError()
    {
        if (Error is { } e) throw e.ToException();
    }

    public T GetValue<T>(CoreWorker worker)
    {
        ThrowIfError();
        return ObjectSerializer.Deserialize<T>(Data!, worker);
    }
}

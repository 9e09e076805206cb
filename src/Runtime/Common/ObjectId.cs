using System.Runtime.InteropServices;

namespace RaySharp;

/// <summary>Identifies an object: the creating <see cref="RaySharp.TaskId"/> and a 4-byte return or put index.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct ObjectId : IEquatable<ObjectId>, ISpanFormattable
{
    /// <summary>Size of the binary form in bytes.</summary>
    public const int Size = 28;
    private readonly TaskId _taskId;
    private readonly uint _index;

    private ObjectId(TaskId taskId, uint index)
    {
        _taskId = taskId;
        _index = index;
    }

    private const uint PutFlag = 0x8000_0000;

    /// <summary>The task that created the object (by returning it, or by calling Put while it ran).</summary>
    public TaskId TaskId => _taskId;

    /// <summary>True for objects created by <c>Ray.Put</c>, false for task returns.</summary>
    public bool IsPut => (_index & PutFlag) != 0;

    /// <summary>The return index (1-based) or put index of the object within its task.</summary>
    public int Index => (int)(_index & ~PutFlag);

    /// <summary>The nil ID (all zero bytes).</summary>
    public static ObjectId Nil => default;

    /// <summary>True for the nil ID.</summary>
    public bool IsNil => IdFormat.IsNil(in this);

    /// <summary>Reads an ID from its 28-byte binary form.</summary>
    public static ObjectId FromBinary(ReadOnlySpan<byte> bytes) => IdFormat.FromBinary<ObjectId>(bytes, nameof(ObjectId));

    /// <summary>The 28-byte binary form.</summary>
    public byte[] ToByteArray() => IdFormat.Bytes(in this).ToArray();

    /// <summary>Parses the lowercase or uppercase hex form produced by <see cref="ToString()"/>.</summary>
    /// <exception cref="FormatException">The text is not 56 hex characters.</exception>
    public static ObjectId Parse(string hex) => IdFormat.Parse<ObjectId>(hex, nameof(ObjectId));

    /// <summary>Parses the hex form; false when the text is not a valid ID.</summary>
    public static bool TryParse(string? hex, out ObjectId id)
    {
        id = default;
        return hex is not null && IdFormat.TryParse(hex.AsSpan(), out id);
    }

    /// <summary>Lowercase hex of the binary form.</summary>
    public override string ToString() => IdFormat.ToHex(in this);

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        var bytes = IdFormat.Bytes(in this);
        charsWritten = 0;
        if (destination.Length < bytes.Length * 2) return false;
        bool ok = Convert.TryToHexStringLower(bytes, destination, out charsWritten);
        return ok;
    }

    /// <inheritdoc/>
    public bool Equals(ObjectId other) => IdFormat.Bytes(in this).SequenceEqual(IdFormat.Bytes(in other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ObjectId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IdFormat.Hash(in this);

    /// <summary>Equality of the binary forms.</summary>
    public static bool operator ==(ObjectId left, ObjectId right) => left.Equals(right);

    /// <summary>Inequality of the binary forms.</summary>
    public static bool operator !=(ObjectId left, ObjectId right) => !left.Equals(right);

    /// <summary>The ID of return value <paramref name="returnIndex"/> (1-based) of a task.</summary>
    public static ObjectId ForReturn(TaskId taskId, int returnIndex) => new(taskId, checked((uint)returnIndex));

    /// <summary>The ID of the <paramref name="putIndex"/>-th object put while a task ran (1-based).</summary>
    public static ObjectId ForPut(TaskId taskId, int putIndex) => new(taskId, checked((uint)putIndex) | PutFlag);
}

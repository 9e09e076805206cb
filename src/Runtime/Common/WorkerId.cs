using System.Runtime.InteropServices;

namespace RaySharp;

/// <summary>Identifies a worker process or driver: 28 random bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct WorkerId : IEquatable<WorkerId>, ISpanFormattable
{
    /// <summary>Size of the binary form in bytes.</summary>
    public const int Size = 28;
    private readonly ulong _a, _b, _c;
    private readonly uint _d;

    /// <summary>The nil ID (all zero bytes).</summary>
    public static WorkerId Nil => default;

    /// <summary>True for the nil ID.</summary>
    public bool IsNil => IdFormat.IsNil(in this);

    /// <summary>Reads an ID from its 28-byte binary form.</summary>
    public static WorkerId FromBinary(ReadOnlySpan<byte> bytes) => IdFormat.FromBinary<WorkerId>(bytes, nameof(WorkerId));

    /// <summary>The 28-byte binary form.</summary>
    public byte[] ToByteArray() => IdFormat.Bytes(in this).ToArray();

    /// <summary>Parses the lowercase or uppercase hex form produced by <see cref="ToString()"/>.</summary>
    /// <exception cref="FormatException">The text is not 56 hex characters.</exception>
    public static WorkerId Parse(string hex) => IdFormat.Parse<WorkerId>(hex, nameof(WorkerId));

    /// <summary>Parses the hex form; false when the text is not a valid ID.</summary>
    public static bool TryParse(string? hex, out WorkerId id)
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
    public bool Equals(WorkerId other) => IdFormat.Bytes(in this).SequenceEqual(IdFormat.Bytes(in other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is WorkerId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IdFormat.Hash(in this);

    /// <summary>Equality of the binary forms.</summary>
    public static bool operator ==(WorkerId left, WorkerId right) => left.Equals(right);

    /// <summary>Inequality of the binary forms.</summary>
    public static bool operator !=(WorkerId left, WorkerId right) => !left.Equals(right);

    /// <summary>A fresh random worker ID.</summary>
    public static WorkerId FromRandom() => IdFormat.Random<WorkerId>();
}

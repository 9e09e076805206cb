using System.Runtime.InteropServices;

namespace RaySharp;

/// <summary>Identifies a job: the driver and everything it submits (4 bytes, as in Ray).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct JobId : IEquatable<JobId>, ISpanFormattable
{
    /// <summary>Size of the binary form in bytes.</summary>
    public const int Size = 4;
    private readonly uint _value;

    /// <summary>Creates a job ID from its number (jobs are numbered by the GCS from 1).</summary>
    public JobId(uint value) => _value = value;

    /// <summary>The job number.</summary>
    public uint Value => _value;

    /// <summary>The nil ID (all zero bytes).</summary>
    public static JobId Nil => default;

    /// <summary>True for the nil ID.</summary>
    public bool IsNil => IdFormat.IsNil(in this);

    /// <summary>Reads an ID from its 4-byte binary form.</summary>
    public static JobId FromBinary(ReadOnlySpan<byte> bytes) => IdFormat.FromBinary<JobId>(bytes, nameof(JobId));

    /// <summary>The 4-byte binary form.</summary>
    public byte[] ToByteArray() => IdFormat.Bytes(in this).ToArray();

    /// <summary>Parses the lowercase or uppercase hex form produced by <see cref="ToString()"/>.</summary>
    /// <exception cref="FormatException">The text is not 8 hex characters.</exception>
    public static JobId Parse(string hex) => IdFormat.Parse<JobId>(hex, nameof(JobId));

    /// <summary>Parses the hex form; false when the text is not a valid ID.</summary>
    public static bool TryParse(string? hex, out JobId id)
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
    public bool Equals(JobId other) => IdFormat.Bytes(in this).SequenceEqual(IdFormat.Bytes(in other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is JobId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IdFormat.Hash(in this);

    /// <summary>Equality of the binary forms.</summary>
    public static bool operator ==(JobId left, JobId right) => left.Equals(right);

    /// <summary>Inequality of the binary forms.</summary>
    public static bool operator !=(JobId left, JobId right) => !left.Equals(right);

}

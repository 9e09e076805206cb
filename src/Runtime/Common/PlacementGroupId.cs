using System.Runtime.InteropServices;

namespace RaySharp;

/// <summary>Identifies a placement group: 14 unique bytes followed by the creating job's <see cref="RaySharp.JobId"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct PlacementGroupId : IEquatable<PlacementGroupId>, ISpanFormattable
{
    /// <summary>Size of the binary form in bytes.</summary>
    public const int Size = 18;
    private readonly ulong _unique0;
    private readonly uint _unique1;
    private readonly ushort _unique2;
    private readonly JobId _jobId;

    private PlacementGroupId(ulong unique0, uint unique1, ushort unique2, JobId jobId)
    {
        _unique0 = unique0;
        _unique1 = unique1;
        _unique2 = unique2;
        _jobId = jobId;
    }

    /// <summary>The job that created the placement group.</summary>
    public JobId JobId => _jobId;

    /// <summary>The nil ID (all zero bytes).</summary>
    public static PlacementGroupId Nil => default;

    /// <summary>True for the nil ID.</summary>
    public bool IsNil => IdFormat.IsNil(in this);

    /// <summary>Reads an ID from its 18-byte binary form.</summary>
    public static PlacementGroupId FromBinary(ReadOnlySpan<byte> bytes) => IdFormat.FromBinary<PlacementGroupId>(bytes, nameof(PlacementGroupId));

    /// <summary>The 18-byte binary form.</summary>
    public byte[] ToByteArray() => IdFormat.Bytes(in this).ToArray();

    /// <summary>Parses the lowercase or uppercase hex form produced by <see cref="ToString()"/>.</summary>
    /// <exception cref="FormatException">The text is not 36 hex characters.</exception>
    public static PlacementGroupId Parse(string hex) => IdFormat.Parse<PlacementGroupId>(hex, nameof(PlacementGroupId));

    /// <summary>Parses the hex form; false when the text is not a valid ID.</summary>
    public static bool TryParse(string? hex, out PlacementGroupId id)
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
    public bool Equals(PlacementGroupId other) => IdFormat.Bytes(in this).SequenceEqual(IdFormat.Bytes(in other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PlacementGroupId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IdFormat.Hash(in this);

    /// <summary>Equality of the binary forms.</summary>
    public static bool operator ==(PlacementGroupId left, PlacementGroupId right) => left.Equals(right);

    /// <summary>Inequality of the binary forms.</summary>
    public static bool operator !=(PlacementGroupId left, PlacementGroupId right) => !left.Equals(right);

    /// <summary>A fresh placement group ID for <paramref name="jobId"/>.</summary>
    public static PlacementGroupId Of(JobId jobId)
    {
        var random = IdFormat.Random<PlacementGroupId>();
        return new PlacementGroupId(random._unique0, random._unique1, random._unique2, jobId);
    }
}

using System.Runtime.InteropServices;

namespace RaySharp;

/// <summary>Identifies an actor: 12 unique bytes followed by the creating job's <see cref="RaySharp.JobId"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct ActorId : IEquatable<ActorId>, ISpanFormattable
{
    /// <summary>Size of the binary form in bytes.</summary>
    public const int Size = 16;
    private readonly ulong _unique0;
    private readonly uint _unique1;
    private readonly JobId _jobId;

    private ActorId(ulong unique0, uint unique1, JobId jobId)
    {
        _unique0 = unique0;
        _unique1 = unique1;
        _jobId = jobId;
    }

    /// <summary>The job that created the actor.</summary>
    public JobId JobId => _jobId;

    /// <summary>The nil ID (all zero bytes).</summary>
    public static ActorId Nil => default;

    /// <summary>True for the nil ID.</summary>
    public bool IsNil => IdFormat.IsNil(in this);

    /// <summary>Reads an ID from its 16-byte binary form.</summary>
    public static ActorId FromBinary(ReadOnlySpan<byte> bytes) => IdFormat.FromBinary<ActorId>(bytes, nameof(ActorId));

    /// <summary>The 16-byte binary form.</summary>
    public byte[] ToByteArray() => IdFormat.Bytes(in this).ToArray();

    /// <summary>Parses the lowercase or uppercase hex form produced by <see cref="ToString()"/>.</summary>
    /// <exception cref="FormatException">The text is not 32 hex characters.</exception>
    public static ActorId Parse(string hex) => IdFormat.Parse<ActorId>(hex, nameof(ActorId));

    /// <summary>Parses the hex form; false when the text is not a valid ID.</summary>
    public static bool TryParse(string? hex, out ActorId id)
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
    public bool Equals(ActorId other) => IdFormat.Bytes(in this).SequenceEqual(IdFormat.Bytes(in other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ActorId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IdFormat.Hash(in this);

    /// <summary>Equality of the binary forms.</summary>
    public static bool operator ==(ActorId left, ActorId right) => left.Equals(right);

    /// <summary>Inequality of the binary forms.</summary>
    public static bool operator !=(ActorId left, ActorId right) => !left.Equals(right);

    /// <summary>A fresh random actor ID for <paramref name="jobId"/>.</summary>
    public static ActorId Of(JobId jobId)
    {
        var random = IdFormat.Random<ActorId>();
        return new ActorId(random._unique0, random._unique1, jobId);
    }

    /// <summary>The nil actor of a job: the actor part of a normal (non-actor) task ID.</summary>
    public static ActorId NilOf(JobId jobId) => new(0, 0, jobId);
}

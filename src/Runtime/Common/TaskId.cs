using System.Runtime.InteropServices;

namespace RaySharp;

/// <summary>Identifies a task: 8 unique bytes followed by the <see cref="RaySharp.ActorId"/> it runs on (nil for normal tasks).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct TaskId : IEquatable<TaskId>, ISpanFormattable
{
    /// <summary>Size of the binary form in bytes.</summary>
    public const int Size = 24;
    private readonly ulong _unique;
    private readonly ActorId _actorId;

    private TaskId(ulong unique, ActorId actorId)
    {
        _unique = unique;
        _actorId = actorId;
    }

    internal ulong Unique => _unique;

    /// <summary>The actor the task runs on, or the nil actor of its job for normal tasks.</summary>
    public ActorId ActorId => _actorId;

    /// <summary>The job the task belongs to.</summary>
    public JobId JobId => _actorId.JobId;

    /// <summary>The nil ID (all zero bytes).</summary>
    public static TaskId Nil => default;

    /// <summary>True for the nil ID.</summary>
    public bool IsNil => IdFormat.IsNil(in this);

    /// <summary>Reads an ID from its 24-byte binary form.</summary>
    public static TaskId FromBinary(ReadOnlySpan<byte> bytes) => IdFormat.FromBinary<TaskId>(bytes, nameof(TaskId));

    /// <summary>The 24-byte binary form.</summary>
    public byte[] ToByteArray() => IdFormat.Bytes(in this).ToArray();

    /// <summary>Parses the lowercase or uppercase hex form produced by <see cref="ToString()"/>.</summary>
    /// <exception cref="FormatException">The text is not 48 hex characters.</exception>
    public static TaskId Parse(string hex) => IdFormat.Parse<TaskId>(hex, nameof(TaskId));

    /// <summary>Parses the hex form; false when the text is not a valid ID.</summary>
    public static bool TryParse(string? hex, out TaskId id)
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
    public bool Equals(TaskId other) => IdFormat.Bytes(in this).SequenceEqual(IdFormat.Bytes(in other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TaskId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IdFormat.Hash(in this);

    /// <summary>Equality of the binary forms.</summary>
    public static bool operator ==(TaskId left, TaskId right) => left.Equals(right);

    /// <summary>Inequality of the binary forms.</summary>
    public static bool operator !=(TaskId left, TaskId right) => !left.Equals(right);

    /// <summary>A fresh ID for a normal task of <paramref name="jobId"/>.</summary>
    public static TaskId ForNormalTask(JobId jobId) => new(NextUnique(), ActorId.NilOf(jobId));

    /// <summary>A fresh ID for a task on <paramref name="actorId"/> (including its creation task).</summary>
    public static TaskId ForActorTask(ActorId actorId) => new(NextUnique(), actorId);

    /// <summary>The creation task of <paramref name="actorId"/>: deterministic (zero unique bytes), so any worker
    /// can name the actor's handle object.</summary>
    public static TaskId ForActorCreation(ActorId actorId) => new(0, actorId);

    /// <summary>True for the creation task of an actor.</summary>
    internal bool IsActorCreation => _unique == 0 && !_actorId.IsNil && _actorId != ActorId.NilOf(_actorId.JobId);

    /// <summary>The pseudo-task of a driver, which owns the objects the driver puts.</summary>
    public static TaskId ForDriver(JobId jobId) => new(NextUnique(), ActorId.NilOf(jobId));

    // A random start per process, then a counter through a bijective mix (SplitMix64's finalizer): unique within the
    // process by construction, and as unlikely to meet another process's IDs as random bytes are, without asking the
    // OS for random bytes on every submit.
    private static readonly ulong s_uniqueBase = IdFormat.Random<ulong>();
    private static ulong s_uniqueCounter;

    private static ulong NextUnique()
    {
        ulong u;
        do { u = Mix(s_uniqueBase + Interlocked.Increment(ref s_uniqueCounter)); } while (u == 0);
        return u;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }
}

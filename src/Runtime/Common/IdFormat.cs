using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace RaySharp;

/// <summary>Binary and hex forms shared by every ID struct: an ID is its own bytes, nothing more.</summary>
internal static class IdFormat
{
    public static ReadOnlySpan<byte> Bytes<T>(in T id) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in id));

    public static string ToHex<T>(in T id) where T : unmanaged => Convert.ToHexStringLower(Bytes(in id));

    public static bool IsNil<T>(in T id) where T : unmanaged => !Bytes(in id).ContainsAnyExcept((byte)0);

    // Per process, as HashCode's seed: a peer that chooses IDs cannot aim them at one bucket, and nothing can come
    // to rely on a hash value outliving the process.
    private static readonly ulong HashSeed = Random<ulong>();

    /// <summary>A hash of every byte of the ID. The head alone is not enough: the objects of one task share its
    /// task ID and differ only in the index at the end, and an actor's creation task has no unique bytes at all,
    /// so a hash of the first bytes put all of them in one dictionary bucket.</summary>
    public static int Hash<T>(in T id) where T : unmanaged
    {
        // No System.IO.Hashing in the shared framework, and IDs are at most 28 bytes: fold them 8 bytes at a time
        // (FxHash's rotate-xor-multiply), then mix once (MurmurHash3's finalizer) so every input bit reaches the
        // low 32 bits that dictionaries use. The size is a constant per ID type, so the JIT unrolls all of it.
        const ulong K = 0x517C_C1B7_2722_0A95;
        var bytes = Bytes(in id);
        ulong h = HashSeed;
        int i = 0;
        for (; i + 8 <= bytes.Length; i += 8) h = (BitOperations.RotateLeft(h, 5) ^ MemoryMarshal.Read<ulong>(bytes[i..])) * K;
        if (i + 4 <= bytes.Length)
        {
            h = (BitOperations.RotateLeft(h, 5) ^ MemoryMarshal.Read<uint>(bytes[i..])) * K;
            i += 4;
        }
        if (i + 2 <= bytes.Length)
        {
            h = (BitOperations.RotateLeft(h, 5) ^ MemoryMarshal.Read<ushort>(bytes[i..])) * K;
            i += 2;
        }
        if (i < bytes.Length) h = (BitOperations.RotateLeft(h, 5) ^ bytes[i]) * K;
        h ^= h >> 33;
        h *= 0xFF51_AFD7_ED55_8CCD;
        h ^= h >> 33;
        h *= 0xC4CE_B9FE_1A85_EC53;
        h ^= h >> 33;
        return (int)h;
    }

    public static T Random<T>() where T : unmanaged
    {
        T value = default;
        RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(new Span<T>(ref value)));
        return value;
    }

    public static T FromBinary<T>(ReadOnlySpan<byte> bytes, string typeName) where T : unmanaged
    {
        if (bytes.Length != Unsafe.SizeOf<T>())
            throw new ArgumentException($"A {typeName} is {Unsafe.SizeOf<T>()} bytes, not {bytes.Length}.", nameof(bytes));
        return MemoryMarshal.Read<T>(bytes);
    }

    public static bool TryParse<T>(ReadOnlySpan<char> hex, out T id) where T : unmanaged
    {
        id = default;
        int size = Unsafe.SizeOf<T>();
        if (hex.Length != size * 2) return false;
        Span<byte> buffer = stackalloc byte[size];
        if (Convert.FromHexString(hex, buffer, out _, out int written) != System.Buffers.OperationStatus.Done || written != size)
            return false;
        id = MemoryMarshal.Read<T>(buffer);
        return true;
    }

    public static T Parse<T>(string hex, string typeName) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(hex);
        if (TryParse(hex.AsSpan(), out T id)) return id;
        throw new FormatException(
            $"'{hex}' is not a {typeName}: expected {Unsafe.SizeOf<T>() * 2} hexadecimal characters.");
    }
}

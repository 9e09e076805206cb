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

    public static int Hash<T>(in T id) where T : unmanaged
    {
        var bytes = Bytes(in id);
        // IDs start with random bytes, so their head is a good hash on its own.
        return bytes.Length >= 8 ? MemoryMarshal.Read<long>(bytes).GetHashCode() : MemoryMarshal.Read<int>(bytes);
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

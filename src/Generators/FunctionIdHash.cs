namespace RaySharp.Generators;

/// <summary>
/// The function-ID hash, computed at generation time. Must stay identical to
/// <c>RaySharp.Internal.FunctionIds.Compute</c> in the runtime (a test checks that it is).
/// </summary>
internal static class FunctionIdHash
{
    /// <summary>FNV-1a 64 over the UTF-16 code units of <paramref name="signature"/>, low byte then high byte.</summary>
    public static ulong Compute(string signature)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in signature)
        {
            hash = (hash ^ (byte)c) * 1099511628211UL;
            hash = (hash ^ (byte)(c >> 8)) * 1099511628211UL;
        }
        return hash;
    }
}

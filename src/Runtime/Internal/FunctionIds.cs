using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>How function IDs are computed. The generator computes the same value at compile time.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FunctionIds
{
    /// <summary>FNV-1a 64-bit hash of the UTF-16 code units of <paramref name="signature"/>, each as two bytes, low byte first.</summary>
    public static ulong Compute(string signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        ulong hash = 14695981039346656037UL;
        foreach (char c in signature)
        {
            hash = (hash ^ (byte)c) * 1099511628211UL;
            hash = (hash ^ (byte)(c >> 8)) * 1099511628211UL;
        }
        return hash;
    }
}

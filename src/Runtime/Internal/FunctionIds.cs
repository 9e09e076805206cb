using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>How function IDs are computed. The generator computes the same value at compile time, from the same
/// source file (src/Common/FunctionIdHash.cs).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FunctionIds
{
    /// <summary>FNV-1a 64-bit hash of the UTF-16 code units of <paramref name="signature"/>, each as two bytes, low byte first.</summary>
    public static ulong Compute(string signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        return FunctionIdHash.Compute(signature);
    }
}

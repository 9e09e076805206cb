namespace RaySharp.Internal;

/// <summary>
/// The function-ID hash: the one definition, compiled into the generator (IDs computed at compile time), the
/// analyzers (RAY006, IDs that collide) and the runtime (<c>RaySharp.Internal.FunctionIds.Compute</c>). The
/// generator and analyzers target netstandard2.0 and cannot reference the runtime, so each project links this
/// file; being internal, each copy is visible only inside its own assembly.
/// </summary>
internal static class FunctionIdHash
{
    /// <summary>FNV-1a 64 over the UTF-16 code units of <paramref name="signature"/>, low byte then high byte.</summary>
    public static ulong Compute(string signature)
    {
        // The multiplications are meant to wrap, also in a project that turns on overflow checking.
        unchecked
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
}

namespace RaySharp.Core;

/// <summary>A raylet did not answer a lease request: its node died or cannot be reached. The message says which raylet
/// and why, in words (the transport's own text stays in <see cref="Exception.InnerException"/>). Like a rejected
/// lease, the work is still schedulable, so the submitter asks again.</summary>
internal sealed class RayletUnreachableException(string message, Exception inner) : Exception(message, inner)
{
    /// <summary>The node whose raylet did not answer, when another raylet had sent the request there (a spillback): that
    /// node is dying or gone, and the raylets will stop choosing it once the GCS declares it dead.</summary>
    public NodeId? SpillbackNode { get; init; }
}

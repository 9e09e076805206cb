namespace RaySharp.Core;

/// <summary>A raylet did not answer a lease request: its node died or cannot be reached. The message says which raylet
/// and why, in words (the transport's own text stays in <see cref="Exception.InnerException"/>). Like a rejected
/// lease, the work is still schedulable, so the submitter asks again.</summary>
internal sealed class RayletUnreachableException(string message, Exception inner) : Exception(message, inner)
{
    /// <summary>The node whose raylet did not answer, when it was not the submitter's own: another raylet had sent the
    /// request there (a spillback), or the submitter chose it for its arguments (locality). That node is dying or gone,
    /// and nobody chooses it any more once the GCS declares it dead.</summary>
    public NodeId? RemoteNode { get; init; }
}

namespace RaySharp.Tests;

/// <summary>The runtime suite runs twice: in local mode (this project) and on the embedded cluster with worker
/// processes (RaySharp.Runtime.Cluster.Tests compiles the same files with RAYSHARP_CLUSTER_TESTS).</summary>
internal static class TestMode
{
#if RAYSHARP_CLUSTER_TESTS
    public const bool Local = false;
#else
    public const bool Local = true;
#endif
}

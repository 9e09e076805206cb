namespace RaySharp.Benchmarks.OrleansSilo;

/// <summary>The Orleans identity the silo and the benchmark's client share. Each silo listens on ports of its own, so
/// two benchmarks running at once never meet even with the same identity.</summary>
public static class BenchCluster
{
    /// <summary>Orleans' service ID.</summary>
    public const string ServiceId = "raysharp-bench";
    /// <summary>Orleans' cluster ID.</summary>
    public const string ClusterId = "raysharp-bench";
}

namespace RaySharp.Benchmarks;

/// <summary>Whether <see cref="Microbenchmarks.RunAsync"/> measures the Orleans peer (<see cref="MicrobenchmarkOptions.Orleans"/>).</summary>
public enum OrleansPeerRows
{
    /// <summary>After the RaySharp workloads, the Orleans rows whose name or RaySharp counterpart the filter selects.</summary>
    Included,

    /// <summary>Only the comparison: the Orleans rows and the RaySharp workloads they mirror.</summary>
    Only,

    /// <summary>No Orleans rows; no silo is started.</summary>
    Off,
}

namespace RaySharp.Benchmarks;

/// <summary>Whether a run includes the scale rows.</summary>
public enum ScaleRows
{
    /// <summary>After the workloads (the default).</summary>
    Included,

    /// <summary>Only the scale rows (and the baselines every ratio needs).</summary>
    Only,

    /// <summary>No scale rows.</summary>
    Off,
}

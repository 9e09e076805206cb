namespace RaySharp.Benchmarks.OrleansSilo;

/// <summary>The server grain, Orleans' counterpart of RaySharp's <c>BenchActor</c>: one method that returns two bytes.</summary>
public interface IBenchGrain : IGrainWithIntegerKey
{
    /// <summary>Returns <c>"ok"</c>, as <c>BenchActor.SmallValue</c> does.</summary>
    Task<byte[]> SmallValue();
}

/// <summary>A grain that calls other grains, the counterpart of RaySharp's <c>BenchClient</c> actor ("1:n").</summary>
public interface IBenchClientGrain : IGrainWithIntegerKey
{
    /// <summary>Sets the server grains <see cref="SmallValueBatch"/> calls, as <c>BenchClient</c>'s constructor does.</summary>
    Task SetServers(IBenchGrain[] servers);

    /// <summary><paramref name="n"/> calls to each server, all started before any is awaited; returns how many.</summary>
    Task<int> SmallValueBatch(int n);
}

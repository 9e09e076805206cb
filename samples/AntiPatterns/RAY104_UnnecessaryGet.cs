using RaySharp;

namespace AntiPatterns;

/// <summary>RAY104: a value fetched only to be passed to another remote call (Ray: "Calling ray.get unnecessarily").</summary>
public static partial class UnnecessaryGetTasks
{
    [RayRemote]
    public static int[] Generate(int size) => new int[size];

    [RayRemote]
    public static int Count(int[] data) => data.Length;
}

public static class UnnecessaryGet
{
    // Bad: the array is copied to the driver, then back to the worker that runs Count.
    public static int Bad()
    {
        var data = UnnecessaryGetTasks.Remote.Generate(1_000_000).Get();
        return UnnecessaryGetTasks.Remote.Count(data).Get();
    }

    // Fixed: pass the ref; Count's worker fetches the array directly.
    public static int Fixed()
    {
        var data = UnnecessaryGetTasks.Remote.Generate(1_000_000);
        return UnnecessaryGetTasks.Remote.Count(data).Get();
    }
}

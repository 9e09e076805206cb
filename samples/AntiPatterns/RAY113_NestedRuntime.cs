using RaySharp;

namespace AntiPatterns;

/// <summary>RAY113: remote code starting a second runtime or a process Ray does not know about.</summary>
public static partial class Ray113NestedRuntime
{
    [RayRemote]
    public static int Double(int x) => 2 * x;

    /// <summary>Tries to join a cluster from inside one.</summary>
    [RayRemote]
    public static int Bad(int x)
    {
        using var ray = Ray.Init();                           // RAY113
        return x;
    }

    /// <summary>Submits the work as a task: the worker is already connected.</summary>
    [RayRemote]
    public static int Fixed(int x) => Remote.Double(x).Get() + 1;
}

using RaySharp;

namespace AntiPatterns;

/// <summary>RAY102: a remote method that takes refs only to get them all (Ray: "Calling ray.get on task arguments").</summary>
public static partial class GetArguments
{
    // Bad: the task starts, takes a worker, and then blocks until every part is ready.
    [RayRemote]
    public static int Bad(ObjectRef<int>[] parts) => Ray.Get(parts).Sum();

    // Fixed: take values. Refs passed as top-level arguments are resolved before the task runs.
    [RayRemote]
    public static int Fixed(int a, int b, int c) => a + b + c;

    [RayRemote]
    public static int Part(int i) => i;

    public static int Run()
    {
        var (a, b, c) = (Remote.Part(1), Remote.Part(2), Remote.Part(3));
        return Remote.Fixed(a, b, c).Get() + Remote.Bad(new[] { a, b, c }).Get();
    }
}

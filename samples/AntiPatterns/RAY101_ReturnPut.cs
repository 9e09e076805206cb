using RaySharp;

namespace AntiPatterns;

/// <summary>RAY101: a remote method that returns an ObjectRef from Ray.Put (Ray: "Returning ray.put() ObjectRefs from a task").</summary>
public static partial class ReturnPut
{
    // Bad: the worker puts the array and returns the ref. The worker owns the object (it is lost with the
    // worker), and the caller gets a ref to a ref: two gets to reach the data.
    [RayRemote]
    public static ObjectRef<int[]> Bad(int size) => Ray.Put(new int[size]);

    // Fixed: return the value; RaySharp stores it and the caller's ref points straight at it.
    [RayRemote]
    public static int[] Fixed(int size) => new int[size];
}

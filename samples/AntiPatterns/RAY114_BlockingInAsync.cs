using RaySharp;

namespace AntiPatterns;

/// <summary>RAY114: blocking on refs inside async code holds a thread for the whole wait.</summary>
public static partial class Ray114BlockingInAsync
{
    [RayRemote]
    public static int Square(int x) => x * x;

    /// <summary>Blocks a thread-pool thread until every result is in.</summary>
    public static async Task<int> Bad(List<ObjectRef<int>> squares)
    {
        await Task.Yield();
        return Ray.Get(squares).Sum();                        // RAY114
    }

    /// <summary>Frees the thread while the results come in.</summary>
    public static async Task<int> Fixed(List<ObjectRef<int>> squares)
    {
        await Task.Yield();
        return (await Ray.GetAsync(squares)).Sum();
    }
}

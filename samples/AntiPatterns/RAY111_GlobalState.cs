using RaySharp;

namespace AntiPatterns;

/// <summary>RAY111: remote code sharing state through statics, which each worker process has its own copy of.</summary>
public static class Ray111GlobalState
{
    /// <summary>Each actor process counts in its own static; the driver never sees the total.</summary>
    public static ObjectRef<int> Bad()
    {
        var counter = StaticHitCounter.Remote.Create();
        return counter.Hit();
    }

    /// <summary>The count lives in one actor; everyone calls it.</summary>
    public static ObjectRef<int> Fixed()
    {
        var counter = HitCounter.Remote.Create();
        return counter.Hit();
    }
}

[RayRemote]
public partial class StaticHitCounter
{
    private static int s_hits;

    public int Hit() => ++s_hits;                             // RAY111
}

[RayRemote]
public partial class HitCounter
{
    private int _hits;

    public int Hit() => ++_hits;
}

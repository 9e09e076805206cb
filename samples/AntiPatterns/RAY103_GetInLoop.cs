using RaySharp;

namespace AntiPatterns;

/// <summary>RAY103: a get right after each submission in a loop (Ray: "Calling ray.get in a loop").</summary>
public static partial class GetInLoopTasks
{
    [RayRemote]
    public static int Slow(int x)
    {
        Thread.Sleep(100);
        return x * x;
    }
}

public static class GetInLoop
{
    // Bad: each iteration waits for its task before submitting the next: the tasks run one at a time.
    public static int Bad(int n)
    {
        var total = 0;
        for (var i = 0; i < n; i++)
        {
            total += GetInLoopTasks.Remote.Slow(i).Get();
        }

        return total;
    }

    // Fixed (what the code fix writes): submit everything, then one Ray.Get of the list.
    public static int Fixed(int n)
    {
        var total = 0;
        var refs = new List<ObjectRef<int>>();
        for (var i = 0; i < n; i++)
        {
            refs.Add(GetInLoopTasks.Remote.Slow(i));
        }

        foreach (var value in Ray.Get(refs))
        {
            total += value;
        }

        return total;
    }
}

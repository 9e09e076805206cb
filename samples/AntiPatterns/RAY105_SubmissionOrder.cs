using RaySharp;

namespace AntiPatterns;

/// <summary>RAY105: results processed in submission order (Ray: "Processing results in submission order using ray.get").</summary>
public static partial class SubmissionOrderTasks
{
    [RayRemote]
    public static int Work(int i)
    {
        Thread.Sleep(i % 2 == 0 ? 200 : 10);
        return i;
    }
}

public static class SubmissionOrder
{
    private static void Process(int result) => Console.WriteLine($"processed {result}");

    // Bad: a slow first task holds up the processing of every result after it.
    public static void Bad(int n)
    {
        var refs = new List<ObjectRef<int>>();
        for (var i = 0; i < n; i++)
        {
            refs.Add(SubmissionOrderTasks.Remote.Work(i));
        }

        foreach (var r in refs)
        {
            Process(r.Get());
        }
    }

    // Fixed: Ray.Wait hands back whichever task finished first.
    public static void Fixed(int n)
    {
        var pending = new List<ObjectRef<int>>();
        for (var i = 0; i < n; i++)
        {
            pending.Add(SubmissionOrderTasks.Remote.Work(i));
        }

        while (pending.Count > 0)
        {
            var (ready, notReady) = Ray.Wait(pending, numReturns: 1);
            Process(Ray.Get(ready)[0]);
            pending = notReady.ToList();
        }
    }
}

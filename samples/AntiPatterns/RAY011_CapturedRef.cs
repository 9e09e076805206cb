using RaySharp;

namespace AntiPatterns;

/// <summary>RAY011: a lambda that captures a ref and outlives the call pins the object for as long as it lives.</summary>
public static partial class CapturedRefTasks
{
    [RayRemote]
    public static string Status(int job) => $"job {job}: running";
}

public static class CapturedRef
{
    // Bad: the timer's callback captures 'status', so the object stays pinned until the timer is collected.
    public static Timer Bad(int job)
    {
        var status = CapturedRefTasks.Remote.Status(job);
        return new Timer(_ => Console.WriteLine(status.Get()), null, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    // Fixed: the ref is handed to the timer as its state, and the caller disposes the ref with the timer.
    public static (Timer, ObjectRef<string>) Fixed(int job)
    {
        var status = CapturedRefTasks.Remote.Status(job);
        var timer = new Timer(state => Console.WriteLine(((ObjectRef<string>)state!).Get()), status, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        return (timer, status);
    }
}

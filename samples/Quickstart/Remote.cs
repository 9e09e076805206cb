using RaySharp;

namespace Quickstart;

public static partial class MathTasks
{
    [RayRemote]
    public static int Square(int x) => x * x;

    [RayRemote]
    public static int Add(int a, int b) => a + b;

    [RayRemote]
    public static int Divide(int a, int b) => a / b;

    /// <summary>Where a task runs: the worker process's ID.</summary>
    [RayRemote]
    public static int WhereAmI(int task)
    {
        Console.WriteLine($"task {task} running");
        return Environment.ProcessId;
    }
}

/// <summary>The Counter actor from Ray's walkthrough.</summary>
[RayRemote]
public partial class Counter
{
    private readonly string _name;
    private int _count;

    public Counter(string name) => _name = name;

    public void Increment() => _count++;

    public string Describe() => $"{_name} got {_count}";
}

using RaySharp;

namespace RaySharpApp;

/// <summary>Remote functions: the generator gives each a proxy, <c>MathTasks.Remote.Square(x)</c>, that runs it as a task.</summary>
public static partial class MathTasks
{
    [RayRemote] public static int Square(int x) => x * x;

    [RayRemote] public static int Add(int a, int b) => a + b;
}

/// <summary>An actor: <c>Counter.Remote.Create(start)</c> starts one in a worker and returns its handle.</summary>
[RayRemote]
public partial class Counter(int start)
{
    private int _count = start;

    public int Increment() => ++_count;
}

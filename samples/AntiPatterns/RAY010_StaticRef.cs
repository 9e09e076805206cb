using RaySharp;

namespace AntiPatterns;

/// <summary>RAY010: a ref or handle kept in a static is pinned for the life of the process, and workers see their own static.</summary>
public static partial class StaticRefTasks
{
    [RayRemote]
    public static int[] LoadModel(int size) => new int[size];

    [RayRemote]
    public static int Predict(int[] model, int input) => model.Length + input;
}

public static class StaticRef
{
    // Bad: the model's ref lives in a static. It is never released, and a task reading s_model on a
    // worker would find that worker's (empty) static, not this one.
    private static ObjectRef<int[]>? s_model;

    public static int Bad(int input)
    {
        var model = s_model ??= StaticRefTasks.Remote.LoadModel(1000);
        return StaticRefTasks.Remote.Predict(model, input).Get();
    }

    // Fixed: the caller owns the ref and passes it to each task as an argument; it is released when the
    // caller drops it.
    public static int Fixed(int input)
    {
        using var model = StaticRefTasks.Remote.LoadModel(1000);
        return StaticRefTasks.Remote.Predict(model, input).Get();
    }
}

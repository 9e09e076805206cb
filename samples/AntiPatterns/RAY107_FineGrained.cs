using RaySharp;

namespace AntiPatterns;

/// <summary>RAY107: a trivial remote function called once per element (Ray: "Over-parallelizing with too fine-grained tasks").</summary>
public static partial class FineGrainedTasks
{
    [RayRemote]
    public static int Double(int x) => x * 2;

    [RayRemote]
    public static int[] DoubleAll(int[] batch)
    {
        var result = new int[batch.Length];
        for (var i = 0; i < batch.Length; i++)
        {
            result[i] = batch[i] * 2;
        }

        return result;
    }
}

public static class FineGrained
{
    // Bad: one task per element; scheduling each costs far more than doubling an int.
    public static int[] Bad(int[] values)
    {
        var refs = new List<ObjectRef<int>>();
        foreach (var v in values)
        {
            refs.Add(FineGrainedTasks.Remote.Double(v));
        }

        return Ray.Get(refs);
    }

    // Fixed: one task per batch of 1000 elements.
    public static int[] Fixed(int[] values)
    {
        var refs = values.Chunk(1000).Select(batch => FineGrainedTasks.Remote.DoubleAll(batch)).ToList();
        return Ray.Get(refs).SelectMany(batch => batch).ToArray();
    }
}

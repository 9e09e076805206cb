using RaySharp;

namespace AntiPatterns;

/// <summary>RAY109: the same large array passed by value to a remote call on every iteration.</summary>
public static partial class Ray109LargeArgument
{
    [RayRemote]
    public static double Score(double[] weights, int row)
    {
        var sum = 0.0;
        for (var i = row % 7; i < weights.Length; i += 7) sum += weights[i] * row;
        return sum;
    }

    /// <summary>Serializes and stores the whole array once per row.</summary>
    public static List<ObjectRef<double>> Bad(double[] weights, int rows)
    {
        var scores = new List<ObjectRef<double>>();
        for (var row = 0; row < rows; row++)
        {
            scores.Add(Remote.Score(weights, row));           // RAY109
        }

        return scores;
    }

    /// <summary>Stores the array once; every task reads the same object.</summary>
    public static List<ObjectRef<double>> Fixed(double[] weights, int rows)
    {
        var weightsRef = Ray.Put(weights);
        var scores = new List<ObjectRef<double>>();
        for (var row = 0; row < rows; row++)
        {
            scores.Add(Remote.Score(weightsRef, row));
        }

        return scores;
    }
}

using RaySharp;

namespace AntiPatterns;

/// <summary>RAY013 (bad): memory read through an ObjectView, kept after the view is disposed.</summary>
[RayRemote]
public partial class BadScorer
{
    private readonly ReadOnlyMemory<float> _weights;

    // The runtime disposes the view when the constructor returns; the field then points into a released object.
    public BadScorer(ObjectView<float> weights) => _weights = weights.Memory;

    public double Score(ObjectView<float> input) => ViewLifetime.Dot(input.Span, _weights.Span);
}

/// <summary>RAY013 (fixed): the constructor copies what the actor keeps; calls read their input while they run.</summary>
[RayRemote]
public partial class Scorer
{
    private readonly float[] _weights;

    public Scorer(ObjectView<float> weights) => _weights = weights.Span.ToArray();

    public double Score(ObjectView<float> input) => ViewLifetime.Dot(input.Span, _weights);
}

public static class ViewLifetime
{
    // Bad: the using disposes the view before the caller reads the memory.
    public static ReadOnlyMemory<float> Bad(ObjectRef<float[]> weights)
    {
        using var view = Ray.GetView(weights);
        return view.Memory;
    }

    // Fixed: read the view inside its scope and return what was computed (or a copy, view.Span.ToArray()).
    public static double Fixed(ObjectRef<float[]> weights)
    {
        using var view = Ray.GetView(weights);
        double total = 0;
        foreach (var w in view.Span) total += w;
        return total;
    }

    public static double Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double total = 0;
        for (int i = 0; i < x.Length && i < y.Length; i++) total += x[i] * y[i];
        return total;
    }
}

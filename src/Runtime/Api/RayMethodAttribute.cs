namespace RaySharp;

/// <summary>
/// Per-method settings for an actor method (Ray's <c>@ray.method</c>): overrides the actor class's
/// <see cref="RayRemoteAttribute"/> for this method only.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class RayMethodAttribute : Attribute
{
    /// <summary>The method returns a tuple: return each element as its own object.</summary>
    public int NumReturns { get; set; }

    /// <summary>How often to retry this method when the actor dies while running it.</summary>
    public int MaxTaskRetries { get; set; }

    /// <summary>Also retry this method when user code throws.</summary>
    public bool RetryExceptions { get; set; }

    /// <summary>The remote name used for the function ID and in errors (default: the method name).</summary>
    public string? Name { get; set; }
}

namespace RaySharp.Benchmarks.OrleansSilo;

/// <summary>A normal grain (one activation, one request at a time), not a stateless worker: it is compared with an
/// actor, which also runs one call at a time.</summary>
internal sealed class BenchGrain : Grain, IBenchGrain
{
    private static readonly byte[] s_ok = "ok"u8.ToArray();

    public Task<byte[]> SmallValue() => Task.FromResult(s_ok);
}

namespace RaySharp.Benchmarks.OrleansSilo;

/// <summary>Fans out from inside the silo, as RaySharp's <c>BenchClient</c> fans out from a worker: the calls
/// come from a grain, not from the external client.</summary>
internal sealed class BenchClientGrain : Grain, IBenchClientGrain
{
    private IBenchGrain[] _servers = [];

    public Task SetServers(IBenchGrain[] servers)
    {
        _servers = servers;
        return Task.CompletedTask;
    }

    public async Task<int> SmallValueBatch(int n)
    {
        var calls = new List<Task<byte[]>>(n * _servers.Length);
        foreach (var server in _servers)
            for (int i = 0; i < n; i++) calls.Add(server.SmallValue());
        await Task.WhenAll(calls);
        return calls.Count;
    }
}

using RaySharp.Benchmarks.OrleansSilo;

namespace RaySharp.Benchmarks;

/// <summary>A workload of the Orleans peer: the RaySharp workload it mirrors, and how to set it up on a connected client.</summary>
internal sealed record OrleansWorkload(string Name, string Counterpart, int OpsPerCall, Func<IClusterClient, Task<Func<ValueTask>>> Prepare);

/// <summary>
/// The Orleans peer's rows: the RaySharp actor workloads with a grain in place of each actor, the same two-byte
/// result, the same batch sizes and the same number of servers. A normal grain (not a stateless worker), as an
/// actor, runs one call at a time. "sync" awaits each call before the next: Orleans has no blocking call.
/// </summary>
internal static class OrleansWorkloads
{
    public static IReadOnlyList<OrleansWorkload> All { get; } = Create(Workloads.Servers);

    // Every workload has grains of its own (fresh activations), as every RaySharp workload creates its actors.
    private static IReadOnlyList<OrleansWorkload> Create(int servers) =>
    [
        new("Orleans 1:1 grain calls sync", "1:1 actor calls sync", 1, client =>
        {
            var grain = client.GetGrain<IBenchGrain>(1);
            return Task.FromResult<Func<ValueTask>>(async () => await grain.SmallValue().ConfigureAwait(false));
        }),
        new("Orleans 1:1 grain calls async", "1:1 actor calls async", Workloads.Batch, client =>
        {
            var grain = client.GetGrain<IBenchGrain>(2);
            return Task.FromResult<Func<ValueTask>>(async () =>
            {
                var calls = new Task<byte[]>[Workloads.Batch];
                for (int i = 0; i < calls.Length; i++) calls[i] = grain.SmallValue();
                await Task.WhenAll(calls).ConfigureAwait(false);
            });
        }),
        new("Orleans 1:n grain calls async", "1:n actor calls async", Workloads.FanOutCalls * servers, async client =>
        {
            var grains = new IBenchGrain[servers];
            for (int i = 0; i < grains.Length; i++) grains[i] = client.GetGrain<IBenchGrain>(100 + i);
            var fanOut = client.GetGrain<IBenchClientGrain>(0);
            await fanOut.SetServers(grains).ConfigureAwait(false);
            return async () => await fanOut.SmallValueBatch(Workloads.FanOutCalls).ConfigureAwait(false);
        }),
    ];
}

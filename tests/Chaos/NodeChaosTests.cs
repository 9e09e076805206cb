using Xunit;

// Each run owns the machine's cores while it kills processes: runs side by side would disturb each other's timing
// (and one process holds one Ray).
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace RaySharp.Chaos.Tests;

/// <summary>Short, seeded versions of bench/RaySharp.Chaos's node run: retryable work on a 3-node cluster while workers
/// and whole nodes are killed and, over Redis, the GCS is killed and restarted.</summary>
public sealed class NodeChaosTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void Retryable_work_survives_killed_workers_and_nodes_and_nothing_hangs(int seed) =>
        RunAndCheck(new NodeChaosOptions { Seed = seed, Operations = 150, Deadline = TimeSpan.FromMinutes(3) });

    [Theory]
    [InlineData(21)]
    public void Chains_actors_and_large_objects_survive_killed_workers_nodes_and_GCS_restarts(int seed)
    {
        var result = RunAndCheck(new NodeChaosOptions
        {
            Seed = seed, Operations = 300, GcsRestarts = true, LargeObjects = true, Deadline = TimeSpan.FromMinutes(4),
        });
        Assert.True(result.GcsRestarts > 0, "the schedule restarted no GCS, so it proves nothing about GCS restarts: " + result);
    }

    private NodeChaosResult RunAndCheck(NodeChaosOptions options)
    {
        var log = new StringWriter();
        var result = NodeChaosRun.Run(options, log);
        output.WriteLine(log.ToString());
        output.WriteLine(result.ToString());
        Assert.True(result.Faults > 0, "the run injected no fault, so it proves nothing: " + result);
        Assert.Equal(0, result.Hangs);
        Assert.Equal(0, result.Lost);
        Assert.Equal(0, result.Wrong);
        Assert.Equal(0, result.NonRetryableFailedOtherwise);
        return result;
    }
}

using RaySharp.Chaos;
using Xunit;

namespace RaySharp.Integration;

/// <summary>A short, seeded version of bench/RaySharp.Chaos's node run: chains of tasks and restarting actors on a
/// 3-node cluster while workers and whole nodes are killed.</summary>
public sealed class NodeChaosTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void Retryable_work_survives_killed_workers_and_nodes_and_nothing_hangs(int seed)
    {
        var log = new StringWriter();
        var result = NodeChaosRun.Run(seed, operations: 150, faultEvery: TimeSpan.FromSeconds(1.5), log, deadline: TimeSpan.FromMinutes(3));
        output.WriteLine(log.ToString());
        output.WriteLine(result.ToString());
        Assert.True(result.Faults > 0, "the run injected no fault, so it proves nothing: " + result);
        Assert.Equal(0, result.Hangs);
        Assert.Equal(0, result.Lost);
        Assert.Equal(0, result.Wrong);
        Assert.Equal(0, result.NonRetryableFailedOtherwise);
    }
}

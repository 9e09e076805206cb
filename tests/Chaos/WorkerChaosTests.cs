using RaySharp.Chaos;
using Xunit;

namespace RaySharp.Chaos.Tests;

/// <summary>A short, seeded version of bench/RaySharp.Chaos: tasks with retries survive worker processes being killed —
/// one kill every half second, and at most one per ten tasks finished, so that a busy machine does not see more kills per
/// task than three retries can absorb.</summary>
public sealed class WorkerChaosTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Tasks_with_retries_all_finish_while_workers_are_killed()
    {
        var result = ChaosRun.Run(tasks: 300, killEvery: TimeSpan.FromMilliseconds(500), seed: 7, cpus: 4, TextWriter.Null,
            deadline: TimeSpan.FromMinutes(3), tasksPerKill: 10);
        output.WriteLine(result.ToString());
        Assert.True(result.WorkersKilled > 0, "the run killed no worker, so it proves nothing: " + result);
        Assert.Equal(0, result.Lost);
        Assert.Equal(0, result.Failed);
        Assert.Equal(300, result.Succeeded);
    }
}

#if RAYSHARP_CLUSTER_TESTS
using Xunit;

namespace RaySharp.Tests;

/// <summary>What happens when a worker process dies under an actor's calls (worker processes only: in local mode a
/// worker is a thread of the test's own process).</summary>
public sealed class ProcessDeathTests : RayTest
{
    [Fact]
    public void Calls_in_flight_when_an_actors_process_dies_are_retried_on_the_restarted_actor()
    {
        var actor = Crashy.Remote.WithOptions(new ActorOptions { MaxRestarts = 1, MaxTaskRetries = -1 }).Create();
        Assert.Equal(1, actor.Echo(1).Get(Timeout));
        // Sent together: the process exits in the first, with the others queued behind it at the actor.
        var crash = actor.CrashOnce();
        var after = Enumerable.Range(2, 5).Select(i => actor.Echo(i)).ToList();
        Assert.Equal(7, crash.Get(Timeout));
        Assert.Equal([2, 3, 4, 5, 6], Ray.Get(after, Timeout));
    }

    [Fact]
    public void Calls_without_retries_fail_with_the_actors_death_when_its_process_dies()
    {
        var actor = Crashy.Remote.WithOptions(new ActorOptions { MaxRestarts = 1, MaxTaskRetries = 0 }).Create();
        Assert.Equal(1, actor.Echo(1).Get(Timeout));
        var crash = actor.CrashOnce();
        Assert.Throws<ActorDiedException>(() => crash.Get(Timeout));
        // The actor restarted: later calls run on the new incarnation.
        Assert.Equal(7, actor.CrashOnce().Get(Timeout));
    }
}
#endif

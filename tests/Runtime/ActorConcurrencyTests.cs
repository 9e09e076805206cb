using Xunit;

namespace RaySharp.Tests;

/// <summary>How an actor's calls share its threads: a sync actor runs them one at a time in order on one thread, a
/// threaded actor on at most MaxConcurrency threads, an async actor its sync methods on one thread and its async
/// methods on the async context — never a thread per call.</summary>
public sealed class ActorConcurrencyTests : RayTest
{
    private const int Calls = 1000;

    [Fact]
    public void A_sync_actor_runs_its_calls_one_at_a_time_in_order_on_one_thread()
    {
        var actor = ThreadRecorder.Remote.Create(1);
        var calls = Enumerable.Range(0, Calls).Select(i => actor.Record(i)).ToList();
        Assert.Equal(Enumerable.Range(0, Calls), Ray.Get(calls, Timeout));
        Assert.Equal(Enumerable.Range(0, Calls), actor.Order().Get(Timeout));
        Assert.Equal(1, actor.MaxRunning().Get(Timeout));
        Assert.Equal(1, actor.Threads().Get(Timeout));
    }

    [Fact]
    public void A_threaded_actor_runs_MaxConcurrency_calls_at_once_on_at_most_that_many_threads()
    {
        const int maxConcurrency = 4;
        var actor = ThreadRecorder.Remote.WithOptions(new ActorOptions { MaxConcurrency = maxConcurrency }).Create(maxConcurrency);
        // Each meeting call returns true only once all four run at the same time.
        var meetings = Enumerable.Range(0, maxConcurrency).Select(_ => actor.Meet()).ToList();
        Assert.All(Ray.Get(meetings, Timeout), Assert.True);

        var calls = Enumerable.Range(0, Calls).Select(i => actor.Record(i)).ToList();
        Assert.Equal(Enumerable.Range(0, Calls), Ray.Get(calls, Timeout));
        Assert.InRange(actor.MaxRunning().Get(Timeout), 1, maxConcurrency);
        Assert.InRange(actor.Threads().Get(Timeout), 1, maxConcurrency);
    }

    [Fact]
    public void An_async_actor_runs_its_sync_methods_on_one_thread_whatever_the_calls_in_flight()
    {
        var actor = MixedActor.Remote.Create();
        var calls = Enumerable.Range(0, Calls).Select(i => actor.Sync(i)).ToList();
        Assert.Equal(Enumerable.Range(0, Calls), Ray.Get(calls, Timeout));
        Assert.Equal(1, actor.SyncThreads().Get(Timeout));
        Assert.Equal(1, actor.MaxRunning().Get(Timeout));
    }

    [Fact]
    public void An_async_actors_async_methods_run_while_its_sync_thread_is_blocked()
    {
        var actor = MixedActor.Remote.Create();
        var waiting = actor.WaitOpened();
        ActorTests.WaitUntil(() => actor.Blocked().Get(Timeout));
        // The sync thread is blocked: these would never run if async calls needed it.
        Assert.Equal(Enumerable.Range(0, 100), Ray.Get(Enumerable.Range(0, 100).Select(i => actor.Echo(i)).ToList(), Timeout));
        actor.Open();
        Assert.True(waiting.Get(Timeout));
    }

    [Fact]
    public void A_blocking_Get_inside_a_sync_method_of_an_async_actor_does_not_deadlock()
    {
        var actor = MixedActor.Remote.Create();
        // Of a task, and of an async call to the same actor, whose sync thread is the one blocked.
        Assert.Equal(5 + 1 + 5, actor.GetInside(actor, 5).Get(Timeout));
    }
}

using Xunit;

namespace RaySharp.Tests;

public sealed class ActorTests : RayTest
{
    [Fact]
    public void Calls_from_one_caller_run_in_submission_order()
    {
        var counter = Counter.Remote.Create(0);
        var refs = Enumerable.Range(0, 200).Select(_ => counter.Increment()).ToList();
        Assert.Equal(Enumerable.Range(1, 200), Ray.Get(refs, Timeout));
        ObjectRef reset = counter.Reset();
        Assert.Equal(0, counter.Read().Get(Timeout));
        Assert.Single(Ray.Wait(new[] { reset }, timeout: TimeSpan.Zero).Ready);
    }

    [Fact]
    public void Each_constructor_overload_creates_an_actor()
    {
        Assert.Equal(1, Counter.Remote.Create().Increment().Get(Timeout));
        Assert.Equal(11, Counter.Remote.Create(10).Increment().Get(Timeout));
    }

    [Fact]
    public void Handles_can_be_passed_to_tasks()
    {
        var counter = Counter.Remote.Create(100);
        var results = Ray.Get(Enumerable.Range(0, 5).Select(_ => Tasks.Remote.CallCounter(counter)).ToList(), Timeout);
        Assert.Equal(Enumerable.Range(101, 5), results.Order());
    }

    [Fact]
    public void MaxConcurrency_bounds_concurrent_async_calls()
    {
        var running = Tally.Remote.Create();
        var gate = Gate.Remote.Create();
        var actor = TwoAtATime.Remote.Create(running);
        var calls = Enumerable.Range(0, 6).Select(_ => actor.Work(gate)).ToList();
        WaitUntil(() => gate.Waiting().Get(Timeout) >= 2);
        Assert.Equal(2, running.Value().Get(Timeout));
        gate.Open(5);
        Assert.All(Ray.Get(calls, Timeout), v => Assert.Equal(5, v));
        Assert.Equal(2, running.Max().Get(Timeout));
    }

    [Fact]
    public void Async_actors_run_calls_concurrently_by_default()
    {
        var gate = Gate.Remote.Create();
        var waits = Enumerable.Range(0, 50).Select(_ => gate.WaitOpen()).ToList();
        WaitUntil(() => gate.Waiting().Get(Timeout) == 50);
        gate.Open(3);
        Assert.All(Ray.Get(waits, Timeout), v => Assert.Equal(3, v));
    }

    [Fact]
    public void Named_actors_are_found_by_name_in_their_namespace()
    {
        var created = Counter.Remote.WithOptions(new ActorOptions { Name = "hits" }).Create(0);
        created.Increment().Get(Timeout);
        var found = Ray.GetActor<Counter>("hits");
        Assert.Equal(created.Id, found.Id);
        Assert.Equal("hits", found.Name);
        Assert.Equal(2, found.Increment().Get(Timeout));
        Assert.True(Ray.TryGetActor<Counter>("hits", out var again));
        Assert.Equal(created.Id, again!.Id);

        var other = Counter.Remote.WithOptions(new ActorOptions { Name = "hits", Namespace = "other" }).Create(50);
        Assert.Equal(51, Ray.GetActor<Counter>("hits", "other").Increment().Get(Timeout));
        Assert.NotEqual(other.Id, created.Id);
    }

    [Fact]
    public void Unknown_names_throw_ActorNotFoundException()
    {
        var e = Assert.Throws<ActorNotFoundException>(() => Ray.GetActor<Counter>("nobody"));
        Assert.Equal("nobody", e.ActorName);
        Assert.False(Ray.TryGetActor<Counter>("nobody", out var none));
        Assert.Null(none);
    }

    [Fact]
    public void A_taken_name_throws_unless_GetIfExists()
    {
        var first = Counter.Remote.WithOptions(new ActorOptions { Name = "single" }).Create(0);
        var e = Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { Name = "single" }).Create(0));
        Assert.Contains("single", e.Message);
        var same = Counter.Remote.WithOptions(new ActorOptions { Name = "single", GetIfExists = true }).Create(0);
        Assert.Equal(first.Id, same.Id);
    }

    [Fact]
    public void Bad_actor_options_throw_ArgumentException()
    {
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { Name = "" }).Create(0));
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { GetIfExists = true }).Create(0));
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { MaxConcurrency = 0 }).Create(0));
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { NumCpus = 2.5 }).Create(0));
    }

    [Fact]
    public void Killed_actors_fail_every_later_call()
    {
        var counter = Counter.Remote.Create(0);
        Assert.Equal(1, counter.Increment().Get(Timeout));
        Ray.Kill(counter);
        var e = Assert.Throws<ActorDiedException>(() => counter.Increment().Get(Timeout));
        Assert.Equal(counter.Id, e.ActorId);
        Assert.Contains("Ray.Kill", e.Cause);
    }

    [Fact]
    public void A_killed_actor_with_restarts_left_comes_back_fresh()
    {
        var actor = Restartable.Remote.Create();
        Assert.Equal(1, actor.Call().Get(Timeout));
        Assert.Equal(2, actor.Call().Get(Timeout));
        Assert.False(actor.Reconstructed().Get(Timeout));
        Ray.Kill(actor, noRestart: false);
        Assert.Equal(1, actor.Call().Get(Timeout));
        Assert.True(actor.Reconstructed().Get(Timeout));
        Ray.Kill(actor, noRestart: false); // MaxRestarts = 1: this time it stays dead
        Assert.Throws<ActorDiedException>(() => actor.Call().Get(Timeout));
    }

    [Fact]
    public void A_constructor_that_throws_kills_the_actor_with_the_cause()
    {
        var actor = Failing.Remote.Create("no config");
        var e = Assert.Throws<ActorDiedException>(() => actor.Never().Get(Timeout));
        Assert.Contains("InvalidOperationException", e.Cause);
        Assert.Contains("no config", e.Cause);
        Assert.Throws<ActorDiedException>(() => actor.Never().Get(Timeout));
    }

    [Fact]
    public void ExitActor_disposes_the_instance_and_later_calls_fail()
    {
        var disposals = Tally.Remote.Create();
        var actor = Disposable.Remote.Create(disposals);
        Assert.Equal(1, actor.Ping().Get(Timeout));
        Assert.Equal(2, actor.Quit().Get(Timeout));
        var e = Assert.Throws<ActorDiedException>(() => actor.Ping().Get(Timeout));
        Assert.Contains("ExitActor", e.Cause);
        Assert.Equal(1, disposals.Value().Get(Timeout));
    }

    [Fact]
    public void ExitActor_outside_an_actor_throws()
    {
        Assert.Throws<InvalidOperationException>(() => Ray.ExitActor());
    }

    [Fact]
    public void A_non_detached_actor_exits_when_its_last_handle_is_gone()
    {
        var disposals = Tally.Remote.WithOptions(new ActorOptions { Name = "witness" }).Create();
        var actor = Disposable.Remote.WithOptions(new ActorOptions { Name = "short-lived" }).Create(disposals);
        Assert.Equal(1, actor.Ping().Get(Timeout));
        actor.Dispose();
        WaitUntil(() => disposals.Value().Get(Timeout) == 1);
        Assert.False(Ray.TryGetActor<Disposable>("short-lived", out _));
    }

    [Fact]
    public void A_detached_actor_outlives_its_handles()
    {
        var actor = Counter.Remote.WithOptions(new ActorOptions { Name = "keeper", Lifetime = ActorLifetime.Detached }).Create(0);
        actor.Increment().Get(Timeout);
        actor.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(2, Ray.GetActor<Counter>("keeper").Increment().Get(Timeout));
    }

    [Fact]
    public void MaxPendingCalls_rejects_calls_beyond_the_limit()
    {
        var gate = Gate.Remote.Create();
        var limited = TwoAtATime.Remote.WithOptions(new ActorOptions { MaxPendingCalls = 2 }).Create(Tally.Remote.Create());
        var a = limited.Work(gate);
        var b = limited.Work(gate);
        Assert.Throws<PendingCallsLimitExceededException>(() => limited.Work(gate));
        gate.Open(1);
        Assert.Equal(1, a.Get(Timeout));
        Assert.Equal(1, b.Get(Timeout));
        Assert.Equal(1, limited.Work(gate).Get(Timeout));
    }

    [Fact]
    public void Runtime_context_inside_an_actor_names_the_actor()
    {
        var counter = Counter.Remote.Create(0);
        Assert.Equal(counter.Id.ToString(), counter.ContextActorId().Get(Timeout));
    }

    internal static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The condition did not become true in time.");
            Thread.Sleep(5);
        }
    }
}

public sealed class ActorPlacementTests : RayTest
{
    public ActorPlacementTests() : base(new RayOptions { LocalMode = TestMode.Local, NumCpus = 0 }) { }

    [Fact]
    public void An_actor_with_default_cpus_needs_a_cpu_to_be_placed_but_zero_cpus_can_be_asked_for()
    {
        var needsPlacementCpu = Counter.Remote.Create(0).Increment();
        Assert.Empty(Ray.Wait(new[] { needsPlacementCpu }, timeout: TimeSpan.FromMilliseconds(200)).Ready);
        var zero = Counter.Remote.WithOptions(new ActorOptions { NumCpus = 0 }).Create(0);
        Assert.Equal(1, zero.Increment().Get(Timeout));
    }
}

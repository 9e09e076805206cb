using Xunit;

namespace RaySharp.Tests;

/// <summary>Ray's actor semantics that users rely on, in local mode and on the cluster.</summary>
public sealed class ActorSemanticsTests : RayTest
{
    public ActorSemanticsTests() : base(new RayOptions { LocalMode = TestMode.Local, NumCpus = 2 }) { }

    [Fact]
    public void Killing_an_actor_whose_method_hangs_fails_the_call_and_frees_its_CPU()
    {
        var started = Tally.Remote.Create();
        Assert.Equal(0, started.Value().Get(Timeout));
        var hanger = Hanger.Remote.WithOptions(new ActorOptions { NumCpus = 1 }).Create();
        Assert.Equal(1, hanger.Ready().Get(Timeout));
        Assert.Equal(1, Ray.AvailableResources()["CPU"]);

        var call = hanger.Hang(started);
        ActorTests.WaitUntil(() => started.Value().Get(Timeout) == 1);
        Ray.Kill(hanger);
        var e = Assert.Throws<ActorDiedException>(() => call.Get(Timeout));
        Assert.Equal(hanger.Id, e.ActorId);
        ActorTests.WaitUntil(() => Ray.AvailableResources()["CPU"] == 2);
    }

    [Fact]
    public void A_handle_held_only_by_a_pending_tasks_arguments_keeps_the_actor_alive_until_the_task_is_done()
    {
        var disposals = Tally.Remote.Create();
        var gate = Gate.Remote.Create();
        var actor = Disposable.Remote.Create(disposals);
        Assert.Equal(1, actor.Ping().Get(Timeout));

        var pending = Tasks.Remote.PingAfterGate(gate, actor);
        actor.Dispose(); // the driver's last handle: only the pending task's argument holds the actor now
        ActorTests.WaitUntil(() => gate.Waiting().Get(Timeout) == 1);
        gate.Open(1);
        Assert.Equal(1, pending.Get(Timeout));
        // The task is done and no handle is left: the actor is collected (its instance disposed).
        ActorTests.WaitUntil(() => disposals.Value().Get(Timeout) == 1);
    }

    [Fact]
    public void One_callers_unresolved_argument_does_not_delay_another_callers_calls()
    {
        var tally = Tally.Remote.Create();
        var gate = Gate.Remote.Create();
        Assert.Equal(0, tally.Value().Get(Timeout));
        var waitsForGate = tally.Add(gate.WaitOpen()); // the driver's call cannot be sent until the gate opens
        // A task is another caller: its call to the same actor runs while the driver's waits.
        Assert.Equal(5, Tasks.Remote.AddToTally(tally, 5).Get(Timeout));
        Assert.Empty(Ray.Wait([waitsForGate], timeout: TimeSpan.Zero).Ready);
        gate.Open(10);
        Assert.Equal(15, waitsForGate.Get(Timeout));
    }

    [Fact]
    public void A_recursive_cancel_reaches_the_parents_children_and_frees_their_CPUs()
    {
        var cancelled = Tally.Remote.Create();
        var started = Tally.Remote.Create();
        Assert.Equal(0, cancelled.Value().Get(Timeout));
        Assert.Equal(0, started.Value().Get(Timeout));
        var parent = Tasks.Remote.ParentOfWaiter(cancelled, started);
        ActorTests.WaitUntil(() => started.Value().Get(Timeout) == 1); // the child runs

        Ray.Cancel(parent, recursive: true);
        Assert.Throws<TaskCancelledException>(() => parent.Get(Timeout));
        // The child saw its CancellationToken fire, and the CPUs of both come back.
        ActorTests.WaitUntil(() => cancelled.Value().Get(Timeout) == 1);
        ActorTests.WaitUntil(() => Ray.AvailableResources()["CPU"] == 2);
    }

    [Fact]
    public void A_force_cancel_stops_the_worker_and_frees_its_CPU()
    {
        var pid = Tally.Remote.Create();
        Assert.Equal(0, pid.Value().Get(Timeout));
        var r = Tasks.Remote.SleepUncooperatively(pid);
        ActorTests.WaitUntil(() => pid.Value().Get(Timeout) != 0);
        Ray.Cancel(r, force: true);
        Assert.Throws<TaskCancelledException>(() => r.Get(Timeout));
        ActorTests.WaitUntil(() => Ray.AvailableResources()["CPU"] == 2);
#if RAYSHARP_CLUSTER_TESTS
        // A worker process: it is gone (in local mode the worker is a thread of the test process, which cannot be stopped).
        int workerPid = pid.Value().Get(Timeout);
        ActorTests.WaitUntil(() =>
        {
            try { return System.Diagnostics.Process.GetProcessById(workerPid).HasExited; }
            catch (ArgumentException) { return true; }
        });
#endif
        Assert.Equal(3, Tasks.Remote.Add(1, 2).Get(Timeout));
    }
}

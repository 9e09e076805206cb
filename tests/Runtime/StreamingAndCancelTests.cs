using Xunit;

namespace RaySharp.Tests;

public sealed class StreamingTests : RayTest
{
    [Fact]
    public async Task A_streaming_generator_yields_one_ref_per_item_in_order()
    {
        var values = new List<int>();
        await foreach (var item in Tasks.Remote.Produce(5)) values.Add(await item);
        Assert.Equal([0, 1, 4, 9, 16], values);
    }

    [Fact]
    public async Task A_generator_that_throws_ends_with_a_ref_that_raises()
    {
        var refs = new List<ObjectRef<int>>();
        await foreach (var item in Tasks.Remote.ProduceThenFail(3)) refs.Add(item);
        Assert.Equal(4, refs.Count);
        Assert.Equal([0, 1, 2], refs.Take(3).Select(r => r.Get(Timeout)));
        var e = Assert.Throws<RayTaskException>(() => refs[3].Get(Timeout));
        Assert.True(e.IsCausedBy<AppException>());
        Assert.Equal("generator broke", e.RemoteMessage);
    }

    [Fact]
    public async Task Actor_methods_can_stream()
    {
        var streamer = Streamer.Remote.Create();
        var words = new List<string>();
        await foreach (var w in streamer.Words("to be or not")) words.Add(await w);
        Assert.Equal(["to", "be", "or", "not"], words);
    }

    [Fact]
    public void A_stream_can_be_read_synchronously()
    {
        var stream = Tasks.Remote.Produce(3);
        var values = new List<int>();
        while (stream.TryNext(out var next, Timeout)) values.Add(next!.Get(Timeout));
        Assert.Equal([0, 1, 4], values);
    }
}

public sealed class CancelTests : RayTest
{
    public CancelTests() : base(new RayOptions { LocalMode = TestMode.Local, NumCpus = 1 }) { }

    [Fact]
    public void Cancelling_a_running_task_signals_its_token()
    {
        var r = Tasks.Remote.WaitForCancel();
        ActorTests.WaitUntil(() => Ray.AvailableResources().GetValueOrDefault("CPU") == 0);
        Ray.Cancel(r);
        var e = Assert.Throws<TaskCancelledException>(() => r.Get(Timeout));
        Assert.Equal(r.Id.TaskId, e.TaskId);
    }

    [Fact]
    public void Cancelling_a_pending_task_fails_it_without_running_it()
    {
        var gate = Gate.Remote.Create();
        var running = Tally.Remote.Create();
        var attempts = Tally.Remote.Create();
        // Actors need the CPU to be placed: start them before the holder takes it.
        Assert.Equal(0, gate.Waiting().Get(Timeout));
        Assert.Equal(0, running.Value().Get(Timeout));
        Assert.Equal(0, attempts.Value().Get(Timeout));
        var holder = Tasks.Remote.Hold(gate, running);                  // takes the only CPU
        ActorTests.WaitUntil(() => running.Value().Get(Timeout) == 1);
        var pending = Tasks.Remote.CountAttempt(attempts, 0);          // waits for a CPU
        Ray.Cancel(pending);
        Assert.Throws<TaskCancelledException>(() => pending.Get(Timeout));
        gate.Open(1);
        Assert.Equal(1, holder.Get(Timeout));
        Assert.Equal(0, attempts.Value().Get(Timeout));
    }

    // A cancel that reached the worker between the push's arrival and its place in the queue used to find the task neither
    // queued nor absent: it only flagged the task's token, so the task waited behind the holder (and the test with it), or a
    // force cancel ended the worker and the holder ran again. The arrival now queues the task under the cancel's lock.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cancelling_a_task_queued_behind_a_running_one_on_its_worker_drops_it_and_leaves_the_running_one_alone(bool force)
    {
        var runs = Tally.Remote.Create();
        Assert.Equal(0, runs.Value().Get(Timeout));
        string release = Path.Combine(Path.GetTempPath(), $"raysharp-release-{Guid.NewGuid():N}");
        try
        {
            // Short tasks first: their owner measures them and pipelines the next ones of the class on its held lease.
            var warm = Enumerable.Range(0, 5).Select(_ => Tasks.Remote.RunOrHold("", runs)).ToList();
            Assert.All(Ray.Get(warm, Timeout), r => Assert.Equal(0, r));
            var holder = Tasks.Remote.RunOrHold(release, runs);
            ActorTests.WaitUntil(() => runs.Value().Get(Timeout) == 6);
            var queued = Tasks.Remote.RunOrHold("", runs);

            Ray.Cancel(queued, force: force);

            Assert.Throws<TaskCancelledException>(() => queued.Get(Timeout));
            File.WriteAllText(release, "");
            // The running task was not stopped (a force cancel of a task that has not started kills no worker), and the
            // canceled one never ran.
            Assert.Equal(1, holder.Get(Timeout));
            Assert.Equal(6, runs.Value().Get(Timeout));
        }
        finally
        {
            File.Delete(release);
        }
    }

    [Fact]
    public void Cancelling_a_finished_task_changes_nothing()
    {
        var r = Tasks.Remote.Add(1, 2);
        Assert.Equal(3, r.Get(Timeout));
        Ray.Cancel(r);
        Assert.Equal(3, r.Get(Timeout));
    }

    [Fact]
    public void Force_cancel_of_an_actor_task_is_rejected()
    {
        var gate = Gate.Remote.Create();
        var call = gate.WaitOpen();
        Assert.Throws<ArgumentException>(() => Ray.Cancel(call, force: true));
        gate.Open(0);
        Assert.Equal(0, call.Get(Timeout));
    }
}

using Microsoft.Extensions.Logging;
using RaySharp.Core;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>The actor task submitter alone, over a fake GCS whose actor states the test publishes and fake actor
/// workers.</summary>
public sealed class ActorTaskSubmitterTests : IDisposable
{
    private readonly FakeGcs _gcs = new();
    private readonly CoreWorker _worker;
    private readonly RecordingLogger<ActorTaskSubmitter> _logger = new();
    private readonly ActorTaskSubmitter _submitter;
    private readonly ActorId _actor;

    public ActorTaskSubmitterTests()
    {
        _worker = NewWorker(gcs: _gcs);
        _submitter = new ActorTaskSubmitter(_worker.TaskManager, _worker.Resolver, _gcs, _logger);
        _actor = ActorId.Of(_worker.JobId);
    }

    public void Dispose()
    {
        _submitter.Dispose();
        _worker.Dispose();
    }

    private TaskSpec NewCall(int maxRetries = 0) =>
        ActorTask(_worker, _actor, _submitter.NextSequenceNumber(_actor, -1, "Call"), maxRetries);

    private void Submit(TaskSpec spec) => _submitter.Submit(_worker.TaskManager.AddPendingTask(spec, spec.MaxRetries), spec.MaxRetries);

    private void Publish(ActorLifecycleState state, FakeWorker? worker = null, int restarts = 0, string? deathCause = null) =>
        _gcs.Publish(new ActorStateUpdate(_actor, state, worker, restarts,
            deathCause is null ? null : RayErrorInfo.ActorDied(_actor, deathCause)));

    [Fact]
    public async Task Calls_wait_for_the_actor_and_are_sent_in_sequence_order_once_it_is_alive()
    {
        var actor = new FakeWorker();
        var calls = Enumerable.Range(0, 5).Select(_ => NewCall()).ToList();
        foreach (int i in new[] { 3, 0, 4, 1, 2 }) Submit(calls[i]);
        Assert.Empty(actor.Pushed);

        Publish(ActorLifecycleState.Alive, actor);

        foreach (var call in calls) await Result(_worker, call);
        Assert.Equal([0L, 1, 2, 3, 4], actor.Pushed.Select(s => s.SequenceNumber));
    }

    [Fact]
    public async Task Calls_fail_with_ActorDiedException_when_the_actor_dies_and_later_calls_fail_at_once()
    {
        var waiting = NewCall();
        Submit(waiting);

        Publish(ActorLifecycleState.Dead, deathCause: "the constructor threw");

        var e = Assert.Throws<ActorDiedException>((await Result(_worker, waiting)).ThrowIfError);
        Assert.Contains("the constructor threw", e.Message);
        var late = NewCall();
        Submit(late);
        Assert.Throws<ActorDiedException>((await Result(_worker, late)).ThrowIfError);
    }

    [Fact]
    public async Task A_stale_update_does_not_revive_a_dead_actor()
    {
        var call = NewCall(); // subscribes to the actor
        Publish(ActorLifecycleState.Dead, deathCause: "killed");
        Publish(ActorLifecycleState.Alive, new FakeWorker()); // arrives late, from before the death

        Submit(call);

        Assert.Throws<ActorDiedException>((await Result(_worker, call)).ThrowIfError);
    }

    [Fact]
    public async Task A_push_that_faults_on_a_live_actor_fails_the_call_instead_of_leaving_it_in_flight()
    {
        var actor = new FakeWorker(async _ =>
        {
            await Task.Yield();
            throw new IOException("connection reset by peer");
        });
        Publish(ActorLifecycleState.Alive, actor);
        var call = NewCall();

        Submit(call);

        var e = Assert.Throws<ActorDiedException>((await Result(_worker, call)).ThrowIfError);
        Assert.Contains("connection reset by peer", e.Message);
        Assert.Contains(_logger.Entries, l => l.Level == LogLevel.Warning && l.Exception is IOException);
        Assert.Equal(0, _worker.TaskManager.NumPendingTasks);
    }

    [Fact]
    public async Task A_push_that_throws_synchronously_fails_the_call_and_later_calls_still_go_out()
    {
        int attempts = 0;
        var actor = new FakeWorker(spec => Interlocked.Increment(ref attempts) == 1
            ? throw new IOException("channel closed")
            : Task.FromResult(Ok((int)spec.SequenceNumber)));
        Publish(ActorLifecycleState.Alive, actor);
        var first = NewCall();
        var second = NewCall();

        Submit(first);
        Submit(second);

        Assert.Throws<ActorDiedException>((await Result(_worker, first)).ThrowIfError);
        Assert.Equal(1, ValueOf(await Result(_worker, second)));
    }

    // The pushes below complete synchronously with their continuations (no RunContinuationsAsynchronously), so the
    // submitter has handled the fault when SetException returns and the next published state cannot overtake it.

    [Fact]
    public async Task A_push_that_faults_while_the_actor_restarts_is_retried_on_the_new_incarnation()
    {
        var push = new TaskCompletionSource<PushTaskReply>();
        var oldWorker = new FakeWorker(_ => push.Task);
        var newWorker = new FakeWorker(_ => Task.FromResult(Ok(9)));
        Publish(ActorLifecycleState.Alive, oldWorker);
        var call = NewCall(maxRetries: 1);
        Submit(call);
        await oldWorker.Pushes.WhenAtLeast(1);

        Publish(ActorLifecycleState.Restarting, restarts: 1);
        push.SetException(new IOException("the actor's process exited"));
        Assert.False(_worker.MemoryStore.Contains(call.ReturnId(0)));
        Publish(ActorLifecycleState.Alive, newWorker, restarts: 1);

        Assert.Equal(9, ValueOf(await Result(_worker, call)));
        Assert.Single(newWorker.Pushed);
    }

    [Fact]
    public async Task A_push_that_faults_while_the_actor_restarts_fails_a_call_without_retries()
    {
        var push = new TaskCompletionSource<PushTaskReply>();
        var oldWorker = new FakeWorker(_ => push.Task);
        Publish(ActorLifecycleState.Alive, oldWorker);
        var call = NewCall(maxRetries: 0);
        Submit(call);
        await oldWorker.Pushes.WhenAtLeast(1);

        Publish(ActorLifecycleState.Restarting, restarts: 1);
        push.SetException(new IOException("the actor's process exited"));

        var e = Assert.Throws<ActorDiedException>((await Result(_worker, call)).ThrowIfError);
        Assert.Contains("MaxTaskRetries", e.Message);
    }
}

using Microsoft.Extensions.Time.Testing;
using RaySharp.Core;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>How the normal task submitter holds worker leases: the linger after its queue empties, pipelined pushes,
/// lease requests canceled once the queue has drained, leases returned in batches. Over a fake raylet and a fake
/// clock, so the linger elapses when the test says so.</summary>
public sealed class LeaseReuseTests : IDisposable
{
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);

    private readonly FakeTimeProvider _time = new();
    private readonly FakeRaylet _raylet = new();
    private readonly CoreWorker _worker;
    private readonly NormalTaskSubmitter _submitter;

    public LeaseReuseTests()
    {
        _worker = NewWorker(_raylet);
        _submitter = new NormalTaskSubmitter(_worker.TaskManager, _worker.Resolver, _raylet,
            config: new RayConfig { WorkerLeaseLinger = Linger, WorkerLeaseTimeout = TimeSpan.FromMinutes(10) }, time: _time);
    }

    public void Dispose()
    {
        _submitter.Dispose();
        _worker.Dispose();
    }

    private TaskSpec Submit(int maxRetries = 1)
    {
        var spec = NormalTask(_worker, maxRetries: maxRetries);
        _submitter.Submit(_worker.TaskManager.AddPendingTask(spec, maxRetries));
        return spec;
    }

    /// <summary>Polls until <paramref name="condition"/> holds (the submitter settles on the reply's thread).</summary>
    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + ComponentHarness.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(5);
        }
    }

    /// <summary>Runs one task on a newly granted lease and returns its result's value once the lease is idle: the class's
    /// time per task is then measured, so later tasks may be pipelined.</summary>
    private async Task<int> RunFirstTask(bool untilLingering = true)
    {
        var first = Submit();
        await _raylet.LeaseRequests.WhenAtLeast(1);
        _raylet.GrantOne();
        int value = ValueOf(await Result(_worker, first));
        if (untilLingering) await Until(() => _submitter.LingeringLeases == 1);
        return value;
    }

    [Fact]
    public async Task An_idle_lease_lingers_so_the_next_task_is_one_push_then_goes_back_when_the_linger_ends()
    {
        Assert.Equal(0, await RunFirstTask());

        // The clock has not moved: the lease is still held, and the next task goes straight to its worker.
        var second = Submit();
        Assert.Equal(0, ValueOf(await Result(_worker, second)));
        Assert.Equal(1, _raylet.Requests);
        Assert.Equal(2, _raylet.Worker.Pushes.Count);
        Assert.Empty(_raylet.Returned);

        await Until(() => _submitter.LingeringLeases == 1);
        _time.Advance(Linger);
        await _raylet.Returns.WhenAtLeast(1);
        var (lease, disconnect) = Assert.Single(_raylet.Returned);
        Assert.Equal(1, lease.LeaseId);
        Assert.False(disconnect);
        Assert.Equal(0, _submitter.LingeringLeases);
    }

    [Fact]
    public async Task A_lingering_lease_goes_back_at_once_when_its_raylet_says_others_wait_and_later_ones_skip_the_linger()
    {
        await RunFirstTask();

        // Another owner's request waits at the raylet: the idle lease goes back now, not when the linger ends.
        _submitter.ReturnIdleLeases(NodeId.FromRandom());
        Assert.Empty(_raylet.Returned); // another node's raylet: nothing of this node's goes
        _submitter.ReturnIdleLeases(_raylet.NodeId);
        await _raylet.Returns.WhenAtLeast(1);
        Assert.Equal(0, _submitter.LingeringLeases);

        // A lease busy when the raylet asks goes back as soon as its task is done, with no linger.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _raylet.Worker.Handler = async spec =>
        {
            await gate.Task;
            return Ok(7);
        };
        var busy = Submit();
        await _raylet.LeaseRequests.WhenAtLeast(2);
        _raylet.GrantOne();
        await _raylet.Worker.Pushes.WhenAtLeast(2);
        _submitter.ReturnIdleLeases(_raylet.NodeId);
        Assert.Single(_raylet.Returned);
        gate.SetResult();
        Assert.Equal(7, ValueOf(await Result(_worker, busy)));
        await _raylet.Returns.WhenAtLeast(2);
        Assert.Equal(0, _submitter.LingeringLeases);
    }

    [Fact]
    public async Task Lease_requests_still_pending_when_the_queue_drains_into_a_held_lease_are_canceled()
    {
        var specs = Enumerable.Range(0, 3).Select(_ => Submit()).ToList();
        // One request per queued task (up to the per-class maximum).
        await _raylet.LeaseRequests.WhenAtLeast(3);

        _raylet.GrantOne();

        foreach (var spec in specs) Assert.Equal(0, ValueOf(await Result(_worker, spec)));
        // The one lease ran all three (pipelined once the first reply showed the tasks are short); the two requests the
        // queue no longer needed were canceled rather than left to be granted and returned unused.
        await _raylet.Canceled.WhenAtLeast(2);
        Assert.Equal(1, _raylet.Granted);
        Assert.Equal(3, _raylet.Worker.Pushes.Count);
    }

    [Fact]
    public async Task Tasks_that_can_be_retried_are_pipelined_on_a_held_lease()
    {
        await RunFirstTask(untilLingering: false);

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _raylet.Worker.Handler = async spec =>
        {
            await gate.Task;
            return Ok(5);
        };
        var specs = Enumerable.Range(0, 4).Select(_ => Submit()).ToList();
        // All four are on the worker before any of them replied.
        await _raylet.Worker.Pushes.WhenAtLeast(5);
        gate.SetResult();

        foreach (var spec in specs) Assert.Equal(5, ValueOf(await Result(_worker, spec)));
        Assert.Equal(1, _raylet.Granted);
    }

    [Fact]
    public async Task A_task_that_cannot_be_retried_runs_alone_on_its_lease()
    {
        await RunFirstTask(untilLingering: false);

        int running = 0, maxRunning = 0;
        _raylet.Worker.Handler = async spec =>
        {
            lock (_raylet) maxRunning = Math.Max(maxRunning, ++running);
            await Task.Delay(1);
            lock (_raylet) running--;
            return Ok(2);
        };
        // No retries: a crash of the worker by a task pushed ahead of it would fail it for good.
        var specs = Enumerable.Range(0, 4).Select(_ => Submit(maxRetries: 0)).ToList();

        foreach (var spec in specs) Assert.Equal(2, ValueOf(await Result(_worker, spec)));
        Assert.Equal(1, maxRunning);
    }

    [Fact]
    public async Task A_task_given_back_unstarted_runs_again_without_spending_a_retry()
    {
        int pushes = 0;
        _raylet.Worker.Handler = async _ =>
        {
            await Task.Yield();
            return Interlocked.Increment(ref pushes) == 1 ? PushTaskReply.GivenBack : Ok(9);
        };
        var spec = Submit(maxRetries: 0);
        await _raylet.LeaseRequests.WhenAtLeast(1);
        _raylet.GrantOne();

        Assert.Equal(9, ValueOf(await Result(_worker, spec)));
        Assert.Equal(2, pushes);
    }

    [Fact]
    public async Task A_lingering_lease_whose_worker_died_goes_back_disconnected_and_costs_the_next_task_nothing()
    {
        await RunFirstTask();

        _raylet.Worker.IsAlive = false; // the worker process died while its lease was held idle
        var second = Submit(maxRetries: 0);
        await _raylet.Returns.WhenAtLeast(1);
        var (lease, disconnect) = Assert.Single(_raylet.Returned);
        Assert.Equal(1, lease.LeaseId);
        Assert.True(disconnect);
        await _raylet.LeaseRequests.WhenAtLeast(2);
        _raylet.Worker.IsAlive = true;
        _raylet.GrantOne();

        Assert.Equal(0, ValueOf(await Result(_worker, second)));
        Assert.Equal(2, _raylet.Worker.Pushes.Count);
    }

    [Fact]
    public async Task Leases_that_go_idle_together_go_back_in_one_batch()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _raylet.Worker.Handler = async _ =>
        {
            await gate.Task;
            return Ok(1);
        };
        // Tasks without retries run one per lease: two tasks, two leases.
        var specs = Enumerable.Range(0, 2).Select(_ => Submit(maxRetries: 0)).ToList();
        await _raylet.LeaseRequests.WhenAtLeast(2);
        _raylet.GrantOne();
        _raylet.GrantOne();
        await _raylet.Worker.Pushes.WhenAtLeast(2);
        gate.SetResult();
        foreach (var spec in specs) await Result(_worker, spec);
        await Until(() => _submitter.LingeringLeases == 2);

        _time.Advance(Linger);

        await _raylet.Returns.WhenAtLeast(2);
        Assert.Equal([2], _raylet.ReturnBatches);
    }

    [Fact]
    public async Task Shutdown_returns_the_leases_held_idle()
    {
        await RunFirstTask();

        _submitter.Dispose();

        var (lease, disconnect) = Assert.Single(_raylet.Returned);
        Assert.Equal(1, lease.LeaseId);
        Assert.False(disconnect);
    }
}

using Microsoft.Extensions.Logging;
using RaySharp.Core;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>The normal task submitter alone, over a fake raylet that grants leases when the test says so and a fake
/// worker that answers pushes.</summary>
public sealed class NormalTaskSubmitterTests : IDisposable
{
    private readonly FakeRaylet _raylet;
    private readonly CoreWorker _worker;
    private readonly RecordingLogger<NormalTaskSubmitter> _logger = new();
    private readonly NormalTaskSubmitter _submitter;

    public NormalTaskSubmitterTests() : this(new FakeRaylet()) { }

    private NormalTaskSubmitterTests(FakeRaylet raylet)
    {
        _raylet = raylet;
        _worker = NewWorker(raylet);
        _submitter = new NormalTaskSubmitter(_worker.TaskManager, _worker.Resolver, raylet, _logger);
    }

    public void Dispose()
    {
        _submitter.Dispose();
        _worker.Dispose();
    }

    private TaskSpec Submit(int maxRetries = 0, NormalTaskSubmitter? submitter = null, CoreWorker? worker = null)
    {
        worker ??= _worker;
        var spec = NormalTask(worker, maxRetries: maxRetries);
        (submitter ?? _submitter).Submit(worker.TaskManager.AddPendingTask(spec, maxRetries));
        return spec;
    }

    [Fact]
    public async Task Queued_tasks_of_one_scheduling_class_run_one_after_another_on_one_lease()
    {
        int running = 0, maxRunning = 0;
        _raylet.Worker.Handler = async spec =>
        {
            maxRunning = Math.Max(maxRunning, Interlocked.Increment(ref running));
            Assert.Equal(0, _raylet.Returns.Count); // the lease is held while tasks remain
            await Task.Yield();
            Interlocked.Decrement(ref running);
            return Ok(spec.TaskId.GetHashCode());
        };
        var specs = Enumerable.Range(0, 5).Select(_ => Submit()).ToList();
        await _raylet.LeaseRequests.WhenAtLeast(1);

        _raylet.GrantOne();

        foreach (var spec in specs) Assert.Equal(spec.TaskId.GetHashCode(), ValueOf(await Result(_worker, spec)));
        Assert.Equal(1, _raylet.Granted);
        Assert.Equal(specs.Select(s => s.TaskId), _raylet.Worker.Pushed.Select(s => s.TaskId));
        Assert.Equal(1, maxRunning);
    }

    [Fact]
    public async Task The_lease_is_returned_once_the_queue_drains()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _raylet.Worker.Handler = async _ =>
        {
            await gate.Task;
            return Ok(1);
        };
        var first = Submit();
        var second = Submit();
        await _raylet.LeaseRequests.WhenAtLeast(1);
        _raylet.GrantOne();
        await _raylet.Worker.Pushes.WhenAtLeast(1);
        Assert.Empty(_raylet.Returned);

        gate.SetResult();
        await Result(_worker, first);
        await Result(_worker, second);
        await _raylet.Returns.WhenAtLeast(1);

        var (lease, disconnect) = Assert.Single(_raylet.Returned);
        Assert.False(disconnect);
        Assert.Equal(1, lease.LeaseId);
        Assert.Equal(2, _raylet.Worker.Pushes.Count);
    }

    [Fact]
    public async Task A_push_that_faults_is_retried_as_a_system_failure_on_a_new_lease()
    {
        var raylet = new FakeRaylet { GrantImmediately = true };
        using var worker = NewWorker(raylet);
        using var submitter = new NormalTaskSubmitter(worker.TaskManager, worker.Resolver, raylet, _logger);
        int attempts = 0;
        raylet.Worker.Handler = async _ =>
        {
            await Task.Yield();
            if (Interlocked.Increment(ref attempts) == 1) throw new IOException("connection reset by peer");
            return Ok(7);
        };

        var spec = Submit(maxRetries: 1, submitter, worker);

        Assert.Equal(7, ValueOf(await Result(worker, spec)));
        Assert.Equal(2, attempts);
        await raylet.Returns.WhenAtLeast(2);
        // The worker whose push faulted is not trusted with more work.
        Assert.Contains(raylet.Returned, r => r.Disconnect);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Exception is IOException);
    }

    [Fact]
    public async Task A_push_that_keeps_faulting_fails_the_task_once_its_retries_are_spent()
    {
        var raylet = new FakeRaylet { GrantImmediately = true };
        using var worker = NewWorker(raylet);
        using var submitter = new NormalTaskSubmitter(worker.TaskManager, worker.Resolver, raylet, _logger);
        // Throws synchronously, not even a faulted task: still a reply for the task.
        raylet.Worker.Handler = _ => throw new IOException("connection refused");

        var spec = Submit(maxRetries: 2, submitter, worker);

        var e = Assert.Throws<WorkerCrashedException>((await Result(worker, spec)).ThrowIfError);
        Assert.Contains("connection refused", e.Message);
        Assert.Equal(3, raylet.Worker.Pushes.Count);
        Assert.Equal(0, worker.TaskManager.NumPendingTasks);
    }

    [Fact]
    public async Task A_push_fault_does_not_lose_the_tasks_queued_behind_it_and_they_run_on_a_new_lease()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int attempts = 0;
        _raylet.Worker.Handler = async _ =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                await gate.Task;
                throw new IOException("worker connection lost");
            }
            await Task.Yield();
            return Ok(1);
        };
        var first = Submit();
        var queued = Enumerable.Range(0, 3).Select(_ => Submit()).ToList();
        await _raylet.LeaseRequests.WhenAtLeast(1);
        _raylet.GrantOne();
        await _raylet.Worker.Pushes.WhenAtLeast(1);

        gate.SetResult();

        Assert.Throws<WorkerCrashedException>((await Result(_worker, first)).ThrowIfError);
        var (_, disconnect) = await WhenReturned(1);
        Assert.True(disconnect);
        Assert.Equal(1, _raylet.Worker.Pushes.Count); // nothing more was pushed to the broken worker
        _raylet.GrantOne();
        foreach (var spec in queued) Assert.Equal(1, ValueOf(await Result(_worker, spec)));
        Assert.Equal(2, _raylet.Granted);
    }

    private async Task<(WorkerLease Lease, bool Disconnect)> WhenReturned(int count)
    {
        await _raylet.Returns.WhenAtLeast(count);
        return _raylet.Returned.ElementAt(count - 1);
    }

    [Fact]
    public async Task An_unschedulable_lease_fails_every_queued_task_of_the_class_with_TaskUnschedulableException()
    {
        var raylet = new FakeRaylet { Reject = new TaskUnschedulableException("Tests.Work needs {GPU: 1}, which no node has.") };
        using var worker = NewWorker(raylet);
        using var submitter = new NormalTaskSubmitter(worker.TaskManager, worker.Resolver, raylet, _logger);

        var spec = Submit(submitter: submitter, worker: worker);

        var e = Assert.Throws<TaskUnschedulableException>((await Result(worker, spec)).ThrowIfError);
        Assert.Contains("GPU", e.Message);
        Assert.Empty(raylet.Worker.Pushed);
    }

    [Fact]
    public async Task A_lease_request_that_fails_transiently_is_asked_again_and_no_task_fails()
    {
        // The worker died before registering, then the spillback node was gone: neither says anything about the tasks.
        var raylet = new FakeRaylet { GrantImmediately = true, FailFirst = 2 };
        using var worker = NewWorker(raylet);
        using var submitter = new NormalTaskSubmitter(worker.TaskManager, worker.Resolver, raylet, _logger);
        raylet.Worker.Handler = async spec =>
        {
            await Task.Yield();
            return Ok(3);
        };

        // Each failed request is charged to the head task only: it has the retries, the tasks queued behind it none.
        var specs = Enumerable.Range(0, 4).Select(i => Submit(maxRetries: i == 0 ? 2 : 0, submitter, worker)).ToList();

        foreach (var spec in specs) Assert.Equal(3, ValueOf(await Result(worker, spec)));
        Assert.True(raylet.Requests >= 3, $"{raylet.Requests} lease requests");
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Exception is LeaseRejectedException);
    }

    private static RayletUnreachableException DeadSpillbackNode() =>
        new("the raylet of node X is unreachable", new IOException("connection refused")) { RemoteNode = NodeId.FromRandom() };

    [Fact]
    public async Task Lease_failures_at_a_spillback_node_that_died_cost_no_retries_while_the_cluster_learns_of_its_death()
    {
        // Six failures at a dead spillback node, then a grant: a task with no retries at all still runs.
        var raylet = new FakeRaylet { GrantImmediately = true, FailFirst = 6, Failure = DeadSpillbackNode() };
        using var worker = NewWorker(raylet);
        using var submitter = new NormalTaskSubmitter(worker.TaskManager, worker.Resolver, raylet, _logger, deadNodeGrace: TimeSpan.FromMinutes(1));
        raylet.Worker.Handler = _ => Task.FromResult(Ok(3));

        var spec = Submit(maxRetries: 0, submitter, worker);

        Assert.Equal(3, ValueOf(await Result(worker, spec)));
        Assert.Equal(7, raylet.Requests);
    }

    [Fact]
    public async Task A_spillback_node_that_stays_unreachable_past_the_grace_costs_retries_as_any_failure()
    {
        var raylet = new FakeRaylet { Reject = DeadSpillbackNode() };
        using var worker = NewWorker(raylet);
        using var submitter = new NormalTaskSubmitter(worker.TaskManager, worker.Resolver, raylet, _logger, deadNodeGrace: TimeSpan.Zero);

        var spec = Submit(maxRetries: 1, submitter, worker);

        var e = Assert.Throws<WorkerCrashedException>((await Result(worker, spec)).ThrowIfError);
        Assert.Contains("unreachable", e.Message);
        Assert.Equal(2, raylet.Requests);
    }

    [Fact]
    public async Task A_raylet_that_keeps_failing_lease_requests_fails_tasks_once_their_own_retries_are_spent()
    {
        var raylet = new FakeRaylet { Reject = new IOException("connection refused") };
        using var worker = NewWorker(raylet);
        using var submitter = new NormalTaskSubmitter(worker.TaskManager, worker.Resolver, raylet, _logger);

        var first = Submit(maxRetries: 1, submitter, worker);
        var second = Submit(maxRetries: 2, submitter, worker);

        var e = Assert.Throws<WorkerCrashedException>((await Result(worker, first)).ThrowIfError);
        Assert.Contains("connection refused", e.Message);
        Assert.Contains("retries are spent", e.Message);
        Assert.Throws<WorkerCrashedException>((await Result(worker, second)).ThrowIfError);
        // Each failed request was charged to the head task only: 2 attempts for the first, 3 for the second.
        Assert.Equal(5, raylet.Requests);
        Assert.Empty(raylet.Worker.Pushed);
        Assert.Equal(0, worker.TaskManager.NumPendingTasks);
    }

    [Fact]
    public async Task A_task_waits_for_its_argument_and_fails_with_the_upstream_error()
    {
        var upstream = NormalTask(_worker);
        _worker.TaskManager.AddPendingTask(upstream, maxRetries: 0);
        var spec = NormalTask(_worker, args: [TaskArg.ByReference(upstream.ReturnId(0), _worker.Address)]);
        _submitter.Submit(_worker.TaskManager.AddPendingTask(spec, 0));

        _worker.MemoryStore.Put(upstream.ReturnId(0), RayObject.FromError(new RayErrorInfo { Kind = ErrorKind.NodeDied, Message = "node gone" }));

        Assert.Throws<NodeDiedException>((await Result(_worker, spec)).ThrowIfError);
        Assert.Equal(0, _raylet.Requests);
    }
}

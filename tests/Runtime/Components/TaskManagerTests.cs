using RaySharp.Core;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>The owner's task table alone, fed replies directly: what a caller of a task sees for each outcome.</summary>
public sealed class TaskManagerTests : IDisposable
{
    private readonly CoreWorker _worker = NewWorker();

    private TaskManager Tasks => _worker.TaskManager;

    public void Dispose() => _worker.Dispose();

    private static PushTaskReply WorkerDied() => PushTaskReply.WorkerDied("the worker process exited");

    [Fact]
    public async Task A_pending_task_finishes_with_its_return_value_and_releases_its_arguments()
    {
        var arg = _worker.Put(5);
        var spec = NormalTask(_worker, args: [TaskArg.ByReference(arg.Id, _worker.Address)]);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 0);
        arg.Dispose();
        Assert.Equal(1, Tasks.NumPendingTasks);
        Assert.True(_worker.ReferenceCounter.IsInScope(arg.Id)); // the pending task holds it

        Assert.False(Tasks.HandleReply(entry, Ok(42)));

        Assert.Equal(42, ValueOf(await Result(_worker, spec)));
        Assert.Equal(TaskManager.Status.Finished, entry.Status);
        Assert.Equal(0, Tasks.NumPendingTasks);
        Assert.False(_worker.ReferenceCounter.IsInScope(arg.Id));
    }

    [Fact]
    public async Task A_system_failure_is_retried_up_to_MaxRetries_then_fails_the_task()
    {
        var spec = NormalTask(_worker, maxRetries: 2);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 2);

        Assert.True(Tasks.HandleReply(entry, WorkerDied()));
        Assert.True(Tasks.HandleReply(entry, WorkerDied()));
        Assert.False(_worker.MemoryStore.Contains(spec.ReturnId(0)));
        Assert.False(Tasks.HandleReply(entry, WorkerDied()));

        var obj = await Result(_worker, spec);
        var e = Assert.Throws<WorkerCrashedException>(obj.ThrowIfError);
        Assert.Contains("exited", e.Message);
        Assert.Equal(0, Tasks.NumPendingTasks);
    }

    [Fact]
    public async Task A_retried_task_that_then_succeeds_returns_its_value()
    {
        var spec = NormalTask(_worker, maxRetries: 1);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 1);

        Assert.True(Tasks.HandleReply(entry, WorkerDied()));
        Assert.False(Tasks.HandleReply(entry, Ok(3)));

        Assert.Equal(3, ValueOf(await Result(_worker, spec)));
    }

    [Fact]
    public void Infinite_retries_keep_retrying_a_system_failure()
    {
        var entry = Tasks.AddPendingTask(NormalTask(_worker, maxRetries: -1), maxRetries: -1);
        for (int i = 0; i < 20; i++) Assert.True(Tasks.HandleReply(entry, WorkerDied()));
    }

    [Fact]
    public async Task An_application_error_is_not_retried_without_RetryExceptions()
    {
        var spec = NormalTask(_worker, maxRetries: 3);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 3);

        Assert.False(Tasks.HandleReply(entry, ApplicationError(new InvalidOperationException("bad input"))));

        var e = Assert.Throws<RayTaskException>((await Result(_worker, spec)).ThrowIfError);
        Assert.Contains("bad input", e.Message);
    }

    [Fact]
    public async Task An_application_error_is_retried_with_RetryExceptions_up_to_MaxRetries()
    {
        var spec = NormalTask(_worker, maxRetries: 2, retryExceptions: true);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 2);
        var error = ApplicationError(new InvalidOperationException("flaky"));

        Assert.True(Tasks.HandleReply(entry, error));
        Assert.True(Tasks.HandleReply(entry, error));
        Assert.False(Tasks.HandleReply(entry, error));

        Assert.Throws<RayTaskException>((await Result(_worker, spec)).ThrowIfError);
    }

    [Fact]
    public void RetryExceptionTypes_retries_only_the_listed_exception_types()
    {
        var spec = NormalTask(_worker, maxRetries: 5, retryExceptions: true, retryExceptionTypes: [typeof(TimeoutException)]);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 5);

        Assert.True(Tasks.HandleReply(entry, ApplicationError(new TimeoutException("slow"))));
        Assert.False(Tasks.HandleReply(entry, ApplicationError(new InvalidOperationException("bug"))));
        Assert.Equal(TaskManager.Status.Finished, entry.Status);
    }

    [Fact]
    public void A_list_of_exception_types_retries_nothing_when_RetryExceptions_is_off()
    {
        var spec = NormalTask(_worker, maxRetries: 5, retryExceptions: false, retryExceptionTypes: [typeof(TimeoutException)]);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 5);

        Assert.False(Tasks.HandleReply(entry, ApplicationError(new TimeoutException("slow"))));
        Assert.Equal(TaskManager.Status.Finished, entry.Status);
    }

    [Fact]
    public async Task Cancelling_a_queued_task_fails_it_at_once_and_drops_a_late_reply()
    {
        var spec = NormalTask(_worker);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 0);

        Tasks.Cancel(spec.TaskId, force: false, recursive: false);

        Assert.Throws<TaskCancelledException>((await Result(_worker, spec)).ThrowIfError);
        Assert.True(entry.Cancellation.IsCancellationRequested);
        Assert.False(Tasks.HandleReply(entry, Ok(1)));
        Assert.Throws<TaskCancelledException>((await Result(_worker, spec)).ThrowIfError);
    }

    [Fact]
    public async Task Cancelling_a_running_task_signals_its_worker_and_is_not_retried_when_it_fails()
    {
        var spec = NormalTask(_worker, maxRetries: 3);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 3);
        var worker = new FakeWorker();
        entry.Status = TaskManager.Status.Running;
        entry.RunningOn = worker;

        Tasks.Cancel(spec.TaskId, force: false, recursive: false);
        Assert.Equal([(spec.TaskId, false)], worker.Cancelled);
        Assert.False(_worker.MemoryStore.Contains(spec.ReturnId(0))); // it fails when the worker stops it

        Assert.False(Tasks.HandleReply(entry, WorkerDied()));
        Assert.Throws<TaskCancelledException>((await Result(_worker, spec)).ThrowIfError);
    }

    [Fact]
    public async Task Force_cancelling_a_running_task_fails_it_at_once()
    {
        var spec = NormalTask(_worker);
        var entry = Tasks.AddPendingTask(spec, maxRetries: 0);
        var worker = new FakeWorker();
        entry.Status = TaskManager.Status.Running;
        entry.RunningOn = worker;

        Tasks.Cancel(spec.TaskId, force: true, recursive: false);

        Assert.Equal([(spec.TaskId, true)], worker.Cancelled);
        Assert.Throws<TaskCancelledException>((await Result(_worker, spec)).ThrowIfError);
    }

    [Fact]
    public async Task Recursive_cancel_cancels_the_tasks_a_task_submitted()
    {
        var parent = NormalTask(_worker);
        Tasks.AddPendingTask(parent, maxRetries: 0);
        var child = new TaskSpec
        {
            TaskId = TaskId.ForNormalTask(_worker.JobId), Type = TaskType.NormalTask, Function = parent.Function, Args = [],
            Owner = _worker.Address, ParentTaskId = parent.TaskId,
        };
        Tasks.AddPendingTask(child, maxRetries: 0);

        Tasks.Cancel(parent.TaskId, force: false, recursive: true);

        Assert.Throws<TaskCancelledException>((await Result(_worker, child)).ThrowIfError);
        Assert.Equal(0, Tasks.NumPendingTasks);
    }
}

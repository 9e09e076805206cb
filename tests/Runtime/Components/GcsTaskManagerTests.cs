using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Rpc;
using RaySharp.State;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The GCS's task-event store alone, fed batches as workers send them (as Ray's gcs_task_manager_test does):
/// merging per attempt, bounds and drop counts, listing with filters and limits, and the failures it infers.</summary>
public sealed class GcsTaskManagerTests : IDisposable
{
    private static readonly JobId Job = new(7);
    private static readonly WorkerId Worker = WorkerId.FromRandom();
    private static readonly NodeId Node = NodeId.FromRandom();
    private long _clock = 1_700_000_000_000;
    private readonly GcsTaskManager _store;

    public GcsTaskManagerTests() : this(maxAttempts: 100, jobDoneDelay: TimeSpan.Zero) { }

    private GcsTaskManagerTests(int maxAttempts, TimeSpan jobDoneDelay) =>
        _store = new GcsTaskManager(maxAttempts, jobDoneDelay, NullLogger<GcsTaskManager>.Instance);

    public void Dispose() => _store.Dispose();

    private static TaskInfoData Info(string name, JobId? job = null) =>
        new(name, "Tests." + name, RayTaskType.NormalTask, job ?? Job, default, default, new() { ["CPU"] = 1 });

    private TaskEventData Event(TaskId task, RayTaskStatus state, int attempt = 0, TaskInfoData? info = null, WorkerId worker = default,
        string? errorType = null) => new()
    {
        TaskId = task, Attempt = attempt, State = state, TimeMs = ++_clock, Info = info, WorkerId = worker,
        NodeId = worker.IsNil ? default : Node, WorkerPid = worker.IsNil ? 0 : 4242, ErrorType = errorType,
        ErrorMessage = errorType is null ? null : "boom",
    };

    private void Send(params TaskEventData[] events) => Send(0, events);

    private void Send(long dropped, params TaskEventData[] events)
    {
        var batch = new TaskEventBatch(Worker, events, dropped);
        WireValidation.TaskEvents(batch);
        _store.AddEvents(batch);
    }

    private TaskState[] List(int limit = 100, params StateFilter[] filters) => [.. _store.List(limit, filters).Attempts.Select(a => a.ToTaskState())];

    [Fact]
    public void A_record_carrying_several_state_changes_of_an_attempt_merges_each_of_them()
    {
        var task = TaskId.ForNormalTask(Job);
        var times = new long[Enum.GetValues<RayTaskStatus>().Length];
        times[(int)RayTaskStatus.PendingArgsAvail] = 100;
        times[(int)RayTaskStatus.SubmittedToWorker] = 102;
        times[(int)RayTaskStatus.Finished] = 105;
        Send(Event(task, RayTaskStatus.Finished, info: Info("Add")) with { TimeMs = 105, StateTimesMs = times });
        Send(Event(task, RayTaskStatus.Running, worker: Worker) with { TimeMs = 103 });

        var row = Assert.Single(List());
        Assert.Equal(RayTaskStatus.Finished, row.State);
        Assert.Equal([(RayTaskStatus.PendingArgsAvail, 100L), (RayTaskStatus.SubmittedToWorker, 102L), (RayTaskStatus.Running, 103L),
            (RayTaskStatus.Finished, 105L)], row.Events.Select(e => (e.State, e.CreatedMs)));
        Assert.Equal("Add", row.Name);
    }

    [Fact]
    public void A_record_whose_state_times_are_malformed_is_refused()
    {
        var task = TaskId.ForNormalTask(Job);
        Assert.Throws<Grpc.Core.RpcException>(() => Send(Event(task, RayTaskStatus.Finished) with { StateTimesMs = new long[2] }));
        var negative = new long[Enum.GetValues<RayTaskStatus>().Length];
        negative[0] = -5;
        Assert.Throws<Grpc.Core.RpcException>(() => Send(Event(task, RayTaskStatus.Finished) with { StateTimesMs = negative }));
        Assert.Empty(List());
    }

    [Fact]
    public void The_events_of_an_attempt_merge_into_one_row_whatever_order_they_arrive_in()
    {
        var task = TaskId.ForNormalTask(Job);
        // The owner's events and the executor's come from different processes: Finished may arrive before Running.
        Send(Event(task, RayTaskStatus.PendingArgsAvail, info: Info("Add")), Event(task, RayTaskStatus.PendingNodeAssignment),
            Event(task, RayTaskStatus.SubmittedToWorker), Event(task, RayTaskStatus.Finished));
        Send(Event(task, RayTaskStatus.Running, worker: Worker));

        var row = Assert.Single(List());
        Assert.Equal(task.ToString(), row.TaskId);
        Assert.Equal(RayTaskStatus.Finished, row.State);
        Assert.Equal("Add", row.Name);
        Assert.Equal("Tests.Add", row.FuncOrClassName);
        Assert.Equal(Job.ToString(), row.JobId);
        Assert.Equal(Worker.ToString(), row.WorkerId);
        Assert.Equal(4242, row.WorkerPid);
        Assert.Equal(Node.ToString(), row.NodeId);
        Assert.Equal(1, row.RequiredResources["CPU"]);
        Assert.Equal(5, row.Events.Count);
        Assert.NotNull(row.StartTimeMs);
        Assert.NotNull(row.EndTimeMs);
        Assert.Equal(row.Events[0].CreatedMs, row.CreationTimeMs);
    }

    [Fact]
    public void A_retried_task_has_a_row_per_attempt_and_a_failed_attempt_keeps_its_error()
    {
        var task = TaskId.ForNormalTask(Job);
        Send(Event(task, RayTaskStatus.PendingArgsAvail, info: Info("Flaky")), Event(task, RayTaskStatus.Failed, errorType: "WORKER_DIED"),
            Event(task, RayTaskStatus.PendingNodeAssignment, attempt: 1, info: Info("Flaky")), Event(task, RayTaskStatus.Finished, attempt: 1));

        var rows = List();
        Assert.Equal([0, 1], rows.Select(r => r.AttemptNumber));
        Assert.Equal(RayTaskStatus.Failed, rows[0].State);
        Assert.Equal("WORKER_DIED", rows[0].ErrorType);
        Assert.Equal("boom", rows[0].ErrorMessage);
        Assert.Equal(RayTaskStatus.Finished, rows[1].State);
        Assert.Null(rows[1].ErrorType);
    }

    [Fact]
    public void Filters_and_limit_apply_before_the_reply_and_the_total_counts_every_match()
    {
        for (int i = 0; i < 6; i++)
        {
            var task = TaskId.ForNormalTask(Job);
            Send(Event(task, RayTaskStatus.PendingArgsAvail, info: Info(i % 2 == 0 ? "Even" : "Odd")),
                Event(task, i < 4 ? RayTaskStatus.Finished : RayTaskStatus.Failed, errorType: i < 4 ? null : "TASK_EXECUTION_EXCEPTION"));
        }
        var (limited, total, _, _) = _store.List(2, []);
        Assert.Equal(2, limited.Length);
        Assert.Equal(6, total);

        Assert.Equal(3, List(filters: StateFilter.Parse("name=even")).Length); // values compare ignoring case
        Assert.Equal(2, List(filters: StateFilter.Parse("state=FAILED")).Length);
        var evenFinished = List(filters: [StateFilter.Parse("name=Even"), StateFilter.Parse("state!=FAILED")]);
        Assert.Equal(2, evenFinished.Length);
        Assert.All(evenFinished, r => Assert.Equal(RayTaskStatus.Finished, r.State));
        Assert.Equal(2, List(filters: StateFilter.Parse("error_type=TASK_EXECUTION_EXCEPTION")).Length);

        var e = Assert.Throws<ArgumentException>(() => List(filters: StateFilter.Parse("colour=red")));
        Assert.Contains("'colour'", e.Message);
        Assert.Contains("func_or_class_name", e.Message);
    }

    [Fact]
    public void A_full_store_evicts_the_oldest_attempts_and_counts_them_with_what_workers_dropped()
    {
        using var small = new GcsTaskManager(3, TimeSpan.Zero, NullLogger<GcsTaskManager>.Instance);
        var tasks = Enumerable.Range(0, 5).Select(_ => TaskId.ForNormalTask(Job)).ToList();
        foreach (var t in tasks) small.AddEvents(new TaskEventBatch(Worker, [Event(t, RayTaskStatus.PendingArgsAvail, info: Info("T"))], 0));
        small.AddEvents(new TaskEventBatch(Worker, [], 7));

        var (rows, total, droppedAtWorkers, droppedAtGcs) = small.List(100, []);
        Assert.Equal(3, total);
        Assert.Equal(tasks.Skip(2), rows.Select(r => r.TaskId)); // the two oldest went
        Assert.Equal(2, droppedAtGcs);
        Assert.Equal(7, droppedAtWorkers);
    }

    [Fact]
    public void A_store_that_grew_and_wrapped_around_keeps_the_newest_attempts_in_order_with_all_their_events()
    {
        // Room for 1500: the store grows past its first 1024 slots, then reuses the oldest ones.
        using var store = new GcsTaskManager(1500, TimeSpan.Zero, NullLogger<GcsTaskManager>.Instance);
        var tasks = Enumerable.Range(0, 4000).Select(_ => TaskId.ForNormalTask(Job)).ToList();
        for (int i = 0; i < tasks.Count; i++)
        {
            store.AddEvents(new TaskEventBatch(Worker, [Event(tasks[i], RayTaskStatus.PendingArgsAvail, info: Info("T" + i % 3))], 0));
            // The attempt before this one finishes now: its slot is updated, wherever the ring put it.
            if (i > 0) store.AddEvents(new TaskEventBatch(Worker, [Event(tasks[i - 1], RayTaskStatus.Finished, worker: Worker)], 0));
        }

        var (rows, total, _, droppedAtGcs) = store.List(10_000, []);
        Assert.Equal(1500, total);
        Assert.Equal(2500, droppedAtGcs);
        Assert.Equal(tasks.Skip(2500), rows.Select(r => r.TaskId));
        var states = rows.Select(r => r.ToTaskState()).ToList();
        Assert.All(states.SkipLast(1), r => Assert.Equal(RayTaskStatus.Finished, r.State));
        Assert.Equal(RayTaskStatus.PendingArgsAvail, states[^1].State);
        Assert.Equal("T" + 3999 % 3, states[^1].Name);
        Assert.Equal(4242, states[0].WorkerPid);
        // Attempts that say the same about their task share one record of it.
        Assert.Same(rows[0].Info, rows[3].Info);
    }

    [Fact]
    public void A_dead_workers_running_attempts_fail_until_the_worker_itself_says_how_they_ended()
    {
        var running = TaskId.ForNormalTask(Job);
        var done = TaskId.ForNormalTask(Job);
        Send(Event(running, RayTaskStatus.PendingArgsAvail, info: Info("Long")), Event(running, RayTaskStatus.Running, worker: Worker),
            Event(done, RayTaskStatus.Running, info: Info("Short"), worker: Worker), Event(done, RayTaskStatus.Finished));

        _store.OnWorkerDead(Worker, "it was killed");

        var rows = List();
        Assert.Equal(RayTaskStatus.Failed, rows.Single(r => r.Name == "Long").State);
        Assert.Equal("WORKER_DIED", rows.Single(r => r.Name == "Long").ErrorType);
        Assert.Contains("it was killed", rows.Single(r => r.Name == "Long").ErrorMessage);
        Assert.Equal(RayTaskStatus.Finished, rows.Single(r => r.Name == "Short").State);

        // A late report of the attempt's end replaces the guess.
        Send(Event(running, RayTaskStatus.Finished));
        var late = List().Single(r => r.Name == "Long");
        Assert.Equal(RayTaskStatus.Finished, late.State);
        Assert.Null(late.ErrorType);
    }

    [Fact]
    public async Task When_a_job_finishes_its_unfinished_attempts_are_marked_failed_and_other_jobs_are_left_alone()
    {
        var other = new JobId(8);
        var pending = TaskId.ForNormalTask(Job);
        var finished = TaskId.ForNormalTask(Job);
        var otherJobs = TaskId.ForNormalTask(other);
        Send(Event(pending, RayTaskStatus.PendingNodeAssignment, info: Info("Pending")), Event(finished, RayTaskStatus.Finished, info: Info("Done")),
            Event(otherJobs, RayTaskStatus.Running, info: Info("Other", other)));

        _store.OnJobFinished(Job);

        var deadline = DateTime.UtcNow + ComponentHarness.Timeout;
        while (List().Single(r => r.Name == "Pending").State != RayTaskStatus.Failed)
        {
            Assert.True(DateTime.UtcNow < deadline, "the job's pending task was not marked failed");
            await Task.Delay(10);
        }
        Assert.Equal(RayTaskStatus.Finished, List().Single(r => r.Name == "Done").State);
        Assert.Equal(RayTaskStatus.Running, List().Single(r => r.Name == "Other").State);
    }

    [Fact]
    public void Malformed_batches_are_refused_before_they_touch_the_store()
    {
        var task = TaskId.ForNormalTask(Job);
        TaskEventBatch[] bad =
        [
            new(Worker, [Event(task, RayTaskStatus.Running) with { Attempt = -1 }], 0),
            new(Worker, [Event(task, RayTaskStatus.Running) with { State = (RayTaskStatus)42 }], 0),
            new(Worker, [Event(default, RayTaskStatus.Running)], 0),
            new(Worker, [Event(task, RayTaskStatus.Running) with { TimeMs = 0 }], 0),
            new(Worker, [Event(task, RayTaskStatus.Running) with { WorkerPid = -3 }], 0),
            new(Worker, [Event(task, RayTaskStatus.Running, info: Info("X") with { RequiredResources = new() { ["CPU"] = double.NaN } })], 0),
            new(Worker, [Event(task, RayTaskStatus.Failed) with { ErrorMessage = new string('x', TaskEventBuffer.MaxErrorMessageLength + 1) }], 0),
            new(Worker, [], -1),
        ];
        foreach (var batch in bad)
            Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<RpcException>(() => WireValidation.TaskEvents(batch)).StatusCode);
        Assert.Equal(0, _store.Count);
    }
}

using RaySharp.State;
using Xunit;

namespace RaySharp.Tests;

/// <summary>The state API as a user reads it after running work: tasks from the GCS's task events (sent by the
/// processes about a second after each change, so each test polls until the row it expects is there), objects from
/// every process's reference table, and the GCS's tables.</summary>
public sealed class StateApiTests : RayTest
{
    /// <summary>Task events reach the GCS within a report interval or two; this is generous.</summary>
    private static readonly TimeSpan EventDeadline = TimeSpan.FromSeconds(30);

    /// <summary>Lists until <paramref name="done"/> holds for the rows, failing with the last rows at the deadline.</summary>
    private static TaskListResult WaitForTasks(Func<TaskListResult, bool> done, params StateFilter[] filters)
    {
        var deadline = DateTime.UtcNow + EventDeadline;
        while (true)
        {
            var tasks = StateApi.ListTasks(StateApi.MaxLimit, filters);
            if (done(tasks)) return tasks;
            Assert.True(DateTime.UtcNow < deadline, "the task events did not arrive; rows now: " +
                string.Join("; ", tasks.Select(t => $"{t.Name} {t.State} attempt {t.AttemptNumber}")));
            Thread.Sleep(50); // polling the GCS for the condition above
        }
    }

    private static StateFilter TaskIdIs(ObjectRef r) => new("task_id", r.Id.TaskId.ToString());

    [Fact]
    public void A_finished_task_is_listed_as_finished_with_its_name_and_where_it_ran()
    {
        var sum = Tasks.Remote.Add(20, 22);
        Assert.Equal(42, sum.Get(Timeout));

        var tasks = WaitForTasks(t => t.Count == 1 && t[0].State == RayTaskStatus.Finished && t[0].WorkerPid is not null, TaskIdIs(sum));
        var task = tasks[0];
        Assert.Equal(RayTaskType.NormalTask, task.Type);
        Assert.Contains(nameof(Tasks.Add), task.Name);
        Assert.Contains(nameof(Tasks.Add), task.FuncOrClassName);
        Assert.Equal(Ray.GetRuntimeContext().JobId.ToString(), task.JobId);
        Assert.Equal(0, task.AttemptNumber);
        Assert.Equal(Ray.Nodes().Single().Id.ToString(), task.NodeId);
        Assert.NotNull(task.WorkerId);
        Assert.Null(task.ErrorType);
        Assert.Contains(task.Events, e => e.State == RayTaskStatus.Running);
        Assert.True(task.EndTimeMs >= task.CreationTimeMs);
    }

    [Fact]
    public void A_failing_task_is_listed_as_failed_with_its_error_type_and_exception()
    {
        var failing = Tasks.Remote.Fail("listed");
        Assert.Throws<RayTaskException>(() => failing.Get(Timeout));

        var task = WaitForTasks(t => t.Count == 1 && t[0].State == RayTaskStatus.Failed, TaskIdIs(failing))[0];
        Assert.Equal("TASK_EXECUTION_EXCEPTION", task.ErrorType);
        Assert.Contains(typeof(SpecificAppException).FullName!, task.ErrorMessage);
        Assert.Contains("listed", task.ErrorMessage);
    }

    [Fact]
    public void Limit_and_filters_narrow_the_list_and_the_total_counts_every_match()
    {
        var refs = Enumerable.Range(0, 5).Select(i => Tasks.Remote.Add(i, 1)).ToList();
        Ray.Get(refs, Timeout);
        var ids = refs.Select(r => r.Id.TaskId.ToString()).ToHashSet();
        var finished = new StateFilter("state", "FINISHED");
        WaitForTasks(t => ids.IsSubsetOf(t.Select(x => x.TaskId)), finished);

        var two = StateApi.ListTasks(2, finished);
        Assert.Equal(2, two.Count);
        Assert.True(two.Total >= 5, $"total {two.Total}");
        Assert.Empty(StateApi.ListTasks(100, finished, StateFilter.Parse("state!=finished")));
        Assert.Throws<ArgumentException>(() => StateApi.ListTasks(10, StateFilter.Parse("no_such_field=1")));
        Assert.Throws<ArgumentOutOfRangeException>(() => StateApi.ListTasks(0));
    }

    [Fact]
    public void Actor_calls_are_listed_with_their_actor_and_the_actor_with_its_class()
    {
        var counter = Counter.Remote.Create(0);
        var call = counter.Increment();
        Assert.Equal(1, call.Get(Timeout));

        var task = WaitForTasks(t => t.Count == 1 && t[0].State == RayTaskStatus.Finished, TaskIdIs(call))[0];
        Assert.Equal(RayTaskType.ActorTask, task.Type);
        Assert.Equal(counter.Id.ToString(), task.ActorId);
        var creation = WaitForTasks(t => t.Any(x => x.State == RayTaskStatus.Finished), new StateFilter("type", "ACTOR_CREATION_TASK"),
            new StateFilter("actor_id", counter.Id.ToString()));
        Assert.Contains(nameof(Counter), creation[0].FuncOrClassName);

        var actor = Assert.Single(StateApi.ListActors(filters: new StateFilter("actor_id", counter.Id.ToString())));
        Assert.Equal("ALIVE", actor.State);
        Assert.Contains(nameof(Counter), actor.ClassName);
        Assert.True(StateApi.SummarizeActors().Summary[actor.ClassName].StateCounts["ALIVE"] >= 1);
    }

    [Fact]
    public void Tasks_and_actors_with_task_events_off_are_not_listed()
    {
        var quietTask = Tasks.Remote.WithOptions(new TaskOptions { EnableTaskEvents = false }).Add(1, 2);
        var quietActor = Counter.Remote.WithOptions(new ActorOptions { EnableTaskEvents = false }).Create(0);
        var quietCall = quietActor.Increment();
        Assert.Equal(3, quietTask.Get(Timeout));
        Assert.Equal(1, quietCall.Get(Timeout));
        // Submitted after them, with events on: once its worker's Running is in, the driver's events for the quiet ones
        // would have been sent too (the driver sends its events in order).
        var marker = Tasks.Remote.Add(2, 2);
        Assert.Equal(4, marker.Get(Timeout));
        WaitForTasks(t => t.Count == 1 && t[0].State == RayTaskStatus.Finished && t[0].WorkerPid is not null, TaskIdIs(marker));

        Assert.Empty(StateApi.ListTasks(StateApi.MaxLimit, TaskIdIs(quietTask)));
        Assert.Empty(StateApi.ListTasks(StateApi.MaxLimit, new StateFilter("actor_id", quietActor.Id.ToString())));
        // The actor itself is still listed: only its task events are off.
        Assert.Single(StateApi.ListActors(filters: new StateFilter("actor_id", quietActor.Id.ToString())));
    }

    [Fact]
    public void A_put_object_is_listed_by_its_owner_with_its_size_and_reference()
    {
        var data = Ray.Put(new byte[1000]);
        var objects = StateApi.ListObjects(filters: new StateFilter("object_id", data.Id.ToString()));
        var o = Assert.Single(objects);
        Assert.True(o.IsOwner);
        Assert.Equal("DRIVER", o.Type);
        Assert.Equal(Environment.ProcessId, o.Pid);
        Assert.Equal(ReferenceType.LocalReference, o.ReferenceType);
        Assert.True(o.ObjectSize >= 1000, $"size {o.ObjectSize}");
        Assert.True(o.LocalRefCount >= 1);
        Assert.Empty(objects.Warnings);
        GC.KeepAlive(data);
    }

    [Fact]
    public void The_summary_counts_each_functions_tasks_per_state()
    {
        var ok = Tasks.Remote.Add(1, 1);
        var failing = Tasks.Remote.Fail("summarized");
        ok.Get(Timeout);
        Assert.Throws<RayTaskException>(() => failing.Get(Timeout));
        WaitForTasks(t => t.Count == 1 && t[0].State == RayTaskStatus.Failed, TaskIdIs(failing));

        var summary = StateApi.SummarizeTasks();
        var fail = summary.Summary.Values.Single(e => e.FuncOrClassName.EndsWith(nameof(Tasks.Fail), StringComparison.Ordinal));
        Assert.True(fail.StateCounts["FAILED"] >= 1);
        Assert.True(summary.TotalTasks >= 2);
    }

    [Fact]
    public void Nodes_and_jobs_are_listed_from_the_gcs_tables()
    {
        var node = Assert.Single(StateApi.ListNodes());
        Assert.Equal("ALIVE", node.State);
        Assert.True(node.IsHeadNode);
        Assert.Equal(4, node.ResourcesTotal["CPU"]);
        var job = StateApi.ListJobs(filters: new StateFilter("job_id", Ray.GetRuntimeContext().JobId.ToString())).Single();
        Assert.Equal("RUNNING", job.Status);
        Assert.Equal(Environment.ProcessId, job.DriverPid);
    }
}

using Xunit;

namespace RaySharp.Tests;

public sealed class TaskTests : RayTest
{
    [Fact]
    public async Task Remote_function_returns_its_value_by_await_and_by_get()
    {
        var sum = Tasks.Remote.Add(1, 2);
        Assert.Equal(3, await sum);
#pragma warning disable RAY114 // the blocking forms are what this test checks, next to await
        Assert.Equal(3, sum.Get(Timeout));
        Assert.Equal(3, Ray.Get(sum, Timeout));
#pragma warning restore RAY114
    }

    [Fact]
    public void A_ref_can_be_passed_where_a_value_is_expected()
    {
        var a = Tasks.Remote.Add(1, 2);
        var b = Tasks.Remote.Add(a, 10);
        var c = Tasks.Remote.Add(b, a);
        Assert.Equal(16, c.Get(Timeout));
    }

    [Fact]
    public void MemoryPackable_user_types_cross_the_wire()
    {
        var moved = Tasks.Remote.Move(new Point(1, 2), 5);
        Assert.Equal(new Point(6, 2), moved.Get(Timeout));
    }

    [Fact]
    public async Task Async_and_void_functions_complete()
    {
        Assert.Equal("hi", await Tasks.Remote.Echo("hi"));
        ObjectRef done = Tasks.Remote.Nothing();
        await done;
    }

    [Fact]
    public void NumReturns_gives_one_ref_per_tuple_element()
    {
        var (sum, text) = Tasks.Remote.Both(2, 3);
        Assert.Equal(5, sum.Get(Timeout));
        Assert.Equal("2+3", text.Get(Timeout));
        Assert.NotEqual(sum.Id, text.Id);
        Assert.Equal(sum.Id.TaskId, text.Id.TaskId);
    }

    [Fact]
    public void Get_of_many_returns_values_in_order()
    {
        var refs = Enumerable.Range(0, 20).Select(i => Tasks.Remote.Add(i, i)).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => 2 * i), Ray.Get(refs, Timeout));
    }

    [Fact]
    public async Task GetAsync_returns_values_in_order()
    {
        var refs = Enumerable.Range(0, 10).Select(i => Tasks.Remote.Add(i, 1)).ToList();
        Assert.Equal(Enumerable.Range(1, 10), await Ray.GetAsync(refs, Timeout));
    }

    [Fact]
    public void User_exception_surfaces_as_RayTaskException_with_remote_details()
    {
        var e = Assert.Throws<RayTaskException>(() => Tasks.Remote.Fail("boom").Get(Timeout));
        Assert.Equal(typeof(SpecificAppException).FullName, e.RemoteExceptionType);
        Assert.Equal("boom", e.RemoteMessage);
        Assert.Contains(nameof(Tasks.Fail), e.FunctionName);
        Assert.Contains(nameof(Tasks.Fail), e.RemoteStackTrace);
        Assert.True(e.IsCausedBy<SpecificAppException>());
        Assert.True(e.IsCausedBy<AppException>());
        Assert.True(e.IsCausedBy<Exception>());
        Assert.False(e.IsCausedBy<ArgumentException>());
    }

    [Fact]
    public async Task Awaiting_a_failed_task_throws_too()
    {
        var e = await Assert.ThrowsAsync<RayTaskException>(async () => await Tasks.Remote.FailWithArgument("bad"));
        Assert.True(e.IsCausedBy<ArgumentException>());
        await Assert.ThrowsAsync<RayTaskException>(async () => await (ObjectRef)Tasks.Remote.Fail("x"));
    }

    [Fact]
    public void A_task_whose_argument_failed_raises_the_upstream_error_without_running()
    {
        var attempts = Tally.Remote.Create();
        var failed = Tasks.Remote.Fail("upstream");
        var downstream = Tasks.Remote.CountAttempt(attempts, failed);
        var e = Assert.Throws<RayTaskException>(() => downstream.Get(Timeout));
        Assert.Contains(nameof(Tasks.Fail), e.FunctionName);
        Assert.Equal("upstream", e.RemoteMessage);
        Assert.Equal(0, attempts.Value().Get(Timeout)); // CountAttempt never ran
    }

    [Fact]
    public void A_value_that_cannot_be_serialized_fails_at_the_call()
    {
        var e = Assert.Throws<ArgumentException>(() => Tasks.Remote.Describe(new NotSerializable { Callback = () => 1 }));
        Assert.Contains(nameof(NotSerializable), e.Message);
    }

    [Fact]
    public void RetryExceptions_retries_user_errors_until_success()
    {
        var attempts = Tally.Remote.Create();
        var r = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 3, RetryExceptions = true }).CountAttempt(attempts, 2);
        Assert.Equal(3, r.Get(Timeout));
    }

    [Fact]
    public void Without_RetryExceptions_user_errors_are_not_retried()
    {
        var attempts = Tally.Remote.Create();
        var r = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 3 }).CountAttempt(attempts, 1);
        Assert.Throws<RayTaskException>(() => r.Get(Timeout));
        Assert.Equal(1, attempts.Value().Get(Timeout));
    }

    [Fact]
    public void Retries_stop_at_MaxRetries()
    {
        var attempts = Tally.Remote.Create();
        var r = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 2, RetryExceptions = true }).CountAttempt(attempts, 10);
        var e = Assert.Throws<RayTaskException>(() => r.Get(Timeout));
        Assert.Contains("attempt 3", e.RemoteMessage);
        Assert.Equal(3, attempts.Value().Get(Timeout));
    }

    [Fact]
    public void RetryExceptionTypes_retries_only_the_listed_types()
    {
        var attempts = Tally.Remote.Create();
        var retried = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 3, RetryExceptionTypes = [typeof(AppException)] })
            .CountAttempt(attempts, 1);
        Assert.Equal(2, retried.Get(Timeout));

        var other = Tally.Remote.Create();
        var notRetried = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 3, RetryExceptionTypes = [typeof(AppException)] })
            .CountAttemptThrowingArgument(other);
        Assert.Throws<RayTaskException>(() => notRetried.Get(Timeout));
        Assert.Equal(1, other.Value().Get(Timeout));
    }

    [Fact]
    public void Get_times_out_with_GetTimeoutException()
    {
        var gate = Gate.Remote.Create();
        var waiting = gate.WaitOpen();
        var e = Assert.Throws<GetTimeoutException>(() => waiting.Get(TimeSpan.FromMilliseconds(50)));
        Assert.Contains(waiting.Id.ToString(), e.Message);
        gate.Open(7);
        Assert.Equal(7, waiting.Get(Timeout));
    }

    [Fact]
    public async Task GetAsync_times_out_with_GetTimeoutException()
    {
        var gate = Gate.Remote.Create();
        await Assert.ThrowsAsync<GetTimeoutException>(() => Ray.GetAsync([gate.WaitOpen()], TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void Nested_blocking_gets_do_not_deadlock_a_one_cpu_node()
    {
        Context.Dispose();
        using var ray = Ray.Init(new RayOptions { LocalMode = TestMode.Local, NumCpus = 1 });
        // In a cluster every blocked level holds a worker process, so the chain starts 21 of them one after another.
        Assert.Equal(21, Tasks.Remote.Nested(20).Get(TestMode.Local ? Timeout : TimeSpan.FromMinutes(3)));
    }

    [Fact]
    public void Runtime_env_vars_are_visible_to_the_task()
    {
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["RAYSHARP_TEST_VAR"] = "from-options" } };
        Assert.Equal("from-options", Tasks.Remote.WithOptions(new TaskOptions { RuntimeEnv = env }).ReadEnv("RAYSHARP_TEST_VAR").Get(Timeout));
        Assert.Null(Tasks.Remote.ReadEnv("RAYSHARP_TEST_VAR").Get(Timeout));
    }

    [Fact]
    public void Task_options_are_validated_at_the_call()
    {
        var e = Assert.Throws<ArgumentException>(() => Tasks.Remote.WithOptions(new TaskOptions { NumCpus = 1.5 }).Add(1, 2));
        Assert.Contains("NumCpus", e.Message);
        Assert.Throws<ArgumentException>(() => Tasks.Remote.WithOptions(new TaskOptions { NumGpus = -1 }).Add(1, 2));
        Assert.Throws<ArgumentException>(() =>
            Tasks.Remote.WithOptions(new TaskOptions { Resources = new Dictionary<string, double> { ["disk"] = -2 } }).Add(1, 2));
        Assert.Equal(3, Tasks.Remote.WithOptions(new TaskOptions { NumCpus = 0.5 }).Add(1, 2).Get(Timeout));
    }

    [Fact]
    public void Hard_affinity_to_an_unknown_node_is_unschedulable_and_soft_falls_back()
    {
        var elsewhere = NodeId.FromRandom();
        var hard = Tasks.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(elsewhere) }).Add(1, 1);
        Assert.Throws<TaskUnschedulableException>(() => hard.Get(Timeout));
        var soft = Tasks.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(elsewhere, soft: true) }).Add(1, 1);
        Assert.Equal(2, soft.Get(Timeout));
        var here = Ray.Nodes()[0].Id;
        Assert.Equal(2, Tasks.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(here) }).Add(1, 1).Get(Timeout));
    }
}

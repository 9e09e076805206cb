using Xunit;

namespace RaySharp.Tests;

/// <summary>Ray's documented semantics and clear errors for bad input, in local mode and on the cluster.</summary>
public sealed class InputAndSemanticsTests : RayTest
{
    [Fact]
    public void Get_of_a_list_throws_as_soon_as_one_object_failed_without_waiting_for_the_others()
    {
        var gate = Gate.Remote.Create();
        var never = gate.WaitOpen();
        var failed = Tasks.Remote.Fail("boom");
        // The gate stays closed: the Get can only return by noticing the failure.
        var e = Assert.Throws<RayTaskException>(() => Ray.Get([never, failed], Timeout));
        Assert.Contains("boom", e.Message);
        Assert.Empty(Ray.Wait([never], timeout: TimeSpan.Zero).Ready);
        Ray.Wait([gate.Open(1)], timeout: Timeout);
    }

    [Fact]
    public async Task GetAsync_of_a_list_throws_as_soon_as_one_object_failed()
    {
        var gate = Gate.Remote.Create();
        var never = gate.WaitOpen();
        var failed = Tasks.Remote.Fail("boom");
        await Assert.ThrowsAsync<RayTaskException>(() => Ray.GetAsync([never, failed], Timeout));
        await gate.Open(1);
    }

    [Fact]
    public void Timeouts_must_be_zero_positive_or_infinite()
    {
        var r = Tasks.Remote.Add(1, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Get(TimeSpan.FromSeconds(-2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ray.Get([r], TimeSpan.FromMilliseconds(-5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ray.Wait([r], timeout: TimeSpan.FromSeconds(-1)));
        Assert.Equal(3, r.Get(System.Threading.Timeout.InfiniteTimeSpan));
        Assert.Single(Ray.Wait([r], timeout: TimeSpan.Zero).Ready);
    }

    [Fact]
    public void A_null_ref_in_a_list_is_named()
    {
        var r = Tasks.Remote.Add(1, 2);
        var e = Assert.Throws<ArgumentException>(() => Ray.Get([r, null!], Timeout));
        Assert.Contains("index 1", e.Message);
        Assert.Throws<ArgumentException>(() => Ray.Wait([r, null!], timeout: Timeout));
    }

    [Fact]
    public void Actor_options_out_of_range_are_refused_at_creation()
    {
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { MaxPendingCalls = 0 }).Create());
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { MaxPendingCalls = -2 }).Create());
        var e = Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { Name = new string('a', 10_000) }).Create());
        Assert.Contains("at most", e.Message);
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { Name = "   " }).Create());
    }

    [Fact]
    public void GetActor_with_an_empty_or_blank_name_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => Ray.GetActor<Counter>(""));
        Assert.Throws<ArgumentException>(() => Ray.GetActor<Counter>("  "));
        Assert.Throws<ArgumentNullException>(() => Ray.GetActor<Counter>(null!));
    }

    [Fact]
    public void An_actor_killed_right_after_creation_fails_its_calls()
    {
        var counter = Counter.Remote.Create();
        Ray.Kill(counter);
        Assert.Throws<ActorDiedException>(() => counter.Increment().Get(Timeout));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("A=B")]
    public void Env_var_names_the_OS_cannot_set_are_refused_at_the_call(string name)
    {
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { [name] = "1" } };
        var e = Assert.Throws<ArgumentException>(() => Tasks.Remote.WithOptions(new TaskOptions { RuntimeEnv = env }).Add(1, 2));
        Assert.Contains("variable name", e.Message);
        Assert.Throws<ArgumentException>(() => Counter.Remote.WithOptions(new ActorOptions { RuntimeEnv = env }).Create());
    }

    [Fact]
    public void A_working_dir_that_does_not_exist_is_refused_at_the_call()
    {
        string missing = Path.Combine(Path.GetTempPath(), "raysharp-missing-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<ArgumentException>(() =>
            Tasks.Remote.WithOptions(new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = missing } }).Add(1, 2));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void A_serializer_that_throws_is_a_RayException_naming_the_type_and_the_call()
    {
        var put = Assert.Throws<RayException>(() => Ray.Put(new Exploding()));
        Assert.Contains(typeof(Exploding).FullName!, put.Message);
        Assert.Contains("Ray.Put", put.Message);
        Assert.Contains("refuses to be written", put.Message);

        var arg = Assert.Throws<RayException>(() => Tasks.Remote.TakeExploding(new Exploding()));
        Assert.Contains("argument 0", arg.Message);
        Assert.Contains("TakeExploding", arg.Message);
    }

    [Fact]
    public void RetryExceptions_false_turns_retries_off_even_with_a_list_of_types()
    {
        var attempts = Tally.Remote.Create();
        var r = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 3, RetryExceptions = false, RetryExceptionTypes = [typeof(AppException)] })
            .CountAttempt(attempts, 1);
        Assert.Throws<RayTaskException>(() => r.Get(Timeout));
        Assert.Equal(1, attempts.Value().Get(Timeout));
    }

    [Fact]
    public void A_listed_exception_type_retries_its_subclasses()
    {
        var attempts = Tally.Remote.Create();
        // CountAttempt throws SpecificAppException, a subclass of the listed AppException.
        var r = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 3, RetryExceptions = true, RetryExceptionTypes = [typeof(AppException)] })
            .CountAttempt(attempts, 2);
        Assert.Equal(3, r.Get(Timeout));
    }
}

using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The wait behind <c>Ray.Get(list)</c>: done when every object is there, or at the first error, however the
/// objects' arrivals interleave with the call.</summary>
public class GetListTests
{
    [Fact]
    public void Objects_arriving_while_the_wait_is_set_up_still_complete_it()
    {
        // Objects arrive on another thread while the wait counts and subscribes to them: each must be seen exactly
        // once, whichever side of the subscription it lands on.
        for (int round = 0; round < 300; round++)
        {
            var sources = Enumerable.Range(0, 64)
                .Select(_ => new TaskCompletionSource<RayObject>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
            var pending = sources.Select(s => s.Task).ToArray();
            using var start = new Barrier(2);
            var producer = Task.Run(() =>
            {
                start.SignalAndWait();
                foreach (var s in sources) s.SetResult(RayObject.Void);
            });
            start.SignalAndWait();
            var all = CoreWorker.WhenAllOrFirstError(pending);
            producer.Wait();
            Assert.True(all.Wait(TimeSpan.FromSeconds(10)), $"round {round}: every object arrived but the wait never completed");
        }
    }

    [Fact]
    public void The_first_error_completes_the_wait_without_the_others()
    {
        var ok = new TaskCompletionSource<RayObject>();
        var failed = new TaskCompletionSource<RayObject>();
        var never = new TaskCompletionSource<RayObject>();
        var all = CoreWorker.WhenAllOrFirstError([ok.Task, failed.Task, never.Task]);
        ok.SetResult(RayObject.Void);
        Assert.False(all.IsCompleted);
        failed.SetResult(RayObject.FromError(new RayErrorInfo { Kind = ErrorKind.TaskException, Message = "boom" }));
        Assert.True(all.Wait(TimeSpan.FromSeconds(10)));
    }
}

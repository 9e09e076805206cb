using System.Collections.Concurrent;
using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The executor behind a worker's threads: a fixed bound on threads whatever the load, work started in
/// posting order, threads started only when the work needs them.</summary>
public sealed class BoundedExecutorTests : IDisposable
{
    private static readonly TimeSpan Wait = ComponentHarness.Timeout;
    private readonly BoundedExecutor _executor = new(4, "test executor");

    public void Dispose() => _executor.Dispose();

    [Fact]
    public void A_thousand_items_posted_at_once_run_on_at_most_the_bound_of_threads()
    {
        var threads = new ConcurrentDictionary<int, byte>();
        int running = 0, peak = 0;
        using var done = new CountdownEvent(1000);
        using var release = new ManualResetEventSlim();
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(_executor.TryPost(() =>
            {
                threads.TryAdd(Environment.CurrentManagedThreadId, 0);
                Running.Enter(ref running, ref peak);
                release.Wait(Wait);
                Running.Exit(ref running);
                done.Signal();
            }));
        }
        release.Set();
        Assert.True(done.Wait(Wait));
        Assert.InRange(threads.Count, 1, 4);
        Assert.InRange(peak, 1, 4);
        Assert.InRange(_executor.Threads, 1, 4);
    }

    [Fact]
    public void Blocking_items_run_side_by_side_up_to_the_bound()
    {
        AssertAllRunAtOnce(_executor, 4);
        Assert.Equal(4, _executor.Threads);
    }

    [Fact]
    public void One_thread_runs_items_in_posting_order_and_starts_only_when_needed()
    {
        using var single = new BoundedExecutor(1, "single");
        var order = new ConcurrentQueue<int>();
        using var done = new CountdownEvent(200);
        for (int i = 0; i < 200; i++)
        {
            int n = i;
            single.TryPost(() =>
            {
                order.Enqueue(n);
                done.Signal();
            });
        }
        Assert.True(done.Wait(Wait));
        Assert.Equal(Enumerable.Range(0, 200), order);
        Assert.Equal(1, single.Threads);
    }

    [Fact]
    public void Work_posted_one_item_at_a_time_needs_one_thread()
    {
        for (int i = 0; i < 50; i++)
        {
            using var ran = new ManualResetEventSlim();
            _executor.TryPost(ran.Set);
            Assert.True(ran.Wait(Wait));
        }
        // A thread finishing its item may still count it for an instant: at most one more thread than needed.
        Assert.InRange(_executor.Threads, 1, 2);
    }

    [Fact]
    public void Raising_the_bound_lets_more_items_run_at_once()
    {
        using var executor = new BoundedExecutor(1, "raised");
        executor.RaiseBound(3);
        executor.RaiseBound(2);
        Assert.Equal(3, executor.MaxThreads);
        AssertAllRunAtOnce(executor, 3);
    }

    /// <summary>Posts <paramref name="count"/> items that each return only once all of them are running.</summary>
    private static void AssertAllRunAtOnce(BoundedExecutor executor, int count)
    {
        using var meeting = new Barrier(count);
        var met = new ConcurrentBag<bool>();
        using var done = new CountdownEvent(count);
        for (int i = 0; i < count; i++)
            Assert.True(executor.TryPost(() =>
            {
                met.Add(meeting.SignalAndWait(Wait));
                done.Signal();
            }));
        Assert.True(done.Wait(Wait));
        Assert.Equal(count, met.Count(m => m));
    }

    [Fact]
    public void After_completion_nothing_more_is_accepted_but_queued_work_still_runs()
    {
        using var single = new BoundedExecutor(1, "completing");
        using var gate = new ManualResetEventSlim();
        using var second = new ManualResetEventSlim();
        single.TryPost(() => gate.Wait(Wait));
        single.TryPost(second.Set);
        single.Complete();
        Assert.False(single.TryPost(() => { }));
        gate.Set();
        Assert.True(second.Wait(Wait));
    }
}

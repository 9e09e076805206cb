using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The raylet's worker pool alone (as Ray's worker_pool_test does), over a fake launcher: prestarting,
/// claiming a worker still starting, and stopping idle extras.</summary>
public sealed class WorkerPoolTests : IDisposable
{
    private static readonly TimeSpan Wait = ComponentHarness.Timeout;
    private static readonly JobId Job = new(3000);

    private readonly FakeRayletGcs _gcs = new();
    private readonly ConcurrentQueue<(WorkerProcess Worker, string Reason)> _died = new();
    private WorkerPool _pool = null!;

    public WorkerPoolTests() => _gcs.AddJob(Job);

    public void Dispose() => _pool?.Dispose();

    private FakeWorkerLauncher NewPool(int maxIdle, bool autoRegister = true, TimeSpan? idleKillingTime = null, int startupConcurrency = 0,
        int maxWorkers = 0)
    {
        var launcher = new FakeWorkerLauncher { AutoRegister = autoRegister };
        var config = new RayConfig
        {
            IdleWorkerKillingTime = idleKillingTime ?? TimeSpan.FromMinutes(10), MaximumStartupConcurrency = startupConcurrency,
            MaxWorkerProcessesPerNode = maxWorkers,
        };
        _pool = new WorkerPool(NodeId.FromRandom(), maxIdle, config,
            launcher, () => "raylet-a", () => "gcs-fake", async (job, ct) => (await _gcs.GetJobAsync(job, ct))!,
            (w, reason) => _died.Enqueue((w, reason)), NullLogger<WorkerPool>.Instance);
        launcher.Register = _pool.OnWorkerRegistered;
        return launcher;
    }

    private Task<WorkerProcess> Pop(string env = "", WorkerUse use = WorkerUse.Task) =>
        _pool.PopWorkerAsync(Job, env, null, use, CancellationToken.None).WaitAsync(Wait);

    [Fact]
    public async Task Idle_workers_beyond_the_CPU_count_are_stopped_after_the_idle_time_longest_idle_first()
    {
        var launcher = NewPool(maxIdle: 1, idleKillingTime: TimeSpan.FromMilliseconds(50));
        var workers = new[] { await Pop(), await Pop(), await Pop() };
        Assert.Equal(3, launcher.Started.Count);
        foreach (var w in workers) _pool.PushWorker(w);

        var handles = workers.Select(w => launcher.HandleOf(w.WorkerId)).ToArray();
        Assert.Contains("idle", await handles[0].Killed.Task.WaitAsync(Wait));
        Assert.Contains("idle", await handles[1].Killed.Task.WaitAsync(Wait));
        // One idle worker per CPU stays, the one idle the shortest.
        Assert.False(handles[2].Killed.Task.IsCompleted);
        Assert.Equal(1, _pool.NumWorkers);
        Assert.Same(workers[2], await Pop());
        Assert.Equal(3, launcher.Started.Count);
    }

    [Fact]
    public async Task At_most_maximum_startup_concurrency_workers_start_at_once()
    {
        var launcher = NewPool(maxIdle: 4, autoRegister: false, startupConcurrency: 2);
        var pops = Enumerable.Range(0, 3).Select(_ => Pop()).ToList();
        await launcher.Starts.WhenAtLeast(2);
        // The third waits for a slot: no process is started for it while two are starting.
        Assert.Equal(2, _pool.NumStarting);
        Assert.Equal(2, launcher.Started.Count);

        Assert.True(launcher.Started[0].Register());
        await launcher.Starts.WhenAtLeast(3);
        foreach (var h in launcher.Started.Skip(1)) Assert.True(h.Register());
        await Task.WhenAll(pops);
        Assert.Equal(0, _pool.NumStarting);
        Assert.Equal(3, launcher.Started.Count);
    }

    [Fact]
    public async Task A_pop_claims_a_prestarted_worker_still_starting_instead_of_starting_another()
    {
        var launcher = NewPool(maxIdle: 4, autoRegister: false);
        _pool.PrestartForJob(Job, 2);
        await launcher.Starts.WhenAtLeast(2);

        var pop = Pop();
        Assert.False(pop.IsCompleted);
        Assert.Equal(2, launcher.Started.Count);
        foreach (var h in launcher.Started) Assert.True(h.Register());
        var worker = await pop;
        Assert.Contains(worker.Address, launcher.Started.Select(h => h.Address));
        Assert.Equal(2, launcher.Started.Count);

        // A job is prestarted for only once.
        _pool.PrestartForJob(Job, 2);
        Assert.Equal(2, launcher.Started.Count);
    }

    /// <summary>A pool whose workers register when the test says, with one worker started, registered and popped.</summary>
    private async Task<(FakeWorkerLauncher Launcher, WorkerProcess Held)> LeaseTheFirstWorker()
    {
        var launcher = NewPool(maxIdle: 4, autoRegister: false);
        var first = Pop();
        await launcher.Starts.WhenAtLeast(1);
        Assert.True(launcher.Started[0].Register());
        return (launcher, await first);
    }

    [Fact]
    public async Task A_worker_returned_while_a_pop_waits_for_a_start_is_handed_to_that_pop_and_the_new_one_stays_idle()
    {
        var (launcher, held) = await LeaseTheFirstWorker();

        // A lease asks while the only worker is leased: a process starts for it, and the lease waits for it...
        var second = Pop();
        await launcher.Starts.WhenAtLeast(2);
        Assert.False(second.IsCompleted);
        // ...until the leased worker comes back, which the waiting lease takes rather than waiting out the start.
        _pool.PushWorker(held);
        Assert.Same(held, await second);

        // The started worker is not lost: once it registers it is idle, and the next lease gets it with no new start.
        Assert.True(launcher.Started[1].Register());
        var third = await Pop();
        Assert.Equal(launcher.Started[1].Address, third.Address);
        Assert.Equal(2, launcher.Started.Count);
    }

    [Fact]
    public async Task A_returned_worker_goes_only_to_a_pop_of_its_own_runtime_env()
    {
        var (launcher, held) = await LeaseTheFirstWorker();

        var otherEnv = Pop(env: "env-b");
        await launcher.Starts.WhenAtLeast(2);
        _pool.PushWorker(held);
        Assert.False(otherEnv.IsCompleted);
        Assert.Same(held, await Pop());
        Assert.True(launcher.Started[1].Register());
        Assert.Equal("env-b", (await otherEnv).RuntimeEnvKey);
    }

    [Fact]
    public async Task A_worker_is_only_handed_out_for_its_own_runtime_env()
    {
        var launcher = NewPool(maxIdle: 4);
        var plain = await Pop();
        _pool.PushWorker(plain);
        var withEnv = await Pop(env: "env-b");
        Assert.NotSame(plain, withEnv);
        Assert.Equal("env-b", withEnv.RuntimeEnvKey);
        Assert.Same(plain, await Pop());
        Assert.Equal(2, launcher.Started.Count);
    }

    [Fact]
    public async Task A_worker_that_exits_is_reported_once_and_leaves_the_pool()
    {
        var launcher = NewPool(maxIdle: 4);
        var worker = await Pop();
        _pool.PushWorker(worker);
        launcher.HandleOf(worker.WorkerId).Exit();

        var (died, reason) = Assert.Single(_died);
        Assert.Same(worker, died);
        Assert.Contains("exited with code 1", reason);
        Assert.Equal(0, _pool.NumWorkers);
        Assert.NotSame(worker, await Pop());
    }

    [Fact]
    public async Task At_the_worker_cap_an_idle_worker_of_another_env_is_stopped_to_make_room()
    {
        var launcher = NewPool(maxIdle: 1, maxWorkers: 1);
        var other = await Pop(env: "env-a", use: WorkerUse.ZeroResourceTask);
        _pool.PushWorker(other);

        var worker = await Pop(env: "env-b", use: WorkerUse.ZeroResourceTask);
        Assert.Equal("env-b", worker.RuntimeEnvKey);
        Assert.Contains("worker limit", await launcher.HandleOf(other.WorkerId).Killed.Task.WaitAsync(Wait));
        Assert.Equal(1, _pool.NumWorkers);
    }

    [Fact]
    public async Task Actors_get_workers_beyond_max_worker_processes_per_node_and_do_not_count_against_it()
    {
        var launcher = NewPool(maxIdle: 1, maxWorkers: 2);
        var actors = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Pop(use: WorkerUse.Actor))).WaitAsync(Wait);
        Assert.All(actors, a => Assert.True(a.IsActor));
        Assert.Equal(5, launcher.Started.Count);

        // Tasks still have the whole cap: the actors' workers are not in it.
        await Pop(use: WorkerUse.ZeroResourceTask);
        await Pop(use: WorkerUse.ZeroResourceTask);
        var third = _pool.PopWorkerAsync(Job, "", null, WorkerUse.ZeroResourceTask, CancellationToken.None);
        Assert.False(third.IsCompleted);
        Assert.Equal(7, launcher.Started.Count);
    }

    [Fact]
    public async Task A_pop_waiting_at_the_limit_that_is_canceled_leaves_nothing_behind()
    {
        var launcher = NewPool(maxIdle: 1, maxWorkers: 1);
        await Pop(use: WorkerUse.ZeroResourceTask);
        using var cancel = new CancellationTokenSource();
        var waiting = _pool.PopWorkerAsync(Job, "", null, WorkerUse.ZeroResourceTask, cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Wait));
        Assert.Single(launcher.Started);
        Assert.Equal(1, _pool.NumWorkers);
    }
}

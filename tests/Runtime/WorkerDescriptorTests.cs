#if RAYSHARP_CLUSTER_TESTS
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests;

/// <summary>The embedded raylet lives in the driver's process: every worker it ever started must give back the
/// descriptors it used (stdin lifeline, output pipes, log files, the process object) once it exits (worker
/// processes only).</summary>
public sealed class WorkerDescriptorTests : RayTest
{
    private const int IdleKept = 4; // the soft limit: RayTest's NumCpus

    [Fact]
    public void Workers_that_exited_leave_no_descriptors_open_in_the_raylet()
    {
        // Warm up: every path (channels, log files, assemblies) has run once, and the pool is back to its idle workers.
        RunEachInANewWorker(IdleKept + 2, "warm-up");
        WaitForWorkers(IdleKept);
        int before = OpenDescriptors();

        // A distinct env var each: twenty new worker processes, all but the newest few stopped once idle.
        RunEachInANewWorker(20, "measured");
        WaitForWorkers(IdleKept);
        // Released once each exited worker's output has drained: wait for the count to come back, then compare.
        int after = WaitFor(OpenDescriptors, fds => fds <= before + Slack);
        Assert.True(after <= before + Slack, $"{after - before} more descriptors are open after 20 workers started and exited ({before} before, {after} after)");
    }

    /// <summary>One-time growth that is not per worker (a lazily loaded assembly is two descriptors).</summary>
    private const int Slack = 6;

    private static int OpenDescriptors() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

    private void RunEachInANewWorker(int n, string tag)
    {
        var refs = Enumerable.Range(0, n).Select(i => Tasks.Remote.WithOptions(new TaskOptions
        {
            RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["RAYSHARP_FD_TEST"] = $"{tag}-{i}" } },
        }).ReadEnv("RAYSHARP_FD_TEST")).ToList();
        Assert.Equal(Enumerable.Range(0, n).Select(i => (string?)$"{tag}-{i}"), Ray.Get(refs, Timeout));
    }

    /// <summary>Waits until the pool has stopped its idle workers beyond <paramref name="n"/>.</summary>
    private static void WaitForWorkers(int n)
    {
        var invoker = RpcChannels.Invoker(Ray.Nodes().Single().Address, CoreWorker.Current.Config);
        int NumWorkers() => invoker.BlockingUnaryCall(NodeManagerService.GetNodeStatsMethod, null, new Grpc.Core.CallOptions(), Empty.Instance).NumWorkers;
        int left = WaitFor(NumWorkers, w => w <= n);
        Assert.True(left <= n, $"{left} workers still running; expected the idle ones beyond {n} to be stopped");
    }

    private static int WaitFor(Func<int> read, Func<int, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        int value;
        while (!done(value = read()) && DateTime.UtcNow < deadline) Thread.Sleep(50);
        return value;
    }
}
#endif

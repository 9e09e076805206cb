using RaySharp;

namespace RaySharp.Integration;

public static partial class Probe
{
    /// <summary>Where the task ran.</summary>
    [RayRemote]
    public static string Node() => Ray.GetRuntimeContext().NodeId.ToString();

    /// <summary>Holds its CPU until the gate opens, then says where it ran. It polls rather than awaits the gate: a
    /// task waiting in Get or await lends its CPU back to the node (as in Ray) and would not hold it.</summary>
    [RayRemote]
    public static string NodeWhenOpen(ActorHandle<Gate> gate)
    {
        var opened = gate.WaitOpen();
        while (Ray.Wait([opened], timeout: TimeSpan.Zero).Ready.Count == 0) Thread.Sleep(2);
        return Ray.GetRuntimeContext().NodeId.ToString();
    }

    [RayRemote]
    public static int Leaf(int i) => i;

    /// <summary>One task that blocks in Get on <paramref name="n"/> children in turn, all pinned to one node: with
    /// 1 CPU there, it must release its CPU each time.</summary>
    [RayRemote]
    public static int BlockingFanOut(int n, string node)
    {
        var here = new TaskOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(NodeId.Parse(node)) };
        int sum = 0;
#pragma warning disable RAY103 // blocking on each child in turn is the point: it must not deadlock the node
        for (int i = 0; i < n; i++) sum += Probe.Remote.WithOptions(here).Leaf(i).Get();
#pragma warning restore RAY103
        return sum;
    }

    [RayRemote]
    public static (string? Value, int Pid) Env(string name) => (Environment.GetEnvironmentVariable(name), Environment.ProcessId);
}

[RayRemote]
public partial class Gate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    public async Task<int> WaitOpen()
    {
        Interlocked.Increment(ref _waiting);
        await _open.Task;
        return 1;
    }

    public Task<int> Waiting() => Task.FromResult(Volatile.Read(ref _waiting));

    public Task Open()
    {
        _open.TrySetResult();
        return Task.CompletedTask;
    }
}

[RayRemote]
public partial class Where
{
    public string Node() => Ray.GetRuntimeContext().NodeId.ToString();
}

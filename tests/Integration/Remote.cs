using RaySharp;

namespace RaySharp.Integration;

public static partial class Probe
{
    /// <summary>Where the task ran.</summary>
    [RayRemote]
    public static string Node() => Ray.GetRuntimeContext().NodeId.ToString();

    /// <summary>Holds its CPU until the gate opens, then says where it ran.</summary>
    [RayRemote]
    public static async Task<string> NodeWhenOpen(ActorHandle<Gate> gate)
    {
        await gate.WaitOpen();
        return Ray.GetRuntimeContext().NodeId.ToString();
    }

    [RayRemote]
    public static int Leaf(int i) => i;

    /// <summary>One task that blocks in Get on 100 children in turn: with 1 CPU, it must release its CPU each time.</summary>
    [RayRemote]
    public static int BlockingFanOut(int n)
    {
        int sum = 0;
        for (int i = 0; i < n; i++) sum += Leaf(i).Get();
        return sum;

        static ObjectRef<int> Leaf(int i) => Probe.Remote.Leaf(i);
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

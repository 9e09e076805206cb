using RaySharp;

namespace RaySharp.MultiHost.Driver;

/// <summary>What the multi-host test runs on the nodes of other hosts.</summary>
public static partial class Work
{
    /// <summary>Where this worker runs and where it loaded its code from (the job's working dir, unpacked on its node).</summary>
    [RayRemote]
    public static string Where() => $"{Ray.GetRuntimeContext().NodeId} {AppContext.BaseDirectory.TrimEnd('/')}";

    /// <summary>A large array filled with <see cref="Pattern"/>, stored in the object store of the node that runs it.</summary>
    [RayRemote]
    public static byte[] Make(int mebibytes)
    {
        var data = new byte[mebibytes * 1024 * 1024];
        // The pattern repeats every 256 bytes: write it once, then double what is written.
        for (int i = 0; i < Math.Min(256, data.Length); i++) data[i] = Pattern(i);
        for (int done = 256; done < data.Length; done *= 2)
            data.AsSpan(0, Math.Min(done, data.Length - done)).CopyTo(data.AsSpan(done));
        return data;
    }

    /// <summary>Checks a large array read on this node, where it was not made: every 4 KiB a byte, and the length.</summary>
    [RayRemote]
    public static string Check(ObjectView<byte> data) => $"{Ray.GetRuntimeContext().NodeId} {Verify(data.Span)}";

    /// <summary>Tells <paramref name="gate"/> it started; on <paramref name="stallOn"/> it then never returns (its node is
    /// cut off), elsewhere it returns where it ran.</summary>
    [RayRemote]
    public static async Task<string> StallOn(ActorHandle<Gate> gate, string stallOn)
    {
        string node = Ray.GetRuntimeContext().NodeId.ToString();
        await gate.Started(node);
        if (node == stallOn) await Task.Delay(TimeSpan.FromMinutes(10));
        return node;
    }

    public static byte Pattern(int i) => (byte)(i * 31 + 7);

    /// <summary>"ok LENGTH" when the sampled bytes follow <see cref="Pattern"/>, else where the first wrong one is.</summary>
    public static string Verify(ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length; i += 4096)
            if (data[i] != Pattern(i)) return $"bad byte at {i}";
        return data.Length > 0 && data[^1] != Pattern(data.Length - 1) ? "bad last byte" : $"ok {data.Length}";
    }
}

/// <summary>Where the tasks of the partition test started.</summary>
[RayRemote]
public partial class Gate
{
    private readonly List<string> _started = [];

    public void Started(string node)
    {
        lock (_started) _started.Add(node);
    }

    public string[] StartedOn()
    {
        lock (_started) return [.. _started];
    }
}

/// <summary>A counter that reports where it lives.</summary>
[RayRemote]
public partial class Counter
{
    private int _count;

    public string Increment() => $"{++_count} {Ray.GetRuntimeContext().NodeId}";
}

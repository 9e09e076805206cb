namespace RaySharp.Benchmarks;

// The remote code of the workloads, shaped as Ray's `ray microbenchmark` shapes it: every call returns a
// two-byte value, so what is measured is the system's per-call cost, not user work.

/// <summary>The benchmark tasks.</summary>
internal static partial class BenchTasks
{
    internal static readonly byte[] Ok = "ok"u8.ToArray();

    /// <summary>The empty task: returns two bytes.</summary>
    [RayRemote]
    public static byte[] SmallValue() => Ok;

    /// <summary>A task with an argument of any size that returns two bytes: the cost of moving the argument.</summary>
    [RayRemote]
    public static byte[] TakeArg(byte[] arg) => arg.Length > 0 ? Ok : [];

    /// <summary>How long ago this worker process started, in milliseconds, and its pid: run as the first task of a
    /// fresh worker, the time from process start to first task.</summary>
    [RayRemote]
    public static double[] ProcessAge()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return [(DateTime.Now - self.StartTime).TotalMilliseconds, Environment.ProcessId];
    }

    /// <summary>A task that is itself a caller: <paramref name="n"/> calls spread round-robin over
    /// <paramref name="actors"/>, then waits for all of them ("n:n actor calls").</summary>
    [RayRemote]
    public static int CallActors(ActorHandle<BenchActor>[] actors, int n)
    {
        var refs = new List<ObjectRef<byte[]>>(n);
        for (int i = 0; i < n; i++) refs.Add(actors[i % actors.Length].SmallValue());
        return Calls.GetAndRelease(refs);
    }
}

/// <summary>The server actor: one method that returns two bytes. Created with no CPUs, as Ray's is.</summary>
[RayRemote]
internal partial class BenchActor
{
    public byte[] SmallValue() => BenchTasks.Ok;

    /// <summary>Takes an argument of any size, returns two bytes.</summary>
    public byte[] TakeArg(byte[] arg) => arg.Length > 0 ? BenchTasks.Ok : [];

    /// <summary>This actor's worker process: its pid and resident memory in bytes (VmRSS), once it is ready.</summary>
    public long[] ProcessMemory() => [Environment.ProcessId, ResidentBytes.Of(Environment.ProcessId)];
}

/// <summary>Ray's async actor: its method is async, so calls run concurrently on the actor's async context.</summary>
[RayRemote]
internal partial class BenchAsyncActor
{
    public Task<byte[]> SmallValue() => Task.FromResult(BenchTasks.Ok);

    /// <summary>A sync method of an actor that also has an async one: it runs on the actor's thread for sync calls.</summary>
    public byte[] SmallValueSync() => BenchTasks.Ok;
}

/// <summary>A threaded actor (<c>MaxConcurrency</c> above 1, no async methods): its sync calls run on a pool of
/// that many threads.</summary>
[RayRemote(MaxConcurrency = 4)]
internal partial class BenchThreadedActor
{
    public byte[] SmallValue() => BenchTasks.Ok;
}

/// <summary>An actor that calls other actors ("1:n actor calls"): the calls come from a worker, not the driver.</summary>
[RayRemote]
internal partial class BenchClient(ActorHandle<BenchActor>[] servers)
{
    /// <summary><paramref name="n"/> calls to each server, submitted before any is awaited.</summary>
    public int SmallValueBatch(int n)
    {
        var refs = new List<ObjectRef<byte[]>>(n * servers.Length);
        foreach (var server in servers)
            for (int i = 0; i < n; i++) refs.Add(server.SmallValue());
        return Calls.GetAndRelease(refs);
    }
}

/// <summary>Ray's client for "multi client tasks async": an actor (no CPUs) that submits tasks from its worker.</summary>
[RayRemote]
internal partial class BenchTaskClient
{
    /// <summary><paramref name="n"/> tasks, submitted before any is waited for.</summary>
    public int SmallValueTasks(int n)
    {
        var refs = new List<ObjectRef<byte[]>>(n);
        for (int i = 0; i < n; i++) refs.Add(BenchTasks.Remote.SmallValue());
        return Calls.GetAndRelease(refs);
    }
}

/// <summary>A process's resident memory, from <c>/proc</c> (Linux; 0 elsewhere).</summary>
internal static class ResidentBytes
{
    /// <summary>VmRSS of <paramref name="pid"/> in bytes, or 0 when it cannot be read.</summary>
    public static long Of(int pid) => Field($"/proc/{pid}/status", "VmRSS:");

    /// <summary>What a process's memory costs the machine, from <c>/proc/pid/smaps_rollup</c>: its resident set, its
    /// proportional share (each shared page divided among the processes that map it: what N such processes take is
    /// about N times this), and its private pages. Zeros when it cannot be read.</summary>
    public static (long Rss, long Pss, long Private) Rollup(int pid)
    {
        string path = $"/proc/{pid}/smaps_rollup";
        return (Field(path, "Rss:"), Field(path, "Pss:"), Field(path, "Private_Dirty:") + Field(path, "Private_Clean:"));
    }

    private static long Field(string path, string name)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(name.Length).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return 0;
    }
}

/// <summary>Helpers shared by the driver and the remote code.</summary>
internal static class Calls
{
    /// <summary>Waits for every ref, then releases them at once (as Python drops a list of refs) instead of
    /// leaving thousands to the finalizer; returns how many there were.</summary>
    public static int GetAndRelease<T>(List<ObjectRef<T>> refs)
    {
        Ray.Get(refs);
        foreach (var r in refs) r.Dispose();
        int count = refs.Count;
        refs.Clear();
        return count;
    }
}

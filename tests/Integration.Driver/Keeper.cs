using RaySharp;

namespace RaySharp.Integration.Driver;

/// <summary>A counter that a first driver creates detached and a second driver finds by name.</summary>
[RayRemote]
public partial class Keeper
{
    private int _count;

    public int Increment() => ++_count;

    public int ProcessId() => Environment.ProcessId;
}

/// <summary>Keeps a ref it borrowed from a driver, to read it after that driver (its owner) is gone.</summary>
[RayRemote]
public partial class Holder
{
    private ObjectRef<int>? _kept;

    public bool Keep(ObjectRef<int> value)
    {
        _kept = value;
        return true;
    }

    public int Read() => _kept!.Get(TimeSpan.FromSeconds(30));
}

public static partial class Printer
{
    /// <summary>Writes to the worker's stdout, which the driver shows prefixed with the worker's pid and node.</summary>
    /// <summary>The directory this worker loaded its code from, and its current directory.</summary>
    [RayRemote]
    public static string Where() => $"{AppContext.BaseDirectory.TrimEnd('/')} cwd={Environment.CurrentDirectory}";

    [RayRemote]
    public static int Print(string marker)
    {
        Console.WriteLine(marker);
        return Environment.ProcessId;
    }
}

public static partial class Sleeper
{
    /// <summary>Holds a CPU for a while, as a long task of a driver that dies mid-job.</summary>
    [RayRemote]
    public static int Sleep(int seconds)
    {
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        return seconds;
    }
}

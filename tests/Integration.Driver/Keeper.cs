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

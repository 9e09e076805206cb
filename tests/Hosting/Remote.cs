namespace RaySharp.Hosting.Tests;

public static partial class HostedTasks
{
    [RayRemote]
    public static int Double(int x) => 2 * x;

    [RayRemote]
    public static int ProcessId() => Environment.ProcessId;

    [RayRemote]
    public static string? Variable(string name) => Environment.GetEnvironmentVariable(name);
}

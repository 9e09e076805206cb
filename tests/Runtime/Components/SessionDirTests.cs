using RaySharp.Core.Worker;
using Xunit;

namespace RaySharp.Tests.Components;

public sealed class SessionDirTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "raysharp-prune-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_new_session_prunes_old_ones_of_exited_processes_keeps_live_ones_and_points_session_latest_at_itself()
    {
        Directory.CreateDirectory(_root);
        // Pids that are not running (beyond any pid_max) and this process's pid (alive).
        var dead = Enumerable.Range(0, 8).Select(i => MakeOld($"session_20200101_0000{i + 1:00}_99999999{i}_abcd")).ToList();
        var live = MakeOld($"session_20200101_000000_{Environment.ProcessId}_beef"); // the oldest, but its process runs
        // Named after a process that exited (as `raysharp start` does), but a node process that lives uses it.
        var inUse = MakeOld("session_20200101_000000_999999998_cafe");
        NodeHost.MarkSessionInUse(inUse);
        var other = MakeOld("not_a_session");

        string current = NodeHost.NewSessionDir(_root);

        var left = Directory.GetDirectories(_root, "session_*").Where(d => new DirectoryInfo(d).LinkTarget is null).ToList();
        Assert.Contains(current, left);
        Assert.Contains(live, left);
        Assert.Contains(inUse, left);
        Assert.True(Directory.Exists(other));
        // The newest (KeepSessions - 1) old ones stay beside the new one; older ones of exited processes go.
        Assert.Equal(NodeHost.KeepSessions - 1, dead.Count(Directory.Exists));
        Assert.True(Directory.Exists(dead[^1]));
        Assert.False(Directory.Exists(dead[0]));
        Assert.Equal(current, new DirectoryInfo(Path.Combine(_root, "session_latest")).LinkTarget);
    }

    private string MakeOld(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
}

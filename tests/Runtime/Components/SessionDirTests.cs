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

    [Fact]
    public void Shared_memory_left_by_dead_sessions_and_dead_local_drivers_is_deleted_and_that_of_live_ones_kept()
    {
        if (!Directory.Exists("/dev/shm")) return; // only where nodes allocate in /dev/shm
        Directory.CreateDirectory(_root);
        string tag = Guid.NewGuid().ToString("N")[..4];
        string Shm(string name) => Directory.CreateDirectory(Path.Combine("/dev/shm", "raysharp-" + name)).FullName;
        var deadSession = Shm($"session_20200101_000000_999999991_{tag}-abcdef01");
        var liveSession = Shm($"session_20200101_000000_{Environment.ProcessId}_{tag}-abcdef02");
        var deadLocal = Shm($"local-999999992-{tag}-abcdef03");
        var liveLocal = Shm($"local-{Environment.ProcessId}-{tag}-abcdef04");
        try
        {
            NodeHost.PruneStoreDirectories(_root);
            Assert.False(Directory.Exists(deadSession));
            Assert.False(Directory.Exists(deadLocal));
            Assert.True(Directory.Exists(liveSession));
            Assert.True(Directory.Exists(liveLocal));
        }
        finally
        {
            foreach (var d in (string[])[deadSession, liveSession, deadLocal, liveLocal])
                if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
        }
    }

    private string MakeOld(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
}

using System.Collections.Concurrent;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>A node's log monitor over a real directory, polled by the test: what drivers receive as workers append to,
/// truncate and rotate their output files.</summary>
public sealed class LogMonitorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rs-logmon-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ConcurrentQueue<LogBatch> _batches = new();
    private readonly WorkerId _worker = WorkerId.FromRandom();
    private readonly JobId _job = new(7);
    private readonly NodeId _node = NodeId.FromRandom();
    private readonly LogMonitor _monitor;

    public LogMonitorTests()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "raylet.log"), "raylet started\n");
        _monitor = new LogMonitor(_dir, _batches.Enqueue, RayConfig.Default with { LogMonitorBatchMaxLines = 3 }, () => ["raylet.log"],
            NullLogger.Instance, poll: false);
        _monitor.Track(_worker, _job, 4242, "10.0.0.5", _node);
    }

    public void Dispose()
    {
        _monitor.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Out => Path.Combine(_dir, $"worker-{_worker}.out");
    private string Err => Path.Combine(_dir, $"worker-{_worker}.err");

    private static void Append(string path, string text)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        stream.Write(Encoding.UTF8.GetBytes(text));
    }

    private List<LogBatch> Drain()
    {
        var list = new List<LogBatch>();
        while (_batches.TryDequeue(out var b)) list.Add(b);
        return list;
    }

    [Fact]
    public void Appended_lines_reach_the_driver_in_bounded_batches_with_the_worker_prefix()
    {
        Append(Out, "one\ntwo\nthree\nfour\nfive\nsix\nseven\n");
        Append(Err, "oops\r\n");
        _monitor.Poll();

        var batches = Drain();
        var stdout = batches.Where(b => !b.IsError).ToList();
        Assert.Equal([3, 3, 1], stdout.Select(b => b.Lines.Length));
        Assert.Equal(["one", "two", "three", "four", "five", "six", "seven"], stdout.SelectMany(b => b.Lines));
        var stderr = Assert.Single(batches, b => b.IsError);
        Assert.Equal(["oops"], stderr.Lines);
        Assert.All(batches, b => Assert.Equal(_job, b.JobId));
        Assert.All(batches, b => Assert.Equal($"(pid=4242, ip=10.0.0.5, node={_node.ToString()[..8]})", b.Prefix));

        // Nothing new: nothing sent.
        _monitor.Poll();
        Assert.Empty(Drain());
    }

    [Fact]
    public void An_unfinished_line_waits_for_its_end_and_is_sent_when_the_worker_ends()
    {
        Append(Out, "complete\npart");
        _monitor.Poll();
        Assert.Equal(["complete"], Drain().SelectMany(b => b.Lines));

        Append(Out, "ial\nlast words without newline");
        _monitor.Poll();
        Assert.Equal(["partial"], Drain().SelectMany(b => b.Lines));

        _monitor.Stop(_worker);
        _monitor.Poll();
        Assert.Equal(["last words without newline"], Drain().SelectMany(b => b.Lines));
    }

    [Fact]
    public void A_truncated_or_rotated_file_is_read_again_from_its_start()
    {
        Append(Out, "before truncation, a long line\n");
        _monitor.Poll();
        Drain();

        File.WriteAllText(Out, "");
        Append(Out, "after\n");
        _monitor.Poll();
        Assert.Equal(["after"], Drain().SelectMany(b => b.Lines));

        // Rotation: the file is moved away and a new, shorter one takes its name.
        File.Move(Out, Out + ".1");
        Append(Out, "new\n");
        _monitor.Poll();
        Assert.Equal(["new"], Drain().SelectMany(b => b.Lines));
    }

    [Fact]
    public void An_actor_worker_is_named_in_the_prefix_and_its_marker_line_is_not_forwarded()
    {
        Append(Out, TaskExecutor.ActorNameMarker + "Counter\nhello from the actor\n");
        _monitor.Poll();

        var batch = Assert.Single(Drain());
        Assert.Equal(["hello from the actor"], batch.Lines);
        Assert.StartsWith("(Counter pid=4242, ip=10.0.0.5, node=", batch.Prefix);
        Assert.Contains(_monitor.ListFiles(), f => f.Name == $"worker-{_worker}.out" && f.ActorName == "Counter" && f.ProcessId == 4242);
    }

    [Fact]
    public void Listed_files_can_be_read_in_parts_and_nothing_else_can()
    {
        Append(Out, "0123456789\n");
        var names = _monitor.ListFiles().Select(f => f.Name).ToList();
        Assert.Equal(["raylet.log", $"worker-{_worker}.out"], names);

        var part = _monitor.Read(new ReadLogRequest($"worker-{_worker}.out", 2, 4));
        Assert.True(part.Found);
        Assert.Equal("2345", Encoding.UTF8.GetString(part.Data));
        Assert.Equal(11, part.Size);
        var tail = _monitor.Read(new ReadLogRequest($"worker-{_worker}.out", -3, 100));
        Assert.Equal("89\n", Encoding.UTF8.GetString(tail.Data));

        Assert.False(_monitor.Read(new ReadLogRequest("other.log", 0, 10)).Found);
        foreach (var name in (string[])["../raylet.log", "/etc/passwd", "", ".hidden"])
            Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<RpcException>(() => _monitor.Read(new ReadLogRequest(name, 0, 10))).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<RpcException>(() => _monitor.Read(new ReadLogRequest("raylet.log", 0, 0))).StatusCode);
    }
}

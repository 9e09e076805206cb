using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using RaySharp.Core.Gcs;
using RaySharp.Core.Rpc;
using RaySharp.Testing;
using StackExchange.Redis;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>One <c>redis-server</c> for a test class; each test keeps its tables under a namespace of its own.</summary>
public sealed class RedisServerFixture : IDisposable
{
    public RedisServer Server { get; } = RedisServer.Start();

    public void Dispose() => Server.Dispose();
}

/// <summary>The Redis storage against a real <c>redis-server</c>: the <see cref="GcsTableStorageContractTests">contract</see>,
/// and what a restarted GCS relies on (another connection over the same namespace reads the tables back; the job counter
/// goes on), clusters sharing a Redis, clear errors for a bad or dead address, and the server process's end.</summary>
public sealed class RedisGcsTableStorageTests(RedisServerFixture redis) : GcsTableStorageContractTests, IClassFixture<RedisServerFixture>
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(5);
    private readonly string _namespace = "test-" + Guid.NewGuid().ToString("N");
    private readonly List<IDisposable> _extra = [];

    private protected override IGcsTableStorage CreateStorage() => Open(_namespace);

    private RedisGcsTableStorage Open(string ns)
    {
        var storage = new RedisGcsTableStorage(redis.Server.Address, ns, s_timeout);
        _extra.Add(storage);
        return storage;
    }

    public override void Dispose()
    {
        foreach (var d in _extra) d.Dispose();
        base.Dispose();
    }

    [Fact]
    public void Another_connection_over_the_same_namespace_reads_back_every_table()
    {
        var node = Node();
        var job = Job(100);
        var (actor, task) = Actor("survivor");
        var group = Group(10);
        var first = new RedisGcsTableStorage(redis.Server.Address, _namespace, s_timeout);
        first.PutNode(node);
        first.PutJob(job);
        first.PutActor(actor, task);
        first.PutPlacementGroup(group);
        first.KvPut("fun", "key", [1, 2, 3], overwrite: false);
        Assert.Equal(1, first.NextJobCounter());
        Assert.Equal(2, first.NextJobCounter());
        first.Dispose(); // the GCS goes away

        var restarted = Open(_namespace);
        AssertSame(node, Assert.Single(restarted.GetNodes()));
        AssertSame(job, Assert.Single(restarted.GetJobs()));
        AssertSame(job, restarted.GetJob(job.JobId));
        var reloaded = Assert.Single(restarted.GetActors());
        AssertSame(actor, reloaded.Actor);
        AssertSame(task, reloaded.CreationTask);
        AssertSame(group, Assert.Single(restarted.GetPlacementGroups()));
        Assert.Equal([1, 2, 3], restarted.KvGet("fun", "key"));
        Assert.False(restarted.KvPut("fun", "key", [9], overwrite: false));
        Assert.Equal(3, restarted.NextJobCounter()); // never a job ID again
    }

    [Fact]
    public void Clusters_with_different_namespaces_on_one_Redis_do_not_see_each_other()
    {
        var one = Open(_namespace + "-one");
        var two = Open(_namespace + "-two");
        one.PutNode(Node());
        one.PutJob(Job(1));
        var (actor, task) = Actor("a");
        one.PutActor(actor, task);
        one.PutPlacementGroup(Group(1));
        one.KvPut("ns", "key", [1], overwrite: true);
        one.NextJobCounter();
        one.NextJobCounter();

        Assert.Empty(two.GetNodes());
        Assert.Empty(two.GetJobs());
        Assert.Empty(two.GetActors());
        Assert.Empty(two.GetPlacementGroups());
        Assert.Null(two.KvGet("ns", "key"));
        Assert.Empty(two.KvKeys("ns", ""));
        Assert.True(two.KvPut("ns", "key", [2], overwrite: false));
        Assert.Equal(1, two.NextJobCounter());
        Assert.Equal([1], one.KvGet("ns", "key"));
        Assert.Equal(3, one.NextJobCounter());
    }

    [Fact]
    public void Job_counter_is_atomic_across_connections()
    {
        var a = Open(_namespace);
        var b = Open(_namespace);
        var seen = new System.Collections.Concurrent.ConcurrentBag<long>();
        Parallel.For(0, 100, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => seen.Add((i % 2 == 0 ? a : b).NextJobCounter()));
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), seen.Order());
    }

    [Theory]
    [InlineData("127.0.0.1:6379")]
    [InlineData("http://127.0.0.1:6379")]
    [InlineData("redis://")]
    [InlineData("redis://127.0.0.1:notaport")]
    [InlineData("redis://127.0.0.1:0")]
    [InlineData("redis://127.0.0.1:70000")]
    [InlineData("redis://127.0.0.1:6379/0")]
    [InlineData("redis://127.0.0.1:6379?db=1")]
    [InlineData("redis://password@127.0.0.1:6379")]
    [InlineData("")]
    public void A_malformed_address_is_an_ArgumentException_that_shows_the_form(string address)
    {
        var e = Assert.Throws<ArgumentException>(() => new RedisGcsTableStorage(address, "ns", s_timeout));
        Assert.Contains("redis://HOST:PORT", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("redis://127.0.0.1:7000", "127.0.0.1", 7000, null, null)]
    [InlineData("redis://localhost", "localhost", 6379, null, null)]
    [InlineData("redis://:s3cret@10.0.0.1:6380", "10.0.0.1", 6380, null, "s3cret")]
    [InlineData("redis://user:p%40ss@host.example:1", "host.example", 1, "user", "p@ss")]
    [InlineData("redis://[::1]:7001", "::1", 7001, null, null)]
    public void Addresses_parse(string address, string host, int port, string? user, string? password) =>
        Assert.Equal((host, port, user, password), RedisGcsTableStorage.ParseAddress(address));

    [Fact]
    public void A_namespace_with_a_colon_is_refused() =>
        Assert.Throws<ArgumentException>(() => new RedisGcsTableStorage(redis.Server.Address, "a:b", s_timeout));

    [Fact]
    public void An_address_where_no_Redis_answers_names_it_and_says_to_start_redis_server()
    {
        int port = FreeLoopbackPort();
        string address = $"redis://127.0.0.1:{port}";
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<InvalidOperationException>(() => new RedisGcsTableStorage(address, "ns", TimeSpan.FromSeconds(1)));
        Assert.Contains(address, e.Message, StringComparison.Ordinal);
        Assert.Contains("redis-server", e.Message, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"gave up only after {watch.Elapsed}"); // bounded by the timeout
    }

    [Fact]
    public void A_password_protected_Redis_needs_the_password_and_the_error_does_not_show_it()
    {
        using var locked = RedisServer.Start("pw-" + Guid.NewGuid().ToString("N")[..8]);
        using (var storage = new RedisGcsTableStorage(locked.Address, _namespace, s_timeout))
        {
            storage.KvPut("ns", "k", [1], overwrite: true);
            Assert.Equal([1], storage.KvGet("ns", "k"));
            Assert.DoesNotContain(locked.Password!, storage.Address, StringComparison.Ordinal);
        }
        string wrong = $"redis://:wrong-password@127.0.0.1:{locked.Port}";
        var e = Assert.Throws<InvalidOperationException>(() => new RedisGcsTableStorage(wrong, _namespace, s_timeout));
        Assert.Contains($"redis://127.0.0.1:{locked.Port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("password", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_write_while_Redis_is_down_throws_instead_of_being_dropped()
    {
        using var doomed = RedisServer.Start();
        using var storage = new RedisGcsTableStorage(doomed.Address, _namespace, TimeSpan.FromMilliseconds(500));
        storage.PutNode(Node());
        doomed.Kill();
        Assert.False(doomed.IsRunning);
        Assert.ThrowsAny<RedisException>(() => storage.PutNode(Node()));
    }

    [Fact]
    public void The_redis_server_process_is_gone_after_Dispose()
    {
        var server = RedisServer.Start();
        int pid = server.ProcessId;
        int port = server.Port;
        Assert.True(server.IsRunning);
        Assert.StartsWith("redis://127.0.0.1:", server.Address, StringComparison.Ordinal);
        server.Dispose();
        server.Dispose();
        server.Kill(); // harmless after Dispose

        Assert.False(Directory.Exists($"/proc/{pid}"), $"redis-server {pid} still runs");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.Throws<SocketException>(() => socket.Connect(IPAddress.Loopback, port));
    }

    [Fact]
    public void Without_redis_server_on_PATH_Start_says_how_to_install_it()
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        var empty = Directory.CreateTempSubdirectory("raysharp-nopath-");
        try
        {
            Environment.SetEnvironmentVariable("PATH", empty.FullName); // tests of this assembly run one at a time
            var e = Assert.Throws<InvalidOperationException>(() => RedisServer.Start());
            Assert.Contains("apt-get install -y redis-server", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", path);
            empty.Delete();
        }
    }

    private static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

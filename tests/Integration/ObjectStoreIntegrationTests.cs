using System.Security.Cryptography;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

/// <summary>A cluster for the object store: the head (1 CPU), nodes A and B (resources "a" and "b", 1.5 GiB stores)
/// to move objects between, and node S (resource "s") with a 64 MiB store to fill.</summary>
public sealed class StoreCluster : IDisposable
{
    public const long SmallStore = 64L * 1024 * 1024;

    public StoreCluster()
    {
        Cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        try
        {
            A = Cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["a"] = 1 }, objectStoreMemory: 1536L * 1024 * 1024);
            B = Cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["b"] = 1 }, objectStoreMemory: 1536L * 1024 * 1024);
            S = Cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["s"] = 1 }, objectStoreMemory: SmallStore);
            Cluster.WaitForNodes(4, TimeSpan.FromSeconds(30));
        }
        catch
        {
            Cluster.Dispose();
            throw;
        }
    }

    public TestCluster Cluster { get; }
    public TestNode A { get; }
    public TestNode B { get; }
    public TestNode S { get; }

    public void Dispose() => Cluster.Dispose();
}

public sealed class ObjectStoreIntegrationTests : IClassFixture<StoreCluster>, IDisposable
{
    private const int MiB = 1024 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private readonly StoreCluster _fixture;
    private readonly RayContext _ray;

    public ObjectStoreIntegrationTests(StoreCluster fixture)
    {
        _fixture = fixture;
        _ray = Ray.Init(new RayOptions { Address = fixture.Cluster.Address });
    }

    public void Dispose() => _ray.Dispose();

    private static TaskOptions On(string resource) => new() { NumCpus = 0, Resources = new Dictionary<string, double> { [resource] = 0.01 } };

    private StoreStatsReply Stats(TestNode node) =>
        RpcChannels.Invoker(node.RayletEndpoint, _fixture.Cluster.Config)
            .AsyncUnaryCall(NodeManagerService.GetStoreStatsMethod, null, new CallOptions(), Empty.Instance).ResponseAsync.GetAwaiter().GetResult();

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"still not true after 30 s: {what}");
            Thread.Sleep(20); // polling other processes' stores: there is no event to await
        }
    }

    [Fact]
    public void An_object_made_on_one_node_is_pulled_intact_by_the_driver_and_by_a_task_on_another_node_and_freed_everywhere()
    {
        var made = StoreProbe.Remote.WithOptions(On("a")).Make(48 * MiB, 5);
        var hashOnA = StoreProbe.Remote.WithOptions(On("a")).Hash(made).Get(Timeout);
        var hashOnB = StoreProbe.Remote.WithOptions(On("b")).Hash(made).Get(Timeout);
        var atDriver = SHA256.HashData(made.Get(Timeout));
        Assert.Equal(hashOnA, hashOnB);
        Assert.Equal(hashOnA, atDriver);
        Assert.Contains(Stats(_fixture.A).Objects, o => o.ObjectId == made.Id && o.IsPrimary);
        Assert.Contains(Stats(_fixture.B).Objects, o => o.ObjectId == made.Id && !o.IsPrimary);
        Assert.Contains(Stats(_fixture.Cluster.Head).Objects, o => o.ObjectId == made.Id && !o.IsPrimary);

        // The owner's object directory knows every copy, so its free reaches them all.
        WaitUntil(() => CoreWorker.Current.ObjectLocations(made.Id).Count == 3, "the owner's directory lists A, B and the head");
        Assert.Equal(_fixture.A.NodeId, CoreWorker.Current.ObjectLocations(made.Id)[0]);
        var id = made.Id;
        made.Dispose();
        foreach (var node in (TestNode[])[_fixture.A, _fixture.B, _fixture.Cluster.Head])
            WaitUntil(() => Stats(node).Objects.All(o => o.ObjectId != id), $"object {id} freed on {node}");
    }

    [Fact]
    public void A_task_runs_on_the_node_that_holds_most_of_its_argument_bytes()
    {
        using var onA = StoreProbe.Remote.WithOptions(On("a")).Make(32 * MiB, 21);
        using var onB = StoreProbe.Remote.WithOptions(On("b")).Make(8 * MiB, 22);
        Ray.Wait([onA, onB], numReturns: 2, timeout: Timeout);
        // No resource, affinity or spread says where (and the driver's node, the head, has a free CPU too): the owner
        // asks node A's raylet, which holds 32 of the 40 MiB.
        Assert.Equal(_fixture.A.NodeId.ToString(), StoreProbe.Remote.NodeOf(onA, onB).Get(Timeout));
        Assert.Equal(_fixture.A.NodeId.ToString(), StoreProbe.Remote.NodeOf(onA, onB).Get(Timeout));
    }

    [Fact]
    public void Wait_with_fetchLocal_pulls_a_copy_to_the_callers_node_and_without_it_does_not()
    {
        using var fetched = StoreProbe.Remote.WithOptions(On("a")).Make(4 * MiB, 31);
        using var left = StoreProbe.Remote.WithOptions(On("a")).Make(4 * MiB, 32);
        Assert.Single(Ray.Wait([fetched], timeout: Timeout, fetchLocal: true).Ready);
        Assert.Single(Ray.Wait([left], timeout: Timeout, fetchLocal: false).Ready);
        var head = Stats(_fixture.Cluster.Head).Objects;
        Assert.Contains(head, o => o.ObjectId == fetched.Id && !o.IsPrimary && o.IsSealed);
        Assert.DoesNotContain(head, o => o.ObjectId == left.Id);
    }

    [Fact]
    public void A_one_gibibyte_object_crosses_nodes()
    {
        using var made = StoreProbe.Remote.WithOptions(On("a")).Make(1024 * MiB, 9);
        var onA = StoreProbe.Remote.WithOptions(On("a")).Hash(made).Get(Timeout);
        var onB = StoreProbe.Remote.WithOptions(On("b")).Hash(made).Get(Timeout);
        Assert.Equal(onA, onB);
    }

    [Fact]
    public void A_small_store_spills_and_restores_intact_for_a_get_an_argument_and_a_transfer()
    {
        // Ten 16 MiB objects made on S (64 MiB): most are spilled while the later ones are written.
        var refs = Enumerable.Range(0, 10).Select(i => StoreProbe.Remote.WithOptions(On("s")).Make(16 * MiB, 100 + i)).ToList();
        var expected = Enumerable.Range(0, 10).Select(i => StoreProbe.Expected(16 * MiB, 100 + i)).ToList();
        Ray.Wait(refs, numReturns: refs.Count, timeout: Timeout);
        var stats = Stats(_fixture.S);
        Assert.True(stats.SpilledObjects >= 5, $"{stats.SpilledObjects} spilled on S");
        Assert.True(stats.Used <= StoreCluster.SmallStore);
        // One CPU each on S and B: the readers take turns, so restored copies can make room for each other.
        var oneAtATime = (string r) => new TaskOptions { NumCpus = 1, Resources = new Dictionary<string, double> { [r] = 0.01 } };
        var onS = refs.Select(r => StoreProbe.Remote.WithOptions(oneAtATime("s")).Hash(r)).ToList(); // arguments on S: restored
        var onB = refs.Select(r => StoreProbe.Remote.WithOptions(oneAtATime("b")).Hash(r)).ToList(); // transfers from S to B
        Assert.Equal(expected, Ray.Get(onS, Timeout));
        Assert.Equal(expected, Ray.Get(onB, Timeout));
        // Views of spilled objects: restored, then mapped with no copy.
        var views = refs.Select(r => StoreProbe.Remote.WithOptions(oneAtATime("s")).HashView(r)).ToList();
        Assert.Equal(expected, Ray.Get(views, Timeout));
        Assert.Equal(expected[3], SHA256.HashData(refs[3].Get(Timeout))); // Get at the driver
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(_fixture.Cluster.SessionDir, "spill", _fixture.S.NodeId.ToString()[..8])));

        foreach (var r in refs) r.Dispose();
        WaitUntil(() => Stats(_fixture.S).Objects.Length == 0, "every object on S freed");
        WaitUntil(() => Directory.GetFiles(Path.Combine(_fixture.Cluster.SessionDir, "spill", _fixture.S.NodeId.ToString()[..8])).Length == 0,
            "the spill files on S deleted");
    }

    [Fact]
    public void When_everything_in_a_store_is_being_read_a_put_fails_with_ObjectStoreFullException_saying_what_holds_it()
    {
        string message = StoreProbe.Remote.WithOptions(On("s")).PutWhileReading(3, 20 * MiB).Get(Timeout);
        Assert.Contains("does not fit", message);
        Assert.Contains("being read", message);
        WaitUntil(() => Stats(_fixture.S).Objects.Length == 0, "the task's objects freed on S");
    }

    [Fact]
    public void A_worker_killed_while_writing_an_object_leaves_no_half_written_object()
    {
        var id = ObjectId.ForPut(TaskId.ForDriver(JobId.Parse("7f000000")), 1);
        var dying = StoreProbe.Remote.WithOptions(new TaskOptions { NumCpus = 0, MaxRetries = 0, Resources = new Dictionary<string, double> { ["s"] = 0.01 } })
            .WriteHalfThenDie(id.ToString(), 8 * MiB);
        Assert.Throws<WorkerCrashedException>(() => dying.Get(Timeout));
        WaitUntil(() => Stats(_fixture.S).Objects.All(o => o.ObjectId != id), "the half-written object dropped");
        Assert.DoesNotContain(Stats(_fixture.S).Objects, o => !o.IsSealed);
    }
}

public static partial class StoreProbe
{
    public static byte[] Expected(int size, int seed) => SHA256.HashData(Bytes(size, seed));

    private static byte[] Bytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    [RayRemote]
    public static byte[] Make(int size, int seed) => Bytes(size, seed);

    [RayRemote]
    public static byte[] Hash(byte[] data) => SHA256.HashData(data);

    /// <summary>The hash of the bytes an <see cref="ObjectView{T}"/> parameter maps.</summary>
    [RayRemote]
    public static byte[] HashView(ObjectView<byte> data)
    {
        // The object is a byte[]: its view is the array's elements, hashed as Hash hashes the deserialized array.
        return SHA256.HashData(data.Span);
    }

    /// <summary>Where a task with these arguments ran.</summary>
    [RayRemote]
    public static string NodeOf(byte[] a, byte[] b) => Ray.GetRuntimeContext().NodeId.ToString() + (a.Length + b.Length > 0 ? "" : "?");

    /// <summary>Puts <paramref name="count"/> objects, keeps them all mapped (read), then puts one more: returns the
    /// message of the exception that put throws.</summary>
    [RayRemote]
    public static string PutWhileReading(int count, int size)
    {
        var store = CoreWorker.Current.ObjectStore!;
        var refs = Enumerable.Range(0, count).Select(i => Ray.Put(Bytes(size, i))).ToList();
        var mappings = refs.Select(r => store.GetAsync(r.Id, store.NodeId, CancellationToken.None).GetAwaiter().GetResult()!).ToList();
        try
        {
            using var extra = Ray.Put(Bytes(size, 99));
            return "the put succeeded";
        }
        catch (ObjectStoreFullException e)
        {
            return e.Message;
        }
        finally
        {
            for (int i = 0; i < refs.Count; i++)
            {
                mappings[i].Close();
                store.Release(refs[i].Id);
                refs[i].Dispose();
            }
        }
    }

    /// <summary>Creates an object in the node's store, writes half of it and kills its own process.</summary>
    [RayRemote]
    public static int WriteHalfThenDie(string objectId, int size)
    {
        var store = CoreWorker.Current.ObjectStore!;
        string path = store.CreateAsync(ObjectId.Parse(objectId), size, CoreWorker.Current.Address, CancellationToken.None).GetAwaiter().GetResult()!;
        var mapping = StoreMapping.Open(path, size, writable: true);
        mapping.Span[..(size / 2)].Fill(7);
        Environment.Exit(9);
        return 0;
    }
}

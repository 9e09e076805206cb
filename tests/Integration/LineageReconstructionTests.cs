using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

/// <summary>Counts how often each named task ran.</summary>
[RayRemote]
public partial class Tally
{
    private readonly Dictionary<string, int> _counts = [];

    public int Add(string name) => _counts[name] = _counts.GetValueOrDefault(name) + 1;

    public int Count(string name) => _counts.GetValueOrDefault(name);
}

public static partial class Rebuildable
{
    public static byte[] Bytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static byte[] Flipped(byte[] input)
    {
        var output = new byte[input.Length];
        for (int i = 0; i < input.Length; i++) output[i] = (byte)(input[i] ^ 0x5A);
        return output;
    }

    /// <summary>A large array (in the object store of the node it ran on); each run is counted.</summary>
    [RayRemote]
    public static async Task<byte[]> Produce(ActorHandle<Tally> tally, string name, int size, int seed)
    {
        await tally.Add(name);
        return Bytes(size, seed);
    }

    /// <summary>Its input with every byte changed; each run is counted.</summary>
    [RayRemote]
    public static async Task<byte[]> Flip(ActorHandle<Tally> tally, string name, byte[] input)
    {
        await tally.Add(name);
        return Flipped(input);
    }

    [RayRemote]
    public static byte[] Hash(byte[] data) => SHA256.HashData(data);

    /// <summary>Hashes the array a ref it was passed points to: this task's worker borrows it from the ref's owner.</summary>
    [RayRemote]
    public static byte[] HashThroughRef(ObjectRef<byte[]> data) => SHA256.HashData(data.Get(TimeSpan.FromSeconds(90)));

    /// <summary>A ref to a large array this task's worker puts (and owns).</summary>
#pragma warning disable RAY101 // the worker owning the object is the point: the caller borrows it from the worker
    [RayRemote]
    public static ObjectRef<byte[]> PutHere(int size, int seed) => Ray.Put(Bytes(size, seed));
#pragma warning restore RAY101
}

/// <summary>An actor whose method returns a large array (in the store of the actor's node); each run is counted.</summary>
[RayRemote]
public partial class Maker
{
    public async Task<byte[]> Make(ActorHandle<Tally> tally, string name, int size, int seed)
    {
        await tally.Add(name);
        return Rebuildable.Bytes(size, seed);
    }
}

/// <summary>
/// Lineage reconstruction (Ray's object reconstruction) on a real cluster: a node holding the only copy of a task's
/// large output is killed, and the owner (the driver) runs the task again — on a node that replaces it — when the
/// output is read; what cannot be rebuilt fails with <see cref="ObjectReconstructionFailedException"/> saying why.
/// </summary>
public sealed class LineageReconstructionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Size = 8 * 1024 * 1024; // far above the inline limit: the output lives in its node's store
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private static readonly Dictionary<string, double> Worker = new() { ["worker"] = 1 };
    private static readonly TaskOptions OnWorker = new() { Resources = Worker };

    /// <summary>A head (for the driver and the tally) and a node with the "worker" resource, to be killed.</summary>
    private static (TestCluster Cluster, TestNode Doomed) Start()
    {
        var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        try
        {
            var doomed = cluster.AddNode(numCpus: 1, resources: Worker);
            cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
            return (cluster, doomed);
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the task finished, without pulling its output to the driver's node (which would keep a copy).</summary>
    private static void WaitDone(ObjectRef reference) =>
        Assert.Single(Ray.Wait(new[] { reference }, timeout: Timeout, fetchLocal: false).Ready);

    [Fact]
    public void A_large_output_whose_node_died_is_computed_again_on_the_node_that_replaces_it()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var tally = Tally.Remote.Create();
        var made = Rebuildable.Remote.WithOptions(OnWorker).Produce(tally, "produce", Size, 7);
        WaitDone(made);
        Assert.Equal(1, tally.Count("produce").Get(Timeout));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        cluster.RemoveNode(doomed, graceful: false);
        cluster.AddNode(numCpus: 1, resources: Worker);
        output.WriteLine($"node replaced after {clock.Elapsed.TotalSeconds:0.00} s");

        Assert.Equal(SHA256.HashData(Rebuildable.Bytes(Size, 7)), SHA256.HashData(made.Get(Timeout)));
        output.WriteLine($"output rebuilt and read {clock.Elapsed.TotalSeconds:0.00} s after the node was killed");
        Assert.Equal(2, tally.Count("produce").Get(Timeout));
        // Read again: the rebuilt copy, no third run.
        Assert.Equal(Size, made.Get(Timeout).Length);
        Assert.Equal(2, tally.Count("produce").Get(Timeout));
    }

    [Fact]
    public void A_chain_whose_input_was_lost_too_is_rebuilt_input_first()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var tally = Tally.Remote.Create();
        var a = Rebuildable.Remote.WithOptions(OnWorker).Produce(tally, "a", Size, 11);
        var b = Rebuildable.Remote.WithOptions(OnWorker).Flip(tally, "b", a);
        WaitDone(b);
        // The driver lets a go: its copy is freed, its lineage stays for b's sake.
        a.Dispose();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        cluster.RemoveNode(doomed, graceful: false);
        cluster.AddNode(numCpus: 1, resources: Worker);
        output.WriteLine($"node replaced after {clock.Elapsed.TotalSeconds:0.00} s");

        var expected = Rebuildable.Flipped(Rebuildable.Bytes(Size, 11));
        Assert.Equal(SHA256.HashData(expected), SHA256.HashData(b.Get(Timeout)));
        output.WriteLine($"chain rebuilt and read {clock.Elapsed.TotalSeconds:0.00} s after the node was killed");
        Assert.Equal(2, tally.Count("a").Get(Timeout));
        Assert.Equal(2, tally.Count("b").Get(Timeout));
    }

    [Fact]
    public void Tasks_reading_lost_objects_as_arguments_or_through_refs_get_them_rebuilt_by_their_owner()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var tally = Tally.Remote.Create();
        var asArgument = Rebuildable.Remote.WithOptions(OnWorker).Produce(tally, "argument", Size, 21);
        var throughRef = Rebuildable.Remote.WithOptions(OnWorker).Produce(tally, "ref", Size, 22);
        WaitDone(asArgument);
        WaitDone(throughRef);

        cluster.RemoveNode(doomed, graceful: false);
        cluster.AddNode(numCpus: 1, resources: Worker);
        // Until the GCS declares the killed node dead, a task whose argument it holds would ask it for a lease.
        cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));

        // The executor cannot read its argument: the driver rebuilds it and sends the task again. The borrower cannot
        // read the object it was passed: it asks the driver, which rebuilds it before answering.
        var first = Rebuildable.Remote.Hash(asArgument);
        var second = Rebuildable.Remote.HashThroughRef(throughRef);
        Assert.Equal(SHA256.HashData(Rebuildable.Bytes(Size, 21)), first.Get(Timeout));
        Assert.Equal(SHA256.HashData(Rebuildable.Bytes(Size, 22)), second.Get(Timeout));
        Assert.Equal(2, tally.Count("argument").Get(Timeout));
        Assert.Equal(2, tally.Count("ref").Get(Timeout));
    }

    [Fact]
    public void The_output_of_a_task_with_MaxRetries_0_whose_node_died_fails_with_ObjectReconstructionFailedException()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var tally = Tally.Remote.Create();
        var made = Rebuildable.Remote.WithOptions(new TaskOptions { Resources = Worker, MaxRetries = 0 }).Produce(tally, "once", Size, 5);
        WaitDone(made);

        cluster.RemoveNode(doomed, graceful: false);
        cluster.AddNode(numCpus: 1, resources: Worker);

        var e = Assert.Throws<ObjectReconstructionFailedException>(() => made.Get(Timeout));
        Assert.Equal(made.Id, e.ObjectId);
        Assert.Contains("MaxRetries = 0", e.Message);
        Assert.Contains(doomed.NodeId.ToString(), e.Message);
        Assert.Equal(1, tally.Count("once").Get(Timeout));
    }

    [Fact]
    public void A_large_output_of_a_retryable_actor_method_whose_node_died_is_computed_again_on_the_restarted_actor()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var tally = Tally.Remote.Create();
        var maker = Maker.Remote.WithOptions(new ActorOptions { Resources = Worker, NumCpus = 0, MaxRestarts = -1, MaxTaskRetries = -1 }).Create();
        var made = maker.Make(tally, "make", Size, 31);
        WaitDone(made);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        cluster.RemoveNode(doomed, graceful: false);
        cluster.AddNode(numCpus: 1, resources: Worker);

        // The actor restarts on the new node and the call runs again there, after the calls made since.
        var later = maker.Make(tally, "later", 16, 1);
        Assert.Equal(SHA256.HashData(Rebuildable.Bytes(Size, 31)), SHA256.HashData(made.Get(Timeout)));
        output.WriteLine($"actor output rebuilt and read {clock.Elapsed.TotalSeconds:0.00} s after the node was killed");
        Assert.Equal(16, later.Get(Timeout).Length);
        Assert.Equal(2, tally.Count("make").Get(Timeout));
        Assert.Equal(1, tally.Count("later").Get(Timeout));
    }

    [Fact]
    public void The_output_of_an_actor_method_with_MaxTaskRetries_0_whose_node_died_fails_with_ObjectReconstructionFailedException()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var tally = Tally.Remote.Create();
        var maker = Maker.Remote.WithOptions(new ActorOptions { Resources = Worker, NumCpus = 0, MaxRestarts = -1, MaxTaskRetries = 0 }).Create();
        var made = maker.Make(tally, "once", Size, 33);
        WaitDone(made);

        cluster.RemoveNode(doomed, graceful: false);
        cluster.AddNode(numCpus: 1, resources: Worker);

        var e = Assert.Throws<ObjectReconstructionFailedException>(() => made.Get(Timeout));
        Assert.Contains("not retryable", e.Message);
        Assert.Contains("MaxTaskRetries", e.Message);
        Assert.Equal(1, tally.Count("once").Get(Timeout));
    }

    [Fact]
    public void An_object_put_into_the_store_of_a_node_that_died_fails_with_ObjectReconstructionFailedException()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        // An owner that outlives the node whose store holds its put: a core worker of this process writing into that
        // node's store (as a driver on that node would), with the head's raylet to ask which nodes are dead.
        var config = cluster.Config;
        var gcs = new GcsClient(cluster.Address, config);
        var jobId = gcs.GetNextJobId();
        ILoggerFactory loggers = NullLoggerFactory.Instance;
        using var owner = new CoreWorker(jobId, "lineage", null, config, loggers, w => new WorkerConnections(
            new RayletRpcClient(cluster.Head.RayletEndpoint, gcs, cluster.Head.NodeId, jobId, config, loggers), new GcsActorClient(gcs, w), "unused",
            ObjectStore: new ObjectStoreRpcClient(doomed.RayletEndpoint, doomed.NodeId, w.WorkerId, config, loggers.CreateLogger<ObjectStoreRpcClient>())));
        var put = owner.PutArray<byte>(Rebuildable.Bytes(Size, 3));
        Assert.Equal(Size, put.Get(Timeout).Length);

        cluster.RemoveNode(doomed, graceful: false);

        var e = Assert.Throws<ObjectReconstructionFailedException>(() => put.Get(Timeout));
        Assert.Equal(put.Id, e.ObjectId);
        Assert.Contains("put by the driver", e.Message);
        Assert.Contains(doomed.NodeId.ToString(), e.Message);
        // Every later read fails the same way, at once.
        Assert.Throws<ObjectReconstructionFailedException>(() => put.Get(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_borrowed_object_whose_owner_died_with_its_node_fails_with_OwnerDiedException()
    {
        var (cluster, doomed) = Start();
        using var _ = cluster;
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var inner = Rebuildable.Remote.WithOptions(OnWorker).PutHere(Size, 9).Get(Timeout);

        cluster.RemoveNode(doomed, graceful: false);

        var e = Assert.Throws<OwnerDiedException>(() => inner.Get(Timeout));
        Assert.Contains(inner.Id.ToString(), e.Message);
    }
}

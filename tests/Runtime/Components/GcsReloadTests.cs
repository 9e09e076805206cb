using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>A GCS started over Redis tables another GCS wrote reloads them (issue 12 item 4, GCS fault tolerance): nodes,
/// jobs and the job counter, actors and their names, placement groups.</summary>
public sealed class GcsReloadTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(5);
    private readonly string _namespace = "reload-" + Guid.NewGuid().ToString("N");
    private readonly List<IDisposable> _opened = [];
    private readonly RecordingRaylets _raylets = new();

    private RedisGcsTableStorage Open()
    {
        var storage = new RedisGcsTableStorage(redis.Server.Address, _namespace, s_timeout);
        _opened.Add(storage);
        return storage;
    }

    private GcsServer StartGcs()
    {
        var gcs = new GcsServer(RayConfig.Default, NullLoggerFactory.Instance, Open(), _raylets, new IdleWorkers());
        _opened.Add(gcs);
        return gcs;
    }

    [Fact]
    public void A_restarted_GCS_reloads_nodes_jobs_actors_and_placement_groups()
    {
        var alive = GcsTableStorageContractTests.Node(alive: true);
        var dead = GcsTableStorageContractTests.Node(alive: false);
        var job = GcsTableStorageContractTests.Job(100);
        var (survivor, survivorTask) = GcsTableStorageContractTests.Actor("survivor");
        survivor = survivor with { NodeId = alive.NodeId, LeaseId = 17 };
        var (gone, goneTask) = GcsTableStorageContractTests.Actor("gone", ActorLifecycleState.Dead);
        var created = GcsTableStorageContractTests.Group(10) with { BundleNodes = [alive.NodeId, alive.NodeId] };
        var pending = GcsTableStorageContractTests.Group(20, PlacementGroupState.Pending);
        pending = pending with { Spec = pending.Spec with { Name = "waiting" }, BundleNodes = [NodeId.Nil, NodeId.Nil] };
        var before = Open();
        before.PutNode(alive);
        before.PutNode(dead);
        before.PutJob(job);
        Assert.Equal(1, before.NextJobCounter());
        Assert.Equal(2, before.NextJobCounter());
        before.PutActor(survivor, survivorTask);
        before.PutActor(gone, goneTask);
        before.PutPlacementGroup(created);
        before.PutPlacementGroup(pending);

        var gcs = StartGcs();
        var nodes = gcs.Nodes.View();
        Assert.True(nodes.FaultTolerant);
        Assert.True(nodes.Nodes.Single(n => n.NodeId == alive.NodeId).Alive);
        Assert.False(nodes.Nodes.Single(n => n.NodeId == dead.NodeId).Alive);
        Assert.Equal(alive.RayletEndpoint, gcs.Nodes.RayletOf(alive.NodeId));
        // The alive node reports to the new GCS as to the old one; a node it never heard of is told to register.
        Assert.False(gcs.Nodes.Report(new ResourceReport(alive.NodeId, alive.Total)).UnknownNode);
        Assert.True(gcs.Nodes.Report(new ResourceReport(NodeId.FromRandom(), [])).UnknownNode);

        Assert.Equal(job.JobId, Assert.Single(gcs.Jobs.All()).JobId);
        Assert.Equal(3u, gcs.Jobs.NextJobId().Value); // the stored counter goes on: no job ID is handed out twice

        var named = gcs.Actors.GetNamed("survivor", "actors-ns");
        Assert.NotNull(named);
        Assert.Equal(ActorLifecycleState.Alive, named.State);
        Assert.Equal(survivor.Worker, named.Worker);
        Assert.Null(gcs.Actors.GetNamed("gone", "actors-ns"));
        Assert.Equal(ActorLifecycleState.Dead, gcs.Actors.Get(gone.ActorId)!.State);
        // Killed, the reloaded actor's lease is returned to its node's raylet (its worker stops).
        gcs.Actors.Kill(survivor.ActorId, noRestart: true, "test");
        Assert.Contains((alive.RayletEndpoint, 17L), _raylets.Returned);

        Assert.Equal(PlacementGroupState.Created, gcs.PlacementGroups.GetNamed("pg", "ns")!.State);
        Assert.True(gcs.PlacementGroups.WhenReady(created.Spec.Id).IsCompletedSuccessfully);
        // The group that was waiting is placed again (it may already be past the first phase on the reloaded node).
        Assert.Contains(gcs.PlacementGroups.GetNamed("waiting", "ns")!.State, (PlacementGroupState[])[PlacementGroupState.Pending, PlacementGroupState.Prepared]);
    }

    [Fact]
    public async Task A_restarted_GCS_tells_each_node_which_actor_workers_it_knows_so_the_others_are_released()
    {
        var node = GcsTableStorageContractTests.Node(alive: true) with { RayletEndpoint = "127.0.0.1:1001" };
        var other = GcsTableStorageContractTests.Node(alive: true) with { RayletEndpoint = "127.0.0.1:1002" };
        var (actor, task) = GcsTableStorageContractTests.Actor("on-node");
        actor = actor with { NodeId = node.NodeId, LeaseId = 3 };
        var before = Open();
        before.PutNode(node);
        before.PutNode(other);
        before.PutActor(actor, task);

        var gcs = StartGcs();
        var releases = new Dictionary<string, ReleaseUnusedActorWorkersRequest>();
        while (releases.Count < 2)
        {
            var (endpoint, request) = await _raylets.Releases.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
            releases[endpoint] = request;
        }
        Assert.Equal(actor.Worker!.WorkerId, Assert.Single(releases[node.RayletEndpoint].InUse));
        Assert.Empty(releases[other.RayletEndpoint].InUse);
        // The raylets keep what this GCS leases itself: its actor leases carry the incarnation the requests name.
        Assert.All(releases.Values, r => Assert.Equal(gcs.Actors.Incarnation, r.GcsIncarnation));
    }

    [Fact]
    public async Task An_actor_whose_creation_was_requested_is_scheduled_again_by_the_restarted_GCS()
    {
        var node = GcsTableStorageContractTests.Node(alive: true);
        var (actor, task) = GcsTableStorageContractTests.Actor("pending", ActorLifecycleState.PendingCreation);
        var (unrequested, unrequestedTask) = GcsTableStorageContractTests.Actor("unrequested", ActorLifecycleState.PendingCreation);
        var before = Open();
        before.PutNode(node);
        before.PutActor(actor with { CreateRequested = true, Worker = null }, task);
        before.PutActor(unrequested with { Worker = null }, unrequestedTask);

        var gcs = StartGcs();
        var request = await _raylets.Requests.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal(node.RayletEndpoint, request.Endpoint);
        Assert.Equal($"Actor {actor.Creation.ClassName}", request.Lease.Description);
        Assert.Equal(gcs.Actors.Incarnation, request.Lease.GcsIncarnation);
        // Its owner never asked for the other one's creation: it waits for the owner's request.
        Assert.False(_raylets.Requests.Reader.TryRead(out _));
        Assert.Equal(ActorLifecycleState.PendingCreation, gcs.Actors.Get(unrequested.ActorId)!.State);
    }

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_opened)) d.Dispose();
    }

    private sealed class RecordingRaylets : IRayletClientPool
    {
        public System.Threading.Channels.Channel<(string Endpoint, WireLeaseRequest Lease)> Requests { get; } =
            System.Threading.Channels.Channel.CreateUnbounded<(string, WireLeaseRequest)>();

        public ConcurrentBag<(string Raylet, long LeaseId)> Returned { get; } = [];

        public Task<(WireLeaseReply Reply, string RayletEndpoint)> RequestWorkerLeaseAsync(string endpoint, WireLeaseRequest request, CancellationToken ct)
        {
            Requests.Writer.TryWrite((endpoint, request));
            return Task.Delay(Timeout.Infinite, ct).ContinueWith<(WireLeaseReply, string)>(_ => throw new OperationCanceledException(ct), TaskScheduler.Default);
        }

        public void ReturnWorker(string rayletEndpoint, long leaseId, bool disconnect) => Returned.Add((rayletEndpoint, leaseId));

        public System.Threading.Channels.Channel<(string Endpoint, ReleaseUnusedActorWorkersRequest Request)> Releases { get; } =
            System.Threading.Channels.Channel.CreateUnbounded<(string, ReleaseUnusedActorWorkersRequest)>();

        public Task<int> ReleaseUnusedActorWorkersAsync(string rayletEndpoint, ReleaseUnusedActorWorkersRequest request, CancellationToken ct)
        {
            Releases.Writer.TryWrite((rayletEndpoint, request));
            return Task.FromResult(0);
        }
    }

    private sealed class IdleWorkers : ICoreWorkerClientPool
    {
        public Task<PushTaskResponse> PushCreationTaskAsync(Address worker, WireTaskSpec task, long leaseId, Dictionary<string, double> leaseResources) =>
            new TaskCompletionSource<PushTaskResponse>().Task;

        public Task ExitAsync(Address worker, string reason) => Task.CompletedTask;
    }
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>
/// The raylet alone (as Ray's node_manager_test and local_lease_manager_test do), with a fake GCS whose reports
/// answer with a cluster view the test sets, and a fake launcher whose workers the test registers and ends:
/// grants, the queue, worker reuse, infeasible and affinity requests, spillback, blocked tasks, worker deaths,
/// cancellation and shutdown.
/// </summary>
public sealed class NodeManagerTests : IDisposable
{
    private static readonly TimeSpan Wait = ComponentHarness.Timeout;
    private static readonly WireStrategy Default = new(WireStrategyKind.Default, default, false);
    private static uint s_nextJob = 2000;

    private readonly FakeRayletGcs _gcs = new();
    private readonly JobId _job;
    private NodeManager _node = null!;
    private FakeWorkerLauncher _launcher = null!;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Address> _askedToReturn = new();

    public NodeManagerTests() => _job = NewJob();

    public void Dispose() => _node?.Dispose();

    private JobId NewJob()
    {
        var id = new JobId(Interlocked.Increment(ref s_nextJob));
        _gcs.AddJob(id);
        return id;
    }

    private async Task StartNode(double cpus, bool autoRegister = true, RayConfig? config = null, ILogger? logger = null, double gpus = 0)
    {
        _launcher = new FakeWorkerLauncher { AutoRegister = autoRegister };
        _node = new NodeManager(NodeId.FromRandom(), ResourceSet.Of((ResourceSet.Cpu, cpus), (ResourceSet.Gpu, gpus)), isHead: true,
            config ?? new RayConfig { RayletReportPeriod = TimeSpan.FromMilliseconds(20) }, new SingleLoggerFactory(logger ?? NullLogger.Instance), _launcher)
        {
            AskToReturnIdleLeases = _askedToReturn.Enqueue,
        };
        _launcher.Register = _node.RegisterWorker;
        await _node.StartAsync(_gcs, "raylet-a", null, CancellationToken.None);
    }

    private Task<WireLeaseReply> Request(double cpus = 1, WireStrategy? strategy = null, string env = "", JobId? job = null,
        Dictionary<string, string>? envVars = null, bool actor = false, string description = "task f", CancellationToken ct = default,
        WorkerId holder = default, Address? holderAddress = null, double gpus = 0) =>
        _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = job ?? _job,
            Resources = gpus > 0 ? new() { [ResourceSet.Cpu] = cpus, [ResourceSet.Gpu] = gpus } : new() { [ResourceSet.Cpu] = cpus },
            Strategy = strategy ?? Default,
            RuntimeEnvKey = env,
            EnvVars = envVars,
            IsActorCreation = actor,
            Description = description,
            Holder = holder,
            HolderAddress = holderAddress,
        }, ct);

    private static async Task<WireLeaseReply> Granted(Task<WireLeaseReply> reply)
    {
        var r = await reply.WaitAsync(Wait);
        Assert.True(r.Kind == LeaseReplyKind.Granted, $"expected a grant, got {r.Kind}: {r.CancelMessage}");
        Assert.NotNull(r.Worker);
        return r;
    }

    private static async Task<string> CanceledWith(Task<WireLeaseReply> reply)
    {
        var r = await reply.WaitAsync(Wait);
        Assert.True(r.Kind == LeaseReplyKind.Canceled, $"expected a cancel, got {r.Kind}");
        return r.CancelMessage!;
    }

    private static async Task<string> RejectedWith(Task<WireLeaseReply> reply)
    {
        var r = await reply.WaitAsync(Wait);
        Assert.True(r.Kind == LeaseReplyKind.Rejected, $"expected a rejection, got {r.Kind}");
        return r.CancelMessage!;
    }

    private double AvailableCpus => _node.Stats().Available.GetValueOrDefault(ResourceSet.Cpu);

    private static NodeRecord Remote(NodeId id, string endpoint, double total, double available, bool alive = true) =>
        FakeRayletGcs.Node(id, endpoint, total, available, alive);

    // ---- Metrics ----

    [Fact]
    public async Task A_request_that_waits_for_resources_asks_the_other_owners_holding_leases_here_to_give_back_idle_ones()
    {
        await StartNode(cpus: 2);
        var (a, b) = (WorkerId.FromRandom(), WorkerId.FromRandom());
        var (addressA, addressB) = (new Address(a, _node.NodeId, "127.0.0.1:1"), new Address(b, _node.NodeId, "127.0.0.1:2"));

        // Granted at once: no one is asked.
        await Granted(Request(holder: a, holderAddress: addressA));
        await Granted(Request(holder: a, holderAddress: addressA));
        Assert.Empty(_askedToReturn);

        // The node is full: B's request waits, and A, which holds both CPUs, is asked to give back what it keeps idle.
        var waiting = Request(holder: b, holderAddress: addressB);
        Assert.Equal(addressA, Assert.Single(_askedToReturn));
        Assert.False(waiting.IsCompleted);

        // A's own request waiting behind its leases asks no one (A is the only holder here).
        _askedToReturn.Clear();
        var again = Request(holder: a, holderAddress: addressA);
        Assert.Empty(_askedToReturn);
    }

    [Fact]
    public async Task A_request_waiting_for_a_GPU_asks_only_the_owners_holding_one()
    {
        await StartNode(cpus: 4, gpus: 1);
        var (a, b, c) = (WorkerId.FromRandom(), WorkerId.FromRandom(), WorkerId.FromRandom());
        var (addressA, addressB, addressC) = (new Address(a, _node.NodeId, "127.0.0.1:1"), new Address(b, _node.NodeId, "127.0.0.1:2"),
            new Address(c, _node.NodeId, "127.0.0.1:3"));
        // A holds CPUs only, B holds the GPU; two CPUs stay free.
        await Granted(Request(holder: a, holderAddress: addressA));
        await Granted(Request(holder: b, holderAddress: addressB, gpus: 1));
        Assert.Empty(_askedToReturn);

        // C waits for the GPU: giving back A's idle CPU lease would not help it, so only B is asked.
        var waiting = Request(holder: c, holderAddress: addressC, gpus: 1);
        Assert.Equal(addressB, Assert.Single(_askedToReturn));
        Assert.False(waiting.IsCompleted);
    }

    [Fact]
    public async Task A_lease_granted_while_another_owner_waits_is_marked_contended()
    {
        await StartNode(cpus: 1);
        var (a, b) = (WorkerId.FromRandom(), WorkerId.FromRandom());
        var first = await Granted(Request(holder: a));
        Assert.False(first.Contended);

        var forB = Request(holder: b);
        var forA = Request(holder: a);
        _node.ReturnWorker(first.LeaseId, disconnect: false);
        // B gets the CPU while A's request still waits: B is to give it back once idle.
        var granted = await Granted(forB);
        Assert.True(granted.Contended);
        _node.ReturnWorker(granted.LeaseId, disconnect: false);
        Assert.False((await Granted(forA)).Contended);
    }

    [Fact]
    public void A_lease_request_naming_a_holder_address_of_another_worker_is_refused()
    {
        var request = new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = 1 }, Strategy = Default, RuntimeEnvKey = "", Description = "task f",
            Holder = WorkerId.FromRandom(), HolderAddress = new Address(WorkerId.FromRandom(), NodeId.FromRandom(), "127.0.0.1:1"),
        };
        var e = Assert.Throws<Grpc.Core.RpcException>(() => WireValidation.Lease(request));
        Assert.Contains("holder", e.Status.Detail);
    }

    [Fact]
    public async Task Lease_answers_are_counted_and_the_pools_workers_are_observed_by_state()
    {
        // Other tests' raylets record on the same meter meanwhile: counts are at least this test's.
        using var collector = new Core.Stats.MetricsCollector(Core.Stats.RayMetrics.MeterName);
        double Leases(string outcome) => collector.Collect().Where(f => f.Name == "raysharp.leases").SelectMany(f => f.Points)
            .Where(p => p.Labels.SequenceEqual(["outcome", outcome])).Sum(p => p.Value);
        long Workers(string state) => _node.Pool.Measurements().Single(m => m.Tags.ToArray().Single().Value as string == state).Value;
        await StartNode(1);

        var lease = await Granted(Request());
        await CanceledWith(Request(strategy: new WireStrategy(WireStrategyKind.NodeAffinity, NodeId.FromRandom(), false)));
        Assert.True(Leases("requested") >= 2);
        // A queued request's answer is counted by a continuation of its reply, which may run just after the reply is seen.
        var deadline = DateTime.UtcNow + Wait;
        while (Leases("granted") < 1 && DateTime.UtcNow < deadline) await Task.Delay(5);
        Assert.True(Leases("granted") >= 1);
        Assert.True(Leases("canceled") >= 1);
        Assert.Equal(1, Workers("alive"));
        Assert.Equal(0, Workers("idle"));

        _node.ReturnWorker(lease.LeaseId, disconnect: false);
        Assert.Equal(1, Workers("idle"));
        Assert.Equal(0, Workers("starting"));
    }

    // ---- Grants and the queue ----

    [Fact]
    public async Task A_queued_request_its_owner_cancels_is_answered_canceled_and_a_granted_one_is_left_alone()
    {
        await StartNode(1);
        var first = await Granted(Request());
        var waiting = _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = 1 }, Strategy = Default, RuntimeEnvKey = "", Description = "task g",
            LeaseRequestId = 77,
        }, CancellationToken.None);
        Assert.False(waiting.IsCompleted); // the only CPU is leased

        Assert.True(_node.CancelWorkerLease(77));
        var reply = await waiting.WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Canceled, reply.Kind);
        Assert.True(reply.CanceledByOwner);
        // Gone from the queue: canceling again finds nothing, and the returned CPU is not granted to it.
        Assert.False(_node.CancelWorkerLease(77));
        _node.ReturnWorker(first.LeaseId, disconnect: false);
        await Granted(Request());
    }

    [Fact]
    public async Task The_node_registers_with_the_GCS_and_reports_what_is_available()
    {
        await StartNode(2);
        var node = Assert.Single(_gcs.RegisteredNodes);
        Assert.Equal(_node.NodeId, node.NodeId);
        Assert.Equal("raylet-a", node.RayletEndpoint);
        Assert.Equal(2, node.Total[ResourceSet.Cpu]);

        await Granted(Request());
        await _gcs.SetViewAsync();
        Assert.Equal(1, _gcs.LastReport!.Available[ResourceSet.Cpu]);
    }

    [Fact]
    public async Task A_lease_that_fits_is_granted_once_its_new_worker_registers()
    {
        await StartNode(1, autoRegister: false);
        var reply = Request(envVars: new() { ["MODE"] = "test" });
        await _launcher.Starts.WhenAtLeast(1);
        var worker = Assert.Single(_launcher.Started);
        Assert.Equal(_gcs.Jobs[_job], worker.Info.Job);
        Assert.Equal("test", worker.Info.EnvVars!["MODE"]);
        Assert.Equal("raylet-a", worker.Info.RayletEndpoint);
        Assert.Equal("gcs-fake", worker.Info.GcsEndpoint);
        Assert.False(reply.IsCompleted, "granted before its worker registered");

        Assert.True(worker.Register());
        var granted = await Granted(reply);
        Assert.Equal(worker.Address, granted.Worker);
        Assert.Equal(_node.NodeId, granted.NodeId);
        Assert.Equal(1, granted.Resources![ResourceSet.Cpu]);
        Assert.Equal(0, AvailableCpus);
        Assert.Equal(1, _node.Stats().NumWorkers);
    }

    [Fact]
    public async Task Requests_beyond_capacity_queue_and_are_granted_in_order_as_leases_return()
    {
        await StartNode(2);
        var first = await Granted(Request(description: "task 1"));
        var second = await Granted(Request(description: "task 2"));
        var third = Request(description: "task 3");
        var fourth = Request(description: "task 4");
        Assert.False(third.IsCompleted);
        Assert.False(fourth.IsCompleted);
        Assert.Equal(0, AvailableCpus);

        _node.ReturnWorker(first.LeaseId, disconnect: false);
        await Granted(third);
        Assert.False(fourth.IsCompleted, "the fourth request was granted while the third held the freed CPU");

        _node.ReturnWorker(second.LeaseId, disconnect: false);
        await Granted(fourth);
        Assert.Equal(0, AvailableCpus);
    }

    [Fact]
    public async Task A_returned_worker_is_reused_for_the_same_job_and_env_and_not_for_another()
    {
        await StartNode(1);
        var first = await Granted(Request());
        _node.ReturnWorker(first.LeaseId, disconnect: false);
        Assert.Equal(1, AvailableCpus);

        var again = await Granted(Request());
        Assert.Equal(first.Worker, again.Worker);
        Assert.Single(_launcher.Started);
        _node.ReturnWorker(again.LeaseId, disconnect: false);

        var otherEnv = await Granted(Request(env: "env-b"));
        Assert.NotEqual(first.Worker, otherEnv.Worker);
        Assert.Equal(2, _launcher.Started.Count);
        _node.ReturnWorker(otherEnv.LeaseId, disconnect: false);

        var otherJob = NewJob();
        var forOtherJob = await Granted(Request(job: otherJob));
        Assert.NotEqual(first.Worker, forOtherJob.Worker);
        Assert.Equal(otherJob, _launcher.HandleOf(forOtherJob.Worker!.WorkerId).Info.Job.JobId);
    }

    [Fact]
    public async Task A_queued_lease_gets_the_worker_returned_to_free_its_CPU()
    {
        await StartNode(1);
        var first = await Granted(Request());
        var queued = Request();
        Assert.False(queued.IsCompleted);

        _node.ReturnWorker(first.LeaseId, disconnect: false);
        var second = await Granted(queued);
        Assert.Equal(first.Worker, second.Worker);
        Assert.Single(_launcher.Started);
    }

    [Fact]
    public async Task The_first_lease_of_a_job_prestarts_workers_up_to_the_CPU_count()
    {
        await StartNode(4);
        var first = await Granted(Request());
        // Three prestarted (CPU count less the one this lease needs), and the lease took one of them.
        Assert.Equal(3, _launcher.Started.Count);
        Assert.Contains(first.Worker, _launcher.Started.Select(h => h.Address));

        await Granted(Request());
        await Granted(Request());
        Assert.Equal(3, _launcher.Started.Count);
        await Granted(Request());
        Assert.Equal(4, _launcher.Started.Count);
    }

    // ---- The worker cap ----

    [Fact]
    public async Task Fifty_leases_without_resources_share_the_workers_the_cap_allows_and_are_all_granted_as_leases_return()
    {
        await StartNode(2, config: new RayConfig { RayletReportPeriod = TimeSpan.FromMilliseconds(20), MaxWorkerProcessesPerNode = 2 });
        var pending = Enumerable.Range(0, 50).Select(i => Request(cpus: 0, description: $"task {i}")).ToList();
        int granted = 0;
        while (pending.Count > 0)
        {
            var next = await Task.WhenAny(pending).WaitAsync(Wait);
            pending.Remove(next);
            var lease = await Granted(next);
            granted++;
            Assert.True(_launcher.Started.Count <= 2, $"{_launcher.Started.Count} workers started for {granted} zero-resource leases under a cap of 2");
            _node.ReturnWorker(lease.LeaseId, disconnect: false);
        }
        Assert.Equal(50, granted);
        Assert.Equal(2, _node.Stats().NumWorkers);
    }

    [Fact]
    public async Task Resource_free_tasks_that_wait_for_each_other_get_workers_beyond_the_CPU_count()
    {
        // A barrier of four 0-CPU tasks on a 2-CPU node: all four must run at once, or none finishes.
        await StartNode(2);
        var leases = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Granted(Request(cpus: 0, description: $"member {i}")))).WaitAsync(Wait);
        Assert.Equal(4, leases.Select(l => l.Worker).Distinct().Count());
    }

    [Fact]
    public async Task A_worker_blocked_in_Get_does_not_count_against_the_worker_cap()
    {
        await StartNode(2, config: new RayConfig { RayletReportPeriod = TimeSpan.FromMilliseconds(20), MaxWorkerProcessesPerNode = 2 });
        var parent = await Granted(Request(cpus: 0, description: "parent"));
        await Granted(Request(cpus: 0, description: "sibling"));
        var child = Request(cpus: 0, description: "child");
        Assert.False(child.IsCompleted);

        // The parent waits for its child: without its worker leaving the count, the child would never run.
        _node.NotifyBlocked(parent.LeaseId, blocked: true);
        var childLease = await Granted(child);
        Assert.Equal(3, _launcher.Started.Count);

        _node.NotifyBlocked(parent.LeaseId, blocked: false);
        var later = Request(cpus: 0, description: "later");
        Assert.False(later.IsCompleted);
        _node.ReturnWorker(childLease.LeaseId, disconnect: false);
        Assert.Equal(childLease.Worker, (await Granted(later)).Worker);
        Assert.Equal(3, _launcher.Started.Count);
    }

    // ---- Requests the node cannot serve ----

    [Fact]
    public async Task An_infeasible_request_waits_is_logged_once_and_moves_to_a_node_that_fits_when_one_joins()
    {
        var logger = new RecordingLogger();
        await StartNode(2, logger: logger);
        var big = Request(cpus: 8, description: "task big");
        var big2 = Request(cpus: 8, description: "task big");
        var small = await Granted(Request());
        Assert.False(big.IsCompleted);
        Assert.False(big2.IsCompleted);

        _node.ReturnWorker(small.LeaseId, disconnect: false);
        Assert.False(big.IsCompleted, "an infeasible request was served when resources were returned");
        Assert.Equal(2, AvailableCpus);
        var warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("CPU: 8", StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains("task big", warning.Message);
        Assert.Contains("no node in the cluster", warning.Message);

        var bigNode = NodeId.FromRandom();
        await _gcs.SetViewAsync(Remote(bigNode, "raylet-big", 8, 8));
        foreach (var reply in new[] { big, big2 })
        {
            var r = await reply.WaitAsync(Wait);
            Assert.Equal(LeaseReplyKind.Spillback, r.Kind);
            Assert.Equal("raylet-big", r.SpillbackEndpoint);
            Assert.Equal(bigNode, r.NodeId);
        }
    }

    [Fact]
    public async Task A_node_reporting_less_than_nothing_free_is_seen_as_full_and_requests_are_still_answered()
    {
        // A blocked task that took its CPU back while another task used it leaves a node reporting CPU -1 for a while.
        await StartNode(1);
        var busy = NodeId.FromRandom();
        var roomy = NodeId.FromRandom();
        await _gcs.SetViewAsync(Remote(busy, "raylet-busy", 2, -1), Remote(roomy, "raylet-roomy", 4, 4));
        await Granted(Request());
        var reply = await Request(cpus: 2).WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Spillback, reply.Kind);
        Assert.Equal("raylet-roomy", reply.SpillbackEndpoint);
    }

    [Fact]
    public async Task Hard_affinity_to_a_node_not_in_the_cluster_is_canceled_naming_the_node()
    {
        await StartNode(2);
        var missing = NodeId.FromRandom();
        var message = await CanceledWith(Request(strategy: new WireStrategy(WireStrategyKind.NodeAffinity, missing, false)));
        Assert.Contains(missing.ToString(), message);
        Assert.Contains("task f", message);
        Assert.Contains("not in the cluster", message);
        Assert.Equal(2, AvailableCpus);
    }

    [Fact]
    public async Task Hard_affinity_to_a_dead_node_is_canceled_saying_it_is_dead()
    {
        await StartNode(2);
        var dead = NodeId.FromRandom();
        await _gcs.SetViewAsync(Remote(dead, "raylet-dead", 4, 4, alive: false));
        var message = await CanceledWith(Request(strategy: new WireStrategy(WireStrategyKind.NodeAffinity, dead, false)));
        Assert.Contains(dead.ToString(), message);
        Assert.Contains("dead", message);
    }

    [Fact]
    public async Task Hard_affinity_to_this_node_beyond_its_total_is_canceled_naming_the_node()
    {
        await StartNode(2);
        var message = await CanceledWith(Request(cpus: 4, strategy: new WireStrategy(WireStrategyKind.NodeAffinity, _node.NodeId, false)));
        Assert.Contains(_node.NodeId.ToString(), message);
        Assert.Contains("CPU: 4", message);
    }

    [Fact]
    public async Task Soft_affinity_to_an_unknown_node_falls_back_to_this_one()
    {
        await StartNode(2);
        var reply = await Granted(Request(strategy: new WireStrategy(WireStrategyKind.NodeAffinity, NodeId.FromRandom(), true)));
        Assert.Equal(_node.NodeId, reply.NodeId);
    }

    [Fact]
    public async Task Affinity_to_another_alive_node_spills_back_to_it_even_when_this_one_has_room()
    {
        await StartNode(2);
        var other = NodeId.FromRandom();
        await _gcs.SetViewAsync(Remote(other, "raylet-b", 4, 4));
        var reply = await Request(strategy: new WireStrategy(WireStrategyKind.NodeAffinity, other, false)).WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Spillback, reply.Kind);
        Assert.Equal("raylet-b", reply.SpillbackEndpoint);
        Assert.Equal(2, AvailableCpus);
    }

    // ---- Spillback ----

    [Fact]
    public async Task A_request_that_does_not_fit_here_spills_back_to_a_node_with_room()
    {
        await StartNode(1);
        var other = NodeId.FromRandom();
        await _gcs.SetViewAsync(Remote(_node.NodeId, "raylet-a", 1, 1), Remote(other, "raylet-b", 4, 4));

        var local = await Granted(Request());
        Assert.Equal(_node.NodeId, local.NodeId);
        foreach (var cpus in new[] { 1.0, 2.0 })
        {
            var reply = await Request(cpus: cpus).WaitAsync(Wait);
            Assert.Equal(LeaseReplyKind.Spillback, reply.Kind);
            Assert.Equal("raylet-b", reply.SpillbackEndpoint);
            Assert.Equal(other, reply.NodeId);
        }
        Assert.Single(_launcher.Started);
        Assert.Equal(0, AvailableCpus);
    }

    [Fact]
    public async Task A_queued_request_spills_back_once_the_cluster_view_shows_a_node_with_room()
    {
        await StartNode(1);
        await Granted(Request());
        var queued = Request();
        Assert.False(queued.IsCompleted);

        var other = NodeId.FromRandom();
        await _gcs.SetViewAsync(Remote(other, "raylet-b", 2, 2));
        var reply = await queued.WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Spillback, reply.Kind);
        Assert.Equal("raylet-b", reply.SpillbackEndpoint);
    }

    [Fact]
    public async Task A_request_queued_here_moves_to_a_node_that_has_room_and_one_sent_here_stays_if_it_fits()
    {
        await StartNode(1);
        var other = Remote(NodeId.FromRandom(), "raylet-b", 4, 4);
        await _gcs.SetViewAsync(other);
        var held = await Granted(Request());
        // Another raylet chose this node (it must queue here rather than pass it on), but this node is full and raylet-b
        // has room: once the view says so, the request moves there instead of waiting for this node.
        var queued = _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = 1 }, Strategy = Default, RuntimeEnvKey = "", Description = "task f",
            GrantOrReject = true, Spilled = true,
        }, CancellationToken.None);
        await _gcs.SetViewAsync(other);
        var moved = await queued.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(LeaseReplyKind.Spillback, moved.Kind);
        Assert.Equal("raylet-b", moved.SpillbackEndpoint);

        // Sent here by another raylet while this node has room: granted here, whatever this node's view prefers.
        _node.ReturnWorker(held.LeaseId, disconnect: false);
        await Granted(_node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = 1 }, Strategy = Default, RuntimeEnvKey = "", Description = "task g",
            Spilled = true,
        }, CancellationToken.None));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1)]
    [InlineData(double.PositiveInfinity)]
    public async Task A_lease_request_with_a_malformed_amount_is_refused_at_the_door_and_the_node_goes_on(double cpus)
    {
        await StartNode(1);
        var bad = new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = cpus }, Strategy = Default, RuntimeEnvKey = "", Description = "task f",
        };

        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => _node.Service.RequestWorkerLease(bad, null!));

        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"CPU = {cpus}", e.Status.Detail);
        Assert.Equal(1, AvailableCpus);
        await Granted(Request());
    }

    [Fact]
    public async Task A_finished_job_gets_its_leases_back_its_workers_stopped_and_its_queued_requests_canceled()
    {
        await StartNode(2);
        var other = NewJob();
        var held = await Granted(Request());                 // a task of the job still running when its driver died
        var actor = await Granted(Request(cpus: 0, actor: true)); // left to the GCS (detached actors outlive the job)
        var otherLease = await Granted(Request(job: other));
        var queued = Request();                              // waits for a CPU
        Assert.Equal(0, AvailableCpus);

        await _gcs.FinishJobAsync(_job);

        Assert.Contains("finished", await CanceledWith(queued));
        Assert.Contains($"job {_job} finished", await _launcher.HandleOf(held.Worker!.WorkerId).Killed.Task.WaitAsync(Wait));
        Assert.False(_launcher.HandleOf(actor.Worker!.WorkerId).Killed.Task.IsCompleted);
        Assert.False(_launcher.HandleOf(otherLease.Worker!.WorkerId).Killed.Task.IsCompleted);
        Assert.Equal(1, AvailableCpus);
        // Idle and prestarted workers of the job exit too; no new lease is granted to it.
        Assert.All(_launcher.Started.Where(h => h.Info.Job.JobId == _job && h.Info.WorkerId != actor.Worker.WorkerId),
            h => Assert.True(h.Killed.Task.IsCompleted, $"worker {h.Info.WorkerId} of the finished job still runs"));
        Assert.Contains("finished", await CanceledWith(Request()));
        await Granted(Request(job: other));
    }

    // ---- Blocked tasks ----

    [Fact]
    public async Task A_task_blocked_in_Get_lends_its_CPU_to_a_queued_lease_and_takes_it_back_when_unblocked()
    {
        await StartNode(1);
        var blocking = await Granted(Request());
        var queued = Request();
        Assert.False(queued.IsCompleted);

        _node.NotifyBlocked(blocking.LeaseId, blocked: true);
        var lent = await Granted(queued);
        Assert.NotEqual(blocking.Worker, lent.Worker);

        _node.NotifyBlocked(blocking.LeaseId, blocked: false);
        var third = Request();
        _node.ReturnWorker(lent.LeaseId, disconnect: false);
        // The unblocked task holds its CPU again: the CPU the lent lease returns only pays back the overdraft.
        Assert.False(third.IsCompleted, "a lease was granted while the unblocked task held the only CPU");
        Assert.Equal(0, AvailableCpus);

        _node.ReturnWorker(blocking.LeaseId, disconnect: false);
        await Granted(third);
    }

    [Fact]
    public async Task A_blocked_task_returned_while_blocked_does_not_give_its_CPU_back_twice()
    {
        await StartNode(1);
        var blocking = await Granted(Request());
        _node.NotifyBlocked(blocking.LeaseId, blocked: true);
        Assert.Equal(1, AvailableCpus);
        _node.ReturnWorker(blocking.LeaseId, disconnect: false);
        Assert.Equal(1, AvailableCpus);
        await _gcs.SetViewAsync();
        Assert.Equal(1, _gcs.LastReport!.Available[ResourceSet.Cpu]);
    }

    // ---- Worker deaths ----

    [Fact]
    public async Task An_idle_worker_that_exits_is_reported_to_the_GCS_and_not_handed_out_again()
    {
        await StartNode(1);
        var first = await Granted(Request());
        var handle = _launcher.HandleOf(first.Worker!.WorkerId);
        _node.ReturnWorker(first.LeaseId, disconnect: false);

        handle.Exit();
        await _gcs.Failures.WhenAtLeast(1);
        var failure = Assert.Single(_gcs.WorkerFailures);
        Assert.Equal(handle.Info.WorkerId, failure.WorkerId);
        Assert.Equal(_node.NodeId, failure.NodeId);
        Assert.Contains("exited with code 1", failure.Reason);

        var next = await Granted(Request());
        Assert.NotEqual(first.Worker, next.Worker);
        Assert.Equal(1, _node.Stats().NumWorkers);
    }

    [Fact]
    public async Task The_leases_and_queued_requests_of_a_worker_that_dies_come_back()
    {
        // An actor's worker (0 CPUs held) submits tasks: it holds one lease and has a second request queued.
        await StartNode(1);
        var actor = await Granted(Request(cpus: 0, actor: true, description: "actor A"));
        var holder = actor.Worker!.WorkerId;
        var held = await Granted(Request(description: "task of A", holder: holder));
        var queued = Request(description: "second task of A", holder: holder);
        var other = Request(description: "someone else's task");
        Assert.Equal(0, AvailableCpus);

        // It dies without returning them (a killed actor whose lease was lingering).
        _launcher.HandleOf(holder).Exit();

        Assert.Contains("holding its lease", await _launcher.HandleOf(held.Worker!.WorkerId).Killed.Task.WaitAsync(Wait));
        var dropped = await queued.WaitAsync(Wait);
        Assert.Equal(LeaseReplyKind.Canceled, dropped.Kind);
        Assert.Contains("died", dropped.CancelMessage, StringComparison.Ordinal);
        // The CPU it held goes to the next request.
        await Granted(other);
    }

    [Fact]
    public async Task The_leases_of_a_worker_that_dies_on_another_node_come_back_when_the_GCS_says_so()
    {
        // An actor on another node submitted a task that runs here.
        await StartNode(1);
        var elsewhere = WorkerId.FromRandom();
        var held = await Granted(Request(description: "task of a remote actor", holder: elsewhere));
        var waiting = Request(description: "the next task");
        Assert.False(waiting.IsCompleted);

        // A death elsewhere that is not the holder changes nothing; the holder's death frees the CPU.
        _gcs.ClusterEvents.Writer.TryWrite(new ClusterEvent(ClusterEventKind.WorkerDead, NodeId.FromRandom(), WorkerId.FromRandom(), "unrelated"));
        _gcs.ClusterEvents.Writer.TryWrite(new ClusterEvent(ClusterEventKind.WorkerDead, NodeId.FromRandom(), elsewhere, "killed"));
        Assert.Contains("holding its lease", await _launcher.HandleOf(held.Worker!.WorkerId).Killed.Task.WaitAsync(Wait));
        await Granted(waiting);
    }

    [Fact]
    public async Task A_leased_worker_that_exits_is_not_pooled_when_its_lease_returns()
    {
        await StartNode(1);
        var first = await Granted(Request());
        var handle = _launcher.HandleOf(first.Worker!.WorkerId);
        handle.Exit();
        await _gcs.Failures.WhenAtLeast(1);

        _node.ReturnWorker(first.LeaseId, disconnect: false);
        Assert.Equal(1, AvailableCpus);
        var next = await Granted(Request());
        Assert.NotEqual(first.Worker, next.Worker);
    }

    [Fact]
    public async Task Returning_with_disconnect_kills_the_worker()
    {
        await StartNode(1);
        var first = await Granted(Request());
        var handle = _launcher.HandleOf(first.Worker!.WorkerId);

        _node.ReturnWorker(first.LeaseId, disconnect: true);
        Assert.Contains("disconnected", await handle.Killed.Task.WaitAsync(Wait));
        Assert.Equal(1, AvailableCpus);
        var next = await Granted(Request());
        Assert.NotEqual(first.Worker, next.Worker);
    }

    [Fact]
    public async Task An_actor_worker_is_killed_when_its_lease_returns()
    {
        await StartNode(1);
        var actor = await Granted(Request(actor: true));
        _node.ReturnWorker(actor.LeaseId, disconnect: false);
        Assert.Contains("actor", await _launcher.HandleOf(actor.Worker!.WorkerId).Killed.Task.WaitAsync(Wait));
    }

    [Fact]
    public async Task A_restarted_GCS_releases_the_actor_workers_an_earlier_one_leased_that_no_actor_uses()
    {
        await StartNode(4);
        Task<WireLeaseReply> ActorLease(long incarnation) => _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = 1 }, Strategy = Default, RuntimeEnvKey = "", IsActorCreation = true,
            GcsIncarnation = incarnation, Description = "Actor A",
        }, CancellationToken.None);
        var used = await Granted(ActorLease(incarnation: 1));
        var orphan = await Granted(ActorLease(incarnation: 1));
        var mine = await Granted(ActorLease(incarnation: 2));
        var task = await Granted(Request());
        Assert.Equal(0, AvailableCpus);

        // GCS 2 knows the actor on `used`; `orphan` was leased by GCS 1 for an actor it never recorded.
        Assert.Equal(1, _node.ReleaseUnusedActorWorkers(2, [used.Worker!.WorkerId]));

        Assert.Contains("GCS", await _launcher.HandleOf(orphan.Worker!.WorkerId).Killed.Task.WaitAsync(Wait));
        Assert.Equal(1, AvailableCpus);
        foreach (var kept in new[] { used, mine, task }) Assert.False(_launcher.HandleOf(kept.Worker!.WorkerId).Killed.Task.IsCompleted);
        // Told again, it finds nothing more to release.
        Assert.Equal(0, _node.ReleaseUnusedActorWorkers(2, [used.Worker!.WorkerId]));
    }

    [Fact]
    public async Task A_worker_that_does_not_register_in_time_rejects_the_lease_with_where_to_look()
    {
        await StartNode(1, autoRegister: false, config: new RayConfig { WorkerRegisterTimeout = TimeSpan.FromMilliseconds(200) });
        // Rejected, not canceled: the requester asks again rather than failing the task.
        var message = await RejectedWith(Request());
        var handle = Assert.Single(_launcher.Started);
        Assert.Contains("did not start within", message);
        Assert.Contains(_node.NodeId.ToString(), message);
        Assert.Contains($"worker-{handle.Info.WorkerId}.log", message);
        Assert.Contains("register", await handle.Killed.Task.WaitAsync(Wait));
        Assert.Equal(1, AvailableCpus);
    }

    [Fact]
    public async Task A_worker_that_cannot_start_fails_the_lease_with_the_reason()
    {
        await StartNode(1);
        _launcher.StartFailure = new InvalidOperationException("no RaySharp.Runtime.dll in /fake/code");
        var message = await CanceledWith(Request());
        Assert.Contains("no RaySharp.Runtime.dll", message);
        Assert.Contains("task f", message);
        Assert.Equal(1, AvailableCpus);
    }

    [Fact]
    public async Task A_lease_for_a_job_the_GCS_does_not_know_is_canceled()
    {
        await StartNode(2);
        var unknown = new JobId(Interlocked.Increment(ref s_nextJob));
        var message = await CanceledWith(Request(job: unknown));
        Assert.Contains("not registered with the GCS", message);
        Assert.Empty(_launcher.Started);
        Assert.Equal(2, AvailableCpus);
    }

    // ---- Cancellation and shutdown ----

    [Fact]
    public async Task A_canceled_queued_request_leaves_the_queue_without_taking_resources()
    {
        await StartNode(1);
        var held = await Granted(Request());
        using var cts = new CancellationTokenSource();
        var canceled = Request(ct: cts.Token);
        var after = Request();
        Assert.False(canceled.IsCompleted);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WaitAsync(Wait));
        _node.ReturnWorker(held.LeaseId, disconnect: false);
        var next = await Granted(after);
        Assert.Equal(0, AvailableCpus);
        _node.ReturnWorker(next.LeaseId, disconnect: false);
        Assert.Equal(1, AvailableCpus);
    }

    [Fact]
    public async Task A_request_canceled_while_its_worker_starts_gives_its_resources_back()
    {
        await StartNode(1, autoRegister: false);
        using var cts = new CancellationTokenSource();
        var reply = Request(ct: cts.Token);
        await _launcher.Starts.WhenAtLeast(1);
        Assert.Equal(0, AvailableCpus);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reply.WaitAsync(Wait));
        Assert.Equal(1, AvailableCpus);
        // The worker it started is kept: it still registers.
        Assert.True(_launcher.Started[0].Register());
        Assert.False(_launcher.Started[0].Killed.Task.IsCompleted);
    }

    [Fact]
    public async Task Dispose_cancels_queued_requests_saying_the_node_shut_down_and_stops_its_workers()
    {
        await StartNode(1);
        var held = await Granted(Request());
        var queued = Request();
        Assert.False(queued.IsCompleted);

        _node.Dispose();
        Assert.Contains("shut down", await CanceledWith(queued));
        Assert.Contains("shut down", await _launcher.HandleOf(held.Worker!.WorkerId).Killed.Task.WaitAsync(Wait));
        Assert.Contains("shutting down", await CanceledWith(Request()));
        Assert.Empty(_gcs.WorkerFailures);
    }
}

using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>
/// The raylet's placement-group bundles alone (as Ray's placement_group_resource_manager_test and the bundle cases of
/// node_manager_test do), with the fake GCS and fake worker launcher of <see cref="NodeManagerTests"/>: the two-phase
/// reservation (prepare takes the bundle out of what is free, commit turns it into CPU_group_* resources), leases
/// scheduled into a bundle, a blocked task lending its bundle CPU, cancel and removal (workers stopped, requests
/// refused), the cluster view's removed groups, and what the service refuses at the door.
/// </summary>
public sealed class BundleReservationTests : IDisposable
{
    private static readonly TimeSpan Wait = ComponentHarness.Timeout;
    private static readonly WireStrategy Default = new(WireStrategyKind.Default, default, false);
    private static uint s_nextJob = 5000;

    private readonly FakeRayletGcs _gcs = new();
    private readonly JobId _job;
    private NodeManager _node = null!;
    private FakeWorkerLauncher _launcher = null!;

    public BundleReservationTests()
    {
        _job = new JobId(Interlocked.Increment(ref s_nextJob));
        _gcs.AddJob(_job);
    }

    public void Dispose() => _node?.Dispose();

    private async Task StartNode(double cpus, bool autoRegister = true, ILogger? logger = null)
    {
        _launcher = new FakeWorkerLauncher { AutoRegister = autoRegister };
        _node = new NodeManager(NodeId.FromRandom(), ResourceSet.Of((ResourceSet.Cpu, cpus)), isHead: true,
            new RayConfig { RayletReportPeriod = TimeSpan.FromMilliseconds(20) }, new SingleLoggerFactory(logger ?? NullLogger.Instance), _launcher);
        _launcher.Register = _node.RegisterWorker;
        await _node.StartAsync(_gcs, "raylet-a", null, CancellationToken.None);
    }

    private PlacementGroupId NewGroup() => PlacementGroupId.Of(_job);

    private static (int Index, ResourceSet Resources) Bundle(int index, double cpus) => (index, ResourceSet.Of((ResourceSet.Cpu, cpus)));

    /// <summary>Prepares and commits bundles of these CPU amounts (indices 0, 1, ...) on the node.</summary>
    private void Reserve(PlacementGroupId pg, params double[] cpus)
    {
        Assert.True(_node.PrepareBundles(pg, [.. cpus.Select((c, i) => Bundle(i, c))]));
        _node.CommitBundles(pg, [.. Enumerable.Range(0, cpus.Length)]);
    }

    private Task<WireLeaseReply> Request(double cpus = 1, string description = "task f") =>
        _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job, Resources = new() { [ResourceSet.Cpu] = cpus }, Strategy = Default, RuntimeEnvKey = "", Description = description,
        }, CancellationToken.None);

    /// <summary>A lease for work scheduled into bundle <paramref name="index"/> of the group (-1: any bundle), asking
    /// what the core worker asks for such work.</summary>
    private Task<WireLeaseReply> RequestInGroup(PlacementGroupId pg, int index, double cpus = 1, string description = "task in group") =>
        _node.RequestWorkerLeaseAsync(new WireLeaseRequest
        {
            JobId = _job,
            Resources = BundleResources.ForBundle(ResourceSet.Of((ResourceSet.Cpu, cpus)), pg, index).ToWire(),
            Strategy = new WireStrategy(WireStrategyKind.PlacementGroup, default, false, pg, index),
            RuntimeEnvKey = "",
            Description = description,
        }, CancellationToken.None);

    private static async Task<WireLeaseReply> Granted(Task<WireLeaseReply> reply)
    {
        var r = await reply.WaitAsync(Wait);
        Assert.True(r.Kind == LeaseReplyKind.Granted, $"expected a grant, got {r.Kind}: {r.CancelMessage}");
        Assert.NotNull(r.Worker);
        return r;
    }

    private static async Task<WireLeaseReply> RefusedAsGroupRemoved(Task<WireLeaseReply> reply, PlacementGroupId pg)
    {
        var r = await reply.WaitAsync(Wait);
        Assert.True(r.Kind == LeaseReplyKind.Canceled, $"expected a cancel, got {r.Kind}");
        Assert.True(r.PlacementGroupRemoved, $"canceled without PlacementGroupRemoved: {r.CancelMessage}");
        Assert.Contains(pg.ToString(), r.CancelMessage);
        return r;
    }

    // The names a user sees on the node (ray.available_resources()), spelled out rather than taken from BundleResources.
    private static string CpuOf(PlacementGroupId pg, int index) => $"CPU_group_{index}_{pg}";
    private static string CpuOf(PlacementGroupId pg) => $"CPU_group_{pg}";
    private static string MarkerOf(PlacementGroupId pg, int index) => $"bundle_group_{index}_{pg}";
    private static string MarkerOf(PlacementGroupId pg) => $"bundle_group_{pg}";

    private double AvailableCpus => Available(ResourceSet.Cpu);

    private double Available(string name) => _node.Stats().Available.GetValueOrDefault(name);

    private double Total(string name) => _node.Stats().Total.GetValueOrDefault(name);

    private static string[] NamesOf(IReadOnlyDictionary<string, double> resources, PlacementGroupId pg) =>
        [.. resources.Keys.Where(k => k.Contains(pg.ToString(), StringComparison.Ordinal))];

    // ---- Prepare ----

    [Fact]
    public async Task Prepare_takes_the_bundle_out_of_what_is_free_and_a_normal_lease_that_no_longer_fits_queues()
    {
        await StartNode(4);
        var pg = NewGroup();

        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 3)]));

        Assert.Equal(1, AvailableCpus);
        Assert.Equal(4, Total(ResourceSet.Cpu));
        Assert.Equal(1, _node.BundleCount);
        // Prepared is not committed: no bundle resource exists yet.
        Assert.Empty(NamesOf(_node.Stats().Total, pg));
        Assert.Empty(NamesOf(_node.Stats().Available, pg));

        var first = await Granted(Request(description: "task 1"));
        var second = Request(description: "task 2");
        Assert.False(second.IsCompleted, "a normal lease was granted from CPUs a prepared bundle holds");
        Assert.Equal(0, AvailableCpus);

        await _gcs.SetViewAsync();
        Assert.Equal(0, _gcs.LastReport!.Available.GetValueOrDefault(ResourceSet.Cpu));

        _node.ReturnWorker(first.LeaseId, disconnect: false);
        await Granted(second);
    }

    [Fact]
    public async Task Prepare_refuses_bundles_that_together_do_not_fit_and_reserves_nothing()
    {
        await StartNode(4);
        var pg = NewGroup();

        Assert.False(_node.PrepareBundles(pg, [Bundle(0, 3), Bundle(1, 2)]));

        Assert.Equal(4, AvailableCpus);
        Assert.Equal(0, _node.BundleCount);
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2), Bundle(1, 2)]), "the node could not prepare what fits after a refusal");
        Assert.Equal(0, AvailableCpus);
    }

    [Fact]
    public async Task A_prepare_of_several_bundles_is_all_or_nothing()
    {
        await StartNode(4);
        await Granted(Request(cpus: 2));
        var pg = NewGroup();

        // Each bundle fits alone; the three together do not.
        Assert.False(_node.PrepareBundles(pg, [Bundle(0, 1), Bundle(1, 1), Bundle(2, 1)]));
        Assert.Equal(2, AvailableCpus);
        Assert.Equal(0, _node.BundleCount);

        // One bundle asks for what the node does not have at all: the others are not reserved either.
        Assert.False(_node.PrepareBundles(pg, [Bundle(0, 1), (1, ResourceSet.Of((ResourceSet.Gpu, 1)))]));
        Assert.Equal(2, AvailableCpus);
        Assert.Equal(0, _node.BundleCount);
        await Granted(Request(cpus: 2));
    }

    [Fact]
    public async Task A_retried_prepare_of_the_same_bundle_is_not_counted_twice()
    {
        await StartNode(4);
        var pg = NewGroup();

        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2)]));
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2)]));
        Assert.Equal(2, AvailableCpus);
        Assert.Equal(1, _node.BundleCount);

        // A retry naming a prepared bundle and a fresh one reserves only the fresh one.
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2), Bundle(1, 1)]));
        Assert.Equal(1, AvailableCpus);
        Assert.Equal(2, _node.BundleCount);

        // A retry of what is prepared already succeeds even though it would not fit again.
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2), Bundle(1, 1)]));
        Assert.Equal(1, AvailableCpus);

        // Nor is a committed bundle reserved again by a late retry, nor committed twice.
        _node.CommitBundles(pg, [0, 1]);
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2)]));
        _node.CommitBundles(pg, [0, 1]);
        Assert.Equal(1, AvailableCpus);
        Assert.Equal(2, Total(CpuOf(pg, 0)));
        Assert.Equal(3, Total(CpuOf(pg)));
    }

    // ---- Commit ----

    [Fact]
    public async Task Commit_adds_the_bundle_resources_to_the_nodes_total_and_available_and_its_report()
    {
        await StartNode(4);
        var pg = NewGroup();
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2), Bundle(1, 1)]));

        _node.CommitBundles(pg, [0, 1]);

        var expected = new Dictionary<string, double>
        {
            [CpuOf(pg, 0)] = 2, [CpuOf(pg, 1)] = 1, [CpuOf(pg)] = 3,
            [MarkerOf(pg, 0)] = 1000, [MarkerOf(pg, 1)] = 1000, [MarkerOf(pg)] = 2000,
        };
        var stats = _node.Stats();
        Assert.Equal(expected.OrderBy(kv => kv.Key), NamesOf(stats.Total, pg).Select(k => KeyValuePair.Create(k, stats.Total[k])).OrderBy(kv => kv.Key));
        Assert.Equal(expected.OrderBy(kv => kv.Key), NamesOf(stats.Available, pg).Select(k => KeyValuePair.Create(k, stats.Available[k])).OrderBy(kv => kv.Key));
        // The node's own CPUs: the same total, less what the bundles hold.
        Assert.Equal(4, stats.Total[ResourceSet.Cpu]);
        Assert.Equal(1, stats.Available[ResourceSet.Cpu]);
        Assert.Equal(2, _node.Total[CpuOf(pg, 0)]);

        // The GCS learns the new totals from the report (it schedules work into the group by them).
        await _gcs.SetViewAsync();
        var report = _gcs.LastReport!;
        Assert.NotNull(report.Total);
        foreach (var (name, amount) in expected)
        {
            Assert.Equal(amount, report.Total!.GetValueOrDefault(name));
            Assert.Equal(amount, report.Available.GetValueOrDefault(name));
        }
        Assert.Equal(4, report.Total![ResourceSet.Cpu]);
    }

    [Fact]
    public async Task A_lease_scheduled_into_a_committed_bundle_is_granted_here_from_the_bundle()
    {
        await StartNode(4);
        var pg = NewGroup();
        Reserve(pg, 2);

        var lease = await Granted(RequestInGroup(pg, 0));

        Assert.Equal(_node.NodeId, lease.NodeId);
        Assert.Equal(1, lease.Resources![CpuOf(pg, 0)]);
        Assert.False(lease.Resources.ContainsKey(ResourceSet.Cpu), "work in a bundle took a CPU of the node's own");
        Assert.Equal(1, Available(CpuOf(pg, 0)));
        Assert.Equal(2, AvailableCpus);

        await Granted(RequestInGroup(pg, 0, description: "second task in group"));
        Assert.Equal(0, Available(CpuOf(pg, 0)));
        var third = RequestInGroup(pg, 0, description: "third task in group");
        Assert.False(third.IsCompleted, "a lease was granted beyond the bundle's CPUs");
        Assert.Equal(2, AvailableCpus);

        _node.ReturnWorker(lease.LeaseId, disconnect: false);
        await Granted(third);
    }

    [Fact]
    public async Task A_lease_scheduled_into_any_bundle_of_the_group_is_granted_here()
    {
        await StartNode(4);
        var pg = NewGroup();
        Reserve(pg, 1, 1);

        var lease = await Granted(RequestInGroup(pg, -1));

        Assert.Equal(_node.NodeId, lease.NodeId);
        Assert.Equal(1, lease.Resources![CpuOf(pg)]);
        Assert.Equal(1, Available(CpuOf(pg)));
        Assert.Equal(2, AvailableCpus);
    }

    [Fact]
    public async Task A_lease_for_bundle_1_does_not_use_the_CPU_of_bundle_0()
    {
        await StartNode(4);
        var pg = NewGroup();
        Reserve(pg, 1, 1);

        var inOne = await Granted(RequestInGroup(pg, 1, description: "task in bundle 1"));
        var secondInOne = RequestInGroup(pg, 1, description: "second task in bundle 1");
        Assert.False(secondInOne.IsCompleted, "bundle 1 lent a CPU it does not have");
        Assert.Equal(1, Available(CpuOf(pg, 0)));
        Assert.Equal(0, Available(CpuOf(pg, 1)));

        var inZero = await Granted(RequestInGroup(pg, 0, description: "task in bundle 0"));
        Assert.Equal(1, inZero.Resources![CpuOf(pg, 0)]);
        Assert.False(secondInOne.IsCompleted, "a lease for bundle 1 was granted from bundle 0");

        _node.ReturnWorker(inOne.LeaseId, disconnect: false);
        await Granted(secondInOne);
    }

    [Fact]
    public async Task A_request_that_arrived_before_its_bundle_was_committed_is_granted_once_it_is()
    {
        var logger = new RecordingLogger();
        await StartNode(4, logger: logger);
        var pg = NewGroup();

        // Before the raylet heard of the group, and between prepare and commit: neither may be granted yet.
        var early = RequestInGroup(pg, 0, description: "early task");
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 2)]));
        var prepared = RequestInGroup(pg, 0, description: "task after prepare");
        Assert.False(early.IsCompleted);
        Assert.False(prepared.IsCompleted);
        Assert.Equal(2, AvailableCpus);

        _node.CommitBundles(pg, [0]);

        var a = await Granted(early);
        var b = await Granted(prepared);
        Assert.Equal(_node.NodeId, a.NodeId);
        Assert.Equal(_node.NodeId, b.NodeId);
        Assert.Equal(0, Available(CpuOf(pg, 0)));
        Assert.Equal(2, AvailableCpus);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains(pg.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Work_in_a_given_bundle_and_work_in_any_bundle_together_do_not_exceed_the_groups_reservation()
    {
        await StartNode(4);
        var pg = NewGroup();
        Reserve(pg, 1, 1);

        await Granted(RequestInGroup(pg, 0, description: "task in bundle 0"));
        await Granted(RequestInGroup(pg, -1, description: "task in any bundle"));
        double wildcard = Available(CpuOf(pg));
        var third = RequestInGroup(pg, -1, description: "second task in any bundle");

        // The group reserved 2 CPUs and 2 tasks of 1 CPU run in it: a third must wait.
        Assert.False(third.IsCompleted, "a third 1-CPU task was granted in a group of two 1-CPU bundles");
        Assert.Equal(wildcard, Available(CpuOf(pg)));
    }

    // ---- Cancel ----

    [Fact]
    public async Task Canceling_a_prepared_bundle_gives_its_CPUs_back_to_the_node_once()
    {
        await StartNode(4);
        var pg = NewGroup();
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 3)]));
        await Granted(Request(description: "task 1"));
        var queued = Request(cpus: 2, description: "task 2");
        Assert.False(queued.IsCompleted);

        _node.CancelBundles(pg, [0], groupRemoved: false);

        await Granted(queued);
        Assert.Equal(1, AvailableCpus);
        Assert.Equal(0, _node.BundleCount);
        Assert.Empty(NamesOf(_node.Stats().Total, pg));

        // A retried cancel returns nothing more; the group was not removed, so it may be prepared again.
        _node.CancelBundles(pg, [0], groupRemoved: false);
        Assert.Equal(1, AvailableCpus);
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 1)]));
        Assert.Equal(0, AvailableCpus);
    }

    [Fact]
    public async Task Removing_a_group_stops_its_workers_frees_the_node_and_fails_its_requests_now_and_later()
    {
        await StartNode(4);
        var pg = NewGroup();
        Reserve(pg, 2, 1);
        var inZero = await Granted(RequestInGroup(pg, 0, description: "task in bundle 0"));
        var inOne = await Granted(RequestInGroup(pg, 1, description: "task in bundle 1"));
        var normal = await Granted(Request(description: "task outside the group"));
        var queuedInOne = RequestInGroup(pg, 1, description: "queued task in bundle 1");
        var queuedInZero = RequestInGroup(pg, 0, cpus: 2, description: "queued task in bundle 0");
        var queuedNormal = Request(cpus: 2, description: "queued task outside the group");
        Assert.False(queuedInOne.IsCompleted);
        Assert.False(queuedInZero.IsCompleted);
        Assert.False(queuedNormal.IsCompleted);
        Assert.Equal(0, AvailableCpus);

        _node.CancelBundles(pg, [0, 1], groupRemoved: true);

        // The workers running in the group stop; work outside it goes on.
        foreach (var lease in new[] { inZero, inOne })
        {
            string reason = await _launcher.HandleOf(lease.Worker!.WorkerId).Killed.Task.WaitAsync(Wait);
            Assert.Contains(pg.ToString(), reason);
            Assert.Contains("removed", reason);
        }
        Assert.False(_launcher.HandleOf(normal.Worker!.WorkerId).Killed.Task.IsCompleted, "a worker outside the group was stopped");

        // Queued requests for the group fail saying why; the node's CPUs the group held serve other work.
        await RefusedAsGroupRemoved(queuedInOne, pg);
        await RefusedAsGroupRemoved(queuedInZero, pg);
        await Granted(queuedNormal);
        Assert.Equal(1, AvailableCpus);
        Assert.Equal(4, Total(ResourceSet.Cpu));
        Assert.Empty(NamesOf(_node.Stats().Total, pg));
        Assert.Empty(NamesOf(_node.Stats().Available, pg));
        Assert.Equal(0, _node.BundleCount);

        // Later requests for the group are refused at once, and so is a late prepare.
        var later = RequestInGroup(pg, 0, description: "later task in the group");
        Assert.True(later.IsCompleted, "a request for a removed group was queued");
        await RefusedAsGroupRemoved(later, pg);
        await RefusedAsGroupRemoved(RequestInGroup(pg, -1, description: "later task in any bundle"), pg);
        Assert.False(_node.PrepareBundles(pg, [Bundle(0, 1)]));
        Assert.Equal(1, AvailableCpus);

        // The stopped leases' holders return them: nothing comes back twice, no bundle resource reappears.
        _node.ReturnWorker(inZero.LeaseId, disconnect: false);
        _node.ReturnWorker(inOne.LeaseId, disconnect: true);
        Assert.Equal(1, AvailableCpus);
        Assert.Empty(NamesOf(_node.Stats().Available, pg));

        await _gcs.SetViewAsync();
        Assert.Empty(NamesOf(_gcs.LastReport!.Total!, pg));
        Assert.Empty(NamesOf(_gcs.LastReport.Available, pg));
        Assert.Equal(4, _gcs.LastReport.Total![ResourceSet.Cpu]);
    }

    [Fact]
    public async Task A_lease_whose_worker_is_still_starting_when_its_group_is_removed_is_not_granted()
    {
        await StartNode(1, autoRegister: false);
        var pg = NewGroup();
        Reserve(pg, 1);
        var pending = RequestInGroup(pg, 0);
        await _launcher.Starts.WhenAtLeast(1);
        Assert.Equal(0, Available(CpuOf(pg, 0)));

        _node.CancelBundles(pg, [0], groupRemoved: true);
        Assert.True(_launcher.Started[0].Register());

        var reply = await pending.WaitAsync(Wait);
        // As its holder would, give back whatever was granted before looking at the node.
        if (reply.Kind == LeaseReplyKind.Granted) _node.ReturnWorker(reply.LeaseId, disconnect: false);
        var leftovers = NamesOf(_node.Stats().Available, pg);
        Assert.True(reply.Kind == LeaseReplyKind.Canceled && reply.PlacementGroupRemoved,
            $"work for a removed group got {reply.Kind} (PlacementGroupRemoved: {reply.PlacementGroupRemoved})");
        Assert.Empty(leftovers);
        Assert.Equal(1, AvailableCpus);
    }

    // ---- Blocked tasks ----

    [Fact]
    public async Task A_task_blocked_in_Get_inside_a_bundle_lends_its_bundle_CPU_and_takes_it_back_when_unblocked()
    {
        await StartNode(2);
        var pg = NewGroup();
        Reserve(pg, 1);
        await Granted(Request(description: "task outside the group"));
        var queuedNormal = Request(description: "queued task outside the group");
        var blocking = await Granted(RequestInGroup(pg, 0, description: "parent in bundle 0"));
        var child = RequestInGroup(pg, 0, description: "child in bundle 0");
        Assert.False(child.IsCompleted);
        Assert.Equal(0, AvailableCpus);

        _node.NotifyBlocked(blocking.LeaseId, blocked: true);

        var lent = await Granted(child);
        Assert.Equal(1, lent.Resources![CpuOf(pg, 0)]);
        // What is lent is the bundle's CPU, not one of the node's own.
        Assert.False(queuedNormal.IsCompleted, "a task blocked in a bundle lent a CPU of the node's own");
        Assert.Equal(0, AvailableCpus);

        _node.NotifyBlocked(blocking.LeaseId, blocked: false);
        var third = RequestInGroup(pg, 0, description: "third in bundle 0");
        _node.ReturnWorker(lent.LeaseId, disconnect: false);
        // The unblocked task holds the bundle's CPU again: what the child returns only pays back the overdraft.
        Assert.False(third.IsCompleted, "a lease was granted while the unblocked task held the bundle's only CPU");
        Assert.Equal(0, Available(CpuOf(pg, 0)));

        _node.ReturnWorker(blocking.LeaseId, disconnect: false);
        await Granted(third);
        Assert.False(queuedNormal.IsCompleted);
    }

    [Fact]
    public async Task A_task_returned_while_blocked_in_a_bundle_does_not_give_the_bundle_CPU_back_twice()
    {
        await StartNode(2);
        var pg = NewGroup();
        Reserve(pg, 1);
        var blocking = await Granted(RequestInGroup(pg, 0));
        _node.NotifyBlocked(blocking.LeaseId, blocked: true);
        Assert.Equal(1, Available(CpuOf(pg, 0)));

        _node.ReturnWorker(blocking.LeaseId, disconnect: false);

        Assert.Equal(1, Available(CpuOf(pg, 0)));
        Assert.Equal(1, Available(CpuOf(pg)));
        Assert.Equal(1000, Available(MarkerOf(pg, 0)));
        await _gcs.SetViewAsync();
        Assert.Equal(1, _gcs.LastReport!.Available[CpuOf(pg, 0)]);
    }

    // ---- The cluster view's removed groups ----

    [Fact]
    public async Task A_group_the_cluster_view_says_was_removed_fails_its_queued_and_new_requests()
    {
        await StartNode(4);
        var pg = NewGroup();
        var otherGroup = NewGroup();
        Reserve(pg, 1);
        await Granted(RequestInGroup(pg, 0, description: "task in the group"));
        var queued = RequestInGroup(pg, 0, description: "queued task in the group");
        var queuedAny = RequestInGroup(pg, -1, description: "queued task in any bundle");
        var queuedOther = RequestInGroup(otherGroup, 0, description: "task in another group");
        Assert.False(queued.IsCompleted);
        Assert.False(queuedAny.IsCompleted);

        await _gcs.RemovePlacementGroupAsync(pg);

        await RefusedAsGroupRemoved(queued, pg);
        await RefusedAsGroupRemoved(queuedAny, pg);
        var later = RequestInGroup(pg, 0, description: "later task in the group");
        Assert.True(later.IsCompleted, "a request for a group the cluster view says was removed was queued");
        await RefusedAsGroupRemoved(later, pg);
        Assert.False(_node.PrepareBundles(pg, [Bundle(1, 1)]), "a bundle of a removed group was prepared");

        // Another group and work outside groups are untouched.
        Assert.False(queuedOther.IsCompleted, "a request for another group was answered");
        await Granted(Request(description: "task outside the group"));
        Reserve(otherGroup, 1);
        await Granted(queuedOther);
    }

    // ---- The service: what arrives from the wire ----

    public static TheoryData<string> MalformedPrepares => ["nil group", "no bundles", "null bundles", "negative index", "index too large",
        "NaN amount", "negative amount", "infinite amount", "null resources"];

    [Theory]
    [MemberData(nameof(MalformedPrepares))]
    public async Task A_malformed_prepare_is_refused_with_InvalidArgument_and_reserves_nothing(string malformation)
    {
        await StartNode(4);
        var pg = NewGroup();
        var good = new WireBundle(0, new() { [ResourceSet.Cpu] = 1 });
        var bad = malformation switch
        {
            "nil group" => new PrepareBundlesRequest(PlacementGroupId.Nil, [good]),
            "no bundles" => new PrepareBundlesRequest(pg, []),
            "null bundles" => new PrepareBundlesRequest(pg, null!),
            "negative index" => new PrepareBundlesRequest(pg, [good, new WireBundle(-1, new() { [ResourceSet.Cpu] = 1 })]),
            "index too large" => new PrepareBundlesRequest(pg, [new WireBundle(WireValidation.MaxBundles, new() { [ResourceSet.Cpu] = 1 })]),
            "NaN amount" => new PrepareBundlesRequest(pg, [good, new WireBundle(1, new() { [ResourceSet.Cpu] = double.NaN })]),
            "negative amount" => new PrepareBundlesRequest(pg, [new WireBundle(0, new() { [ResourceSet.Cpu] = -2 })]),
            "infinite amount" => new PrepareBundlesRequest(pg, [new WireBundle(0, new() { [ResourceSet.Cpu] = double.PositiveInfinity })]),
            "null resources" => new PrepareBundlesRequest(pg, [new WireBundle(0, null!)]),
            _ => throw new ArgumentOutOfRangeException(nameof(malformation)),
        };

        var e = await Assert.ThrowsAsync<RpcException>(() => _node.Service.PrepareBundleResources(bad, null!));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("PrepareBundleResources", e.Status.Detail);
        Assert.Equal(4, AvailableCpus);
        Assert.Equal(0, _node.BundleCount);
        // The node goes on: a well-formed prepare is served.
        Assert.True((await _node.Service.PrepareBundleResources(new PrepareBundlesRequest(pg, [good]), null!)).Ok);
        Assert.Equal(3, AvailableCpus);
    }

    [Theory]
    [InlineData("commit", "nil group")]
    [InlineData("commit", "negative index")]
    [InlineData("commit", "null indices")]
    [InlineData("cancel", "nil group")]
    [InlineData("cancel", "negative index")]
    [InlineData("cancel", "null indices")]
    public async Task A_malformed_commit_or_cancel_is_refused_with_InvalidArgument_and_changes_nothing(string call, string malformation)
    {
        await StartNode(4);
        var pg = NewGroup();
        Assert.True(_node.PrepareBundles(pg, [Bundle(0, 1)]));
        var bad = malformation switch
        {
            "nil group" => new BundlesRequest(PlacementGroupId.Nil, [0], GroupRemoved: true),
            "negative index" => new BundlesRequest(pg, [0, -1], GroupRemoved: true),
            "null indices" => new BundlesRequest(pg, null!, GroupRemoved: true),
            _ => throw new ArgumentOutOfRangeException(nameof(malformation)),
        };

        var e = await Assert.ThrowsAsync<RpcException>(() => call == "commit"
            ? _node.Service.CommitBundleResources(bad, null!)
            : _node.Service.CancelResourceReserve(bad, null!));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal(3, AvailableCpus);
        Assert.Equal(1, _node.BundleCount);
        Assert.Empty(NamesOf(_node.Stats().Total, pg));
    }

    [Fact]
    public async Task The_service_prepares_commits_and_cancels_answering_with_the_nodes_own_resources()
    {
        await StartNode(4);
        var pg = NewGroup();
        var bundle = new WireBundle(0, new() { [ResourceSet.Cpu] = 3 });

        var prepared = await _node.Service.PrepareBundleResources(new PrepareBundlesRequest(pg, [bundle]), null!);
        Assert.True(prepared.Ok);
        Assert.Equal(1, prepared.Available[ResourceSet.Cpu]);

        var tooBig = await _node.Service.PrepareBundleResources(
            new PrepareBundlesRequest(NewGroup(), [new WireBundle(0, new() { [ResourceSet.Cpu] = 2 })]), null!);
        Assert.False(tooBig.Ok);
        Assert.Equal(1, tooBig.Available[ResourceSet.Cpu]);

        var committed = await _node.Service.CommitBundleResources(new BundlesRequest(pg, [0]), null!);
        Assert.True(committed.Ok);
        // The reply carries the node's own resources; the bundle resources reach the GCS with the next report.
        Assert.Empty(NamesOf(committed.Total, pg));
        Assert.Equal(1, committed.Available[ResourceSet.Cpu]);
        Assert.Equal(3, _node.Total[CpuOf(pg, 0)]);
        Assert.Equal(3, _node.Total[CpuOf(pg)]);

        var canceled = await _node.Service.CancelResourceReserve(new BundlesRequest(pg, [0], GroupRemoved: true), null!);
        Assert.True(canceled.Ok);
        Assert.Empty(NamesOf(canceled.Total, pg));
        Assert.Equal(4, canceled.Available[ResourceSet.Cpu]);
    }

    [Fact]
    public async Task Committing_a_bundle_that_was_never_prepared_fails_the_precondition()
    {
        await StartNode(4);
        var pg = NewGroup();

        var e = await Assert.ThrowsAsync<RpcException>(() => _node.Service.CommitBundleResources(new BundlesRequest(pg, [0]), null!));

        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("not prepared", e.Status.Detail);
        Assert.Equal(4, AvailableCpus);
        Assert.Empty(NamesOf(_node.Stats().Total, pg));
    }

    [Fact]
    public async Task A_prepare_naming_a_bundle_twice_does_not_leak_the_nodes_CPUs()
    {
        await StartNode(4);
        var pg = NewGroup();
        var dup = new PrepareBundlesRequest(pg, [new WireBundle(0, new() { [ResourceSet.Cpu] = 1 }), new WireBundle(0, new() { [ResourceSet.Cpu] = 1 })]);

        try
        {
            await _node.Service.PrepareBundleResources(dup, null!);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            // Refusing it at the door is as good as reserving the bundle once.
        }
        await _node.Service.CancelResourceReserve(new BundlesRequest(pg, [0], GroupRemoved: true), null!);

        Assert.Equal(4, AvailableCpus);
    }
}

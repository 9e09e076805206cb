using RaySharp.Core.Rpc;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The placement-group manager alone, over fake raylets that keep their own books and can refuse a prepare:
/// the two-phase reservation, its atomicity, retries, names, removal and node death.</summary>
public sealed class GcsPlacementGroupManagerTests
{
    private static NodeId A => PlacementTestNodes.A;
    private static NodeId B => PlacementTestNodes.B;
    private static NodeId C => PlacementTestNodes.C;
    private static readonly JobId Job = JobId.Parse("01000000");

    /// <summary>Raylets that reserve for real in their own books (prepared, then committed) and can be told to refuse.</summary>
    private sealed class FakeRaylets : IBundleReservationClient
    {
        public readonly Dictionary<NodeId, double> Total = [];
        public readonly Dictionary<(NodeId, PlacementGroupId, int), (double Cpus, bool Committed)> Reserved = [];
        public readonly HashSet<NodeId> Refusing = [];
        public readonly List<string> Calls = [];

        public double Free(NodeId node) => Total[node] - Reserved.Where(r => r.Key.Item1 == node).Sum(r => r.Value.Cpus);

        public IReadOnlyList<BundleNode> Nodes() =>
            [.. Total.Keys.Select(n => new BundleNode(n, ResourceSet.Of(("CPU", Total[n])), ResourceSet.Of(("CPU", Free(n)))))];

        public Task<bool> PrepareBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<(int Index, ResourceSet Resources)> bundles, CancellationToken ct)
        {
            lock (this)
            {
                Calls.Add($"prepare {node.ToString()[0]} {string.Join(",", bundles.Select(b => b.Index))}");
                double want = bundles.Sum(b => b.Resources["CPU"]);
                if (Refusing.Contains(node) || want > Free(node)) return Task.FromResult(false);
                foreach (var (index, resources) in bundles) Reserved[(node, group, index)] = (resources["CPU"], false);
                return Task.FromResult(true);
            }
        }

        public Task CommitBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, CancellationToken ct)
        {
            lock (this)
            {
                Calls.Add($"commit {node.ToString()[0]} {string.Join(",", indices)}");
                foreach (int i in indices) Reserved[(node, group, i)] = Reserved[(node, group, i)] with { Committed = true };
            }
            return Task.CompletedTask;
        }

        public Task CancelBundlesAsync(NodeId node, PlacementGroupId group, IReadOnlyList<int> indices, bool groupRemoved, CancellationToken ct)
        {
            lock (this)
            {
                Calls.Add($"cancel {node.ToString()[0]} {string.Join(",", indices)}{(groupRemoved ? " removed" : "")}");
                foreach (int i in indices) Reserved.Remove((node, group, i));
            }
            return Task.CompletedTask;
        }
    }

    private readonly FakeRaylets _raylets = new();
    private readonly GcsPlacementGroupManager _manager;

    public GcsPlacementGroupManagerTests() =>
        _manager = new GcsPlacementGroupManager(_raylets, _raylets.Nodes, NullLogger<GcsPlacementGroupManager>.Instance);

    private static PlacementGroupSpec Spec(PlacementStrategy strategy, double[] cpus, string? name = null,
        PlacementGroupLifetime lifetime = PlacementGroupLifetime.NonDetached) =>
        new(PlacementGroupId.Of(Job), [.. cpus.Select(c => ResourceSet.Of(("CPU", c)))], strategy, name, "ns", Job, lifetime);

    private async Task<PlacementGroupSpec> Create(PlacementStrategy strategy, double[] cpus, string? name = null,
        PlacementGroupLifetime lifetime = PlacementGroupLifetime.NonDetached)
    {
        var spec = Spec(strategy, cpus, name, lifetime);
        _manager.Create(spec);
        await _manager.ScheduleAsync(CancellationToken.None);
        return spec;
    }

    [Fact]
    public async Task A_group_is_prepared_on_every_chosen_node_before_any_commits_and_then_created()
    {
        _raylets.Total[A] = 2;
        _raylets.Total[B] = 2;
        var spec = await Create(PlacementStrategy.StrictSpread, [1, 1]);
        Assert.True(_manager.WhenReady(spec.Id).IsCompletedSuccessfully);
        var info = _manager.Get(spec.Id)!;
        Assert.Equal(PlacementGroupState.Created, info.State);
        Assert.Equal(2, info.BundleNodes.Distinct().Count());
        int lastPrepare = _raylets.Calls.FindLastIndex(c => c.StartsWith("prepare", StringComparison.Ordinal));
        int firstCommit = _raylets.Calls.FindIndex(c => c.StartsWith("commit", StringComparison.Ordinal));
        Assert.True(lastPrepare < firstCommit, string.Join("; ", _raylets.Calls));
        Assert.All(_raylets.Reserved.Values, r => Assert.True(r.Committed));
    }

    [Fact]
    public async Task A_refused_prepare_gives_back_everything_prepared_and_the_group_waits_until_the_next_pass()
    {
        _raylets.Total[A] = 2;
        _raylets.Total[B] = 2;
        _raylets.Refusing.Add(B);
        var spec = await Create(PlacementStrategy.StrictSpread, [1, 1]);
        Assert.Equal(PlacementGroupState.Pending, _manager.Get(spec.Id)!.State);
        Assert.Empty(_raylets.Reserved); // atomic: A's prepared bundle was cancelled
        Assert.Contains(_raylets.Calls, c => c.StartsWith("cancel a", StringComparison.Ordinal));
        Assert.False(_manager.WhenReady(spec.Id).IsCompleted);

        _raylets.Refusing.Clear();
        await _manager.ScheduleAsync(CancellationToken.None);
        await _manager.WhenReady(spec.Id).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, _raylets.Reserved.Count);
    }

    [Fact]
    public async Task A_group_that_cannot_fit_reserves_nothing_is_marked_infeasible_and_is_created_when_a_node_joins()
    {
        _raylets.Total[A] = 1;
        var spec = await Create(PlacementStrategy.StrictPack, [2]);
        var info = _manager.Get(spec.Id)!;
        Assert.Equal(PlacementGroupState.Pending, info.State);
        Assert.True(info.Infeasible);
        Assert.Empty(_raylets.Calls);

        _raylets.Total[B] = 4; // a node that fits joins
        await _manager.ScheduleAsync(CancellationToken.None);
        Assert.Equal(PlacementGroupState.Created, _manager.Get(spec.Id)!.State);
        Assert.False(_manager.Get(spec.Id)!.Infeasible);
        Assert.Equal([B], _manager.Get(spec.Id)!.BundleNodes);
    }

    [Fact]
    public async Task Names_are_unique_among_live_groups_and_a_removed_group_frees_its_name_and_its_bundles()
    {
        _raylets.Total[A] = 4;
        var first = await Create(PlacementStrategy.Pack, [1, 1], name: "trainers");
        Assert.Equal(first.Id, _manager.GetNamed("trainers", "ns")!.Spec.Id);
        Assert.Throws<ArgumentException>(() => _manager.Create(Spec(PlacementStrategy.Pack, [1], name: "trainers")));

        await _manager.RemoveAsync(first.Id, CancellationToken.None);
        Assert.Equal(PlacementGroupState.Removed, _manager.Get(first.Id)!.State);
        Assert.Empty(_raylets.Reserved);
        Assert.Null(_manager.GetNamed("trainers", "ns"));
        await Create(PlacementStrategy.Pack, [1], name: "trainers");
    }

    [Fact]
    public async Task Removing_a_pending_group_fails_its_waiters()
    {
        _raylets.Total[A] = 1;
        var spec = await Create(PlacementStrategy.StrictPack, [2]);
        var ready = _manager.WhenReady(spec.Id);
        await _manager.RemoveAsync(spec.Id, CancellationToken.None);
        await Assert.ThrowsAsync<PlacementGroupSchedulingException>(() => ready.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Bundles_lost_with_a_node_are_placed_again_before_pending_groups()
    {
        _raylets.Total[A] = 1;
        _raylets.Total[B] = 1;
        var spread = await Create(PlacementStrategy.Spread, [1, 1]);
        var lost = _manager.Get(spread.Id)!.BundleNodes.ToList().IndexOf(B);
        // B dies (its reservations with it); C joins with room for one bundle; a new group also wants it.
        _raylets.Total.Remove(B);
        foreach (var key in _raylets.Reserved.Keys.Where(k => k.Item1 == B).ToList()) _raylets.Reserved.Remove(key);
        _manager.OnNodeDead(B);
        Assert.Equal(PlacementGroupState.Rescheduling, _manager.Get(spread.Id)!.State);
        _manager.Create(Spec(PlacementStrategy.Pack, [1]));
        _raylets.Total[C] = 1;
        await _manager.ScheduleAsync(CancellationToken.None);
        var info = _manager.Get(spread.Id)!;
        Assert.Equal(PlacementGroupState.Created, info.State);
        Assert.Equal(C, info.BundleNodes[lost]);
    }

    [Fact]
    public async Task When_its_job_finishes_a_group_goes_unless_it_is_detached()
    {
        _raylets.Total[A] = 4;
        var owned = await Create(PlacementStrategy.Pack, [1]);
        var detached = await Create(PlacementStrategy.Pack, [1], lifetime: PlacementGroupLifetime.Detached);
        await _manager.OnJobFinishedAsync(Job, CancellationToken.None);
        Assert.Equal(PlacementGroupState.Removed, _manager.Get(owned.Id)!.State);
        Assert.Equal(PlacementGroupState.Created, _manager.Get(detached.Id)!.State);
        Assert.Single(_raylets.Reserved);
    }

    [Fact]
    public async Task Removed_groups_stay_listed_up_to_a_bound_and_a_removal_reaches_the_raylets_as_a_removal()
    {
        _raylets.Total[A] = 4;
        var first = await Create(PlacementStrategy.Pack, [1]);
        string? removedReason = null;
        _manager.GroupRemoved += (id, reason) => removedReason = id == first.Id ? reason : removedReason;
        Assert.True(await _manager.RemoveAsync(first.Id, CancellationToken.None, "a test removed it"));
        Assert.Contains(first.Id.ToString(), removedReason);
        Assert.Contains("a test removed it", removedReason);
        var (removed, seq) = _manager.RemovedSince(0);
        Assert.Equal([first.Id], removed);
        Assert.Empty(_manager.RemovedSince(seq).Removed);
        Assert.Contains("cancel a 0 removed", _raylets.Calls);
        Assert.Equal(PlacementGroupState.Removed, _manager.Get(first.Id)!.State);
        Assert.False(await _manager.RemoveAsync(PlacementGroupId.Of(Job), CancellationToken.None));
        for (int i = 0; i < GcsPlacementGroupManager.RemovedGroupsKept; i++)
        {
            var spec = Spec(PlacementStrategy.Pack, [1]);
            _manager.Create(spec);
            await _manager.RemoveAsync(spec.Id, CancellationToken.None);
        }
        Assert.Null(_manager.Get(first.Id));
        Assert.Equal(GcsPlacementGroupManager.RemovedGroupsKept, _manager.List().Count);
    }

    [Fact]
    public async Task Every_change_of_a_group_is_written_to_the_gcs_tables()
    {
        var storage = new InMemoryGcsTableStorage();
        var manager = new GcsPlacementGroupManager(_raylets, _raylets.Nodes, NullLogger<GcsPlacementGroupManager>.Instance, storage);
        _raylets.Total[A] = 1;
        var spec = Spec(PlacementStrategy.StrictPack, [2], name: "stored");
        manager.Create(spec);
        Assert.Equal(PlacementGroupState.Pending, storage.GetPlacementGroups().Single().State);
        await manager.ScheduleAsync(CancellationToken.None);
        Assert.True(storage.GetPlacementGroups().Single().Infeasible);

        _raylets.Total[B] = 2;
        await manager.ScheduleAsync(CancellationToken.None);
        var row = storage.GetPlacementGroups().Single();
        Assert.Equal(PlacementGroupState.Created, row.State);
        Assert.False(row.Infeasible);
        Assert.Equal([B], row.BundleNodes);
        Assert.Equal("stored", row.Spec.Name);
        Assert.Equal(2, row.Spec.Bundles[0]["CPU"]);

        manager.OnNodeDead(B);
        Assert.Equal(PlacementGroupState.Rescheduling, storage.GetPlacementGroups().Single().State);
        await manager.RemoveAsync(spec.Id, CancellationToken.None);
        Assert.Equal(PlacementGroupState.Removed, storage.GetPlacementGroups().Single().State);
    }
}

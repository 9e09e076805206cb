using RaySharp.Core;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>The owner's lineage (Ray's lineage pinning in the TaskManager): which finished tasks' specs are kept, for how
/// long, and how the byte cap evicts them.</summary>
public sealed class LineageTests : IDisposable
{
    private readonly CoreWorker _worker;

    public LineageTests() : this(new RayConfig()) { }

    private LineageTests(RayConfig config) => _worker = NewWorker(config: config);

    private TaskManager Tasks => _worker.TaskManager;

    public void Dispose() => _worker.Dispose();

    /// <summary>Runs <paramref name="spec"/> to completion (the caller keeps the ref to its return).</summary>
    private TaskSpec Finish(TaskSpec spec)
    {
        var entry = Tasks.AddPendingTask(spec, spec.MaxRetries);
        Assert.False(Tasks.HandleReply(entry, Ok(1)));
        return spec;
    }

    private void Release(ObjectId id) => _worker.ReferenceCounter.RemoveLocalReference(id);

    private static TaskArg Inline(int bytes) => TaskArg.ByValue(new SerializedObject(new byte[bytes], []));

    [Fact]
    public void A_finished_task_keeps_its_lineage_while_its_return_is_referenced()
    {
        var spec = Finish(NormalTask(_worker, maxRetries: 3, args: [Inline(1000)]));

        Assert.True(Tasks.TryGetLineage(spec.TaskId, out var kept, out var notRebuilt));
        Assert.NotNull(kept);
        Assert.Null(notRebuilt);
        Assert.Equal(TaskManager.EstimateLineageBytes(kept), Tasks.LineageBytes);
        Assert.True(Tasks.LineageBytes > 1000);

        Release(spec.ReturnId(0));

        Assert.False(Tasks.TryGetLineage(spec.TaskId, out _, out _));
        Assert.Equal(0, Tasks.NumLineageEntries);
        Assert.Equal(0, Tasks.LineageBytes);
    }

    [Fact]
    public void A_task_whose_return_was_released_before_it_finished_keeps_no_lineage()
    {
        var spec = NormalTask(_worker, maxRetries: 3);
        var entry = Tasks.AddPendingTask(spec, 3);
        Release(spec.ReturnId(0));

        Assert.False(Tasks.HandleReply(entry, Ok(1)));

        Assert.Equal(0, Tasks.NumLineageEntries);
    }

    [Fact]
    public void A_task_with_MaxRetries_0_keeps_only_why_its_outputs_cannot_be_rebuilt()
    {
        var spec = Finish(NormalTask(_worker, maxRetries: 0, args: [Inline(1000)]));

        Assert.True(Tasks.TryGetLineage(spec.TaskId, out var kept, out var notRebuilt));
        Assert.Null(kept);
        Assert.Contains("MaxRetries = 0", notRebuilt);
        Assert.Equal(0, Tasks.LineageBytes);
    }

    [Fact]
    public void The_oldest_lineage_is_evicted_once_the_kept_specs_exceed_max_lineage_bytes()
    {
        var probe = NormalTask(_worker, args: [Inline(4000)]);
        long perSpec = TaskManager.EstimateLineageBytes(probe);
        using var tests = new LineageTests(new RayConfig { MaxLineageBytes = perSpec * 5 / 2 });
        var specs = Enumerable.Range(0, 3).Select(_ => NormalTask(tests._worker, maxRetries: 3, args: [Inline(4000)])).ToArray();

        tests.Finish(specs[0]);
        tests.Finish(specs[1]);
        Assert.Equal(2 * perSpec, tests.Tasks.LineageBytes);
        tests.Finish(specs[2]);

        // The oldest goes; what remains fits.
        Assert.True(tests.Tasks.TryGetLineage(specs[0].TaskId, out var evicted, out var why));
        Assert.Null(evicted);
        Assert.Contains("evicted", why);
        Assert.Contains("RAY_max_lineage_bytes", why);
        Assert.True(tests.Tasks.TryGetLineage(specs[1].TaskId, out var second, out _));
        Assert.NotNull(second);
        Assert.True(tests.Tasks.TryGetLineage(specs[2].TaskId, out var third, out _));
        Assert.NotNull(third);
        Assert.Equal(2 * perSpec, tests.Tasks.LineageBytes);

        // The evicted task's record goes with its last reference.
        tests.Release(specs[0].ReturnId(0));
        Assert.Equal(2, tests.Tasks.NumLineageEntries);
    }

    [Fact]
    public void An_argument_released_after_its_consumer_finished_keeps_its_lineage_while_the_consumer_keeps_its_own()
    {
        var a = Finish(NormalTask(_worker, maxRetries: 3));
        var b = NormalTask(_worker, maxRetries: 3, args: [TaskArg.ByReference(a.ReturnId(0), _worker.Address)]);
        var entry = Tasks.AddPendingTask(b, 3);
        Release(a.ReturnId(0)); // the pending task still holds it
        Assert.False(Tasks.HandleReply(entry, Ok(2)));

        // a's value is gone, its lineage is not: rebuilding b's return may need a again.
        Assert.False(_worker.ReferenceCounter.IsInScope(a.ReturnId(0)));
        Assert.False(_worker.MemoryStore.Contains(a.ReturnId(0)));
        Assert.True(Tasks.TryGetLineage(a.TaskId, out var kept, out _));
        Assert.NotNull(kept);

        Release(b.ReturnId(0));

        Assert.Equal(0, Tasks.NumLineageEntries);
        Assert.Equal(0, Tasks.LineageBytes);
    }

    [Fact]
    public void An_evicted_lineage_keeps_only_why_while_a_kept_lineage_takes_its_return_and_goes_with_it()
    {
        long aBytes = TaskManager.EstimateLineageBytes(NormalTask(_worker));
        long bBytes = TaskManager.EstimateLineageBytes(NormalTask(_worker, args: [TaskArg.ByReference(ObjectId.Nil, _worker.Address), Inline(8000)]));
        using var tests = new LineageTests(new RayConfig { MaxLineageBytes = aBytes + bBytes - 1 });
        var a = tests.Finish(NormalTask(tests._worker, maxRetries: 3));
        var b = NormalTask(tests._worker, maxRetries: 3, args: [TaskArg.ByReference(a.ReturnId(0), tests._worker.Address), Inline(8000)]);
        var entry = tests.Tasks.AddPendingTask(b, 3);
        tests.Release(a.ReturnId(0));

        // b's lineage takes the total over the cap: a's, the oldest, is evicted. Its record stays (a rebuild of b's
        // return would need a, and must say why it cannot be had) while b's lineage is kept.
        Assert.False(tests.Tasks.HandleReply(entry, Ok(2)));

        Assert.True(tests.Tasks.TryGetLineage(a.TaskId, out var evicted, out var why));
        Assert.Null(evicted);
        Assert.Contains("RAY_max_lineage_bytes", why);
        Assert.True(tests.Tasks.TryGetLineage(b.TaskId, out var kept, out _));
        Assert.NotNull(kept);
        Assert.Equal(bBytes, tests.Tasks.LineageBytes);

        tests.Release(b.ReturnId(0));

        Assert.Equal(0, tests.Tasks.NumLineageEntries);
        Assert.Equal(0, tests.Tasks.LineageBytes);
    }
}

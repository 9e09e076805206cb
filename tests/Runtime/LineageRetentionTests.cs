using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests;

/// <summary>The lineage the owner (here the driver) keeps of the tasks it submitted, to rebuild their outputs if their
/// node dies (rebuilding itself needs a node to kill: tests/Integration/LineageReconstructionTests).</summary>
public sealed class LineageRetentionTests : RayTest
{
    private static TaskManager Owner => CoreWorker.Current.TaskManager;

    [Fact]
    public void A_finished_task_keeps_its_lineage_until_its_output_is_released()
    {
        var sum = Tasks.Remote.Add(1, 2);
        Assert.Equal(3, sum.Get(Timeout));

        Assert.True(Owner.TryGetLineage(sum.Id.TaskId, out var spec, out var notRebuilt));
        Assert.NotNull(spec);
        Assert.Null(notRebuilt);
        Assert.True(Owner.LineageBytes > 0);

        sum.Dispose();

        Assert.False(Owner.TryGetLineage(sum.Id.TaskId, out _, out _));
    }

    [Fact]
    public void A_task_with_MaxRetries_0_keeps_only_why_its_output_cannot_be_rebuilt()
    {
        using var once = Tasks.Remote.WithOptions(new TaskOptions { MaxRetries = 0 }).Add(1, 2);
        Assert.Equal(3, once.Get(Timeout));

        Assert.True(Owner.TryGetLineage(once.Id.TaskId, out var spec, out var notRebuilt));
        Assert.Null(spec);
        Assert.Contains("MaxRetries = 0", notRebuilt);
    }

    [Fact]
    public void The_lineage_keeps_a_small_argument_as_its_value_and_an_argument_in_the_store_as_a_ref()
    {
        using var small = Ray.Put(5);
        using var smallSum = Tasks.Remote.Add(small, 1);
        using var large = Vectors.Remote.Range(100_000); // 400 KB: in the object store
        using var largeSum = Vectors.Remote.Sum(large);
        Assert.Equal(6, smallSum.Get(Timeout));
        Assert.Equal(99_999.0 * 100_000 / 2, largeSum.Get(Timeout));

        Assert.True(Owner.TryGetLineage(smallSum.Id.TaskId, out var smallSpec, out _));
        Assert.False(smallSpec!.Args[0].IsRef);
        Assert.True(Owner.TryGetLineage(largeSum.Id.TaskId, out var largeSpec, out _));
        Assert.True(largeSpec!.Args[0].IsRef);
        Assert.Equal(large.Id, largeSpec.Args[0].Id);
    }

    [Fact]
    public void An_argument_released_after_its_consumer_finished_keeps_its_lineage_while_the_consumers_output_is_referenced()
    {
        var large = Vectors.Remote.Range(100_000);
        var sum = Vectors.Remote.Sum(large);
        Assert.Equal(99_999.0 * 100_000 / 2, sum.Get(Timeout));

        large.Dispose();

        // Its value is freed; its lineage stays, since rebuilding sum's output may need it again.
        Assert.False(CoreWorker.Current.ReferenceCounter.IsInScope(large.Id));
        Assert.True(Owner.TryGetLineage(large.Id.TaskId, out var spec, out _));
        Assert.NotNull(spec);

        sum.Dispose();

        Assert.False(Owner.TryGetLineage(sum.Id.TaskId, out _, out _));
        Assert.False(Owner.TryGetLineage(large.Id.TaskId, out _, out _));
    }
}

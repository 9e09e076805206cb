using System.Collections.Concurrent;
using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The owner's reference counts alone: an object goes out of scope exactly once, when its local refs, the
/// pending tasks that take it, the objects that contain it and its borrowers are all gone — and not before.</summary>
public sealed class ReferenceCounterTests
{
    private static readonly JobId Job = new(7);
    private readonly WorkerId _self = WorkerId.FromRandom();
    private readonly Address _selfAddress;
    private readonly ConcurrentQueue<(ObjectId Id, Address? BorrowedFrom)> _outOfScope = new();
    private readonly ConcurrentQueue<(ObjectId Id, Address Owner)> _borrowsStarted = new();
    private readonly ReferenceCounter _rc;

    public ReferenceCounterTests()
    {
        _selfAddress = new Address(_self, NodeId.FromRandom(), "self");
        _rc = new ReferenceCounter(_self, (id, from) => _outOfScope.Enqueue((id, from)), (id, owner) => _borrowsStarted.Enqueue((id, owner)));
    }

    private static ObjectId NewObject() => ObjectId.ForPut(TaskId.ForNormalTask(Job), 1);

    private static Address OtherWorker() => new(WorkerId.FromRandom(), NodeId.FromRandom(), "other");

    private int TimesFreed(ObjectId id) => _outOfScope.Count(e => e.Id == id);

    [Fact]
    public void An_owned_object_goes_out_of_scope_once_its_last_local_ref_is_released()
    {
        var id = NewObject();
        _rc.AddOwnedObject(id, _selfAddress);
        _rc.AddLocalReference(id);

        _rc.RemoveLocalReference(id);
        Assert.True(_rc.IsInScope(id));
        Assert.Equal(0, TimesFreed(id));

        _rc.RemoveLocalReference(id);
        Assert.False(_rc.IsInScope(id));
        Assert.Equal([(id, (Address?)null)], _outOfScope);

        // A stray extra release does not free it again.
        _rc.RemoveLocalReference(id);
        Assert.Equal(1, TimesFreed(id));
        Assert.Equal(0, _rc.Count);
    }

    [Fact]
    public void A_pending_task_keeps_its_argument_in_scope_after_the_caller_drops_its_ref()
    {
        var arg = NewObject();
        _rc.AddOwnedObject(arg, _selfAddress);
        _rc.AddSubmittedTaskReferences([arg]);

        _rc.RemoveLocalReference(arg);
        Assert.True(_rc.IsInScope(arg));
        Assert.Equal((0, 1, 0), _rc.GetCounts(arg));
        Assert.Empty(_outOfScope);

        _rc.RemoveSubmittedTaskReferences([arg]);
        Assert.False(_rc.IsInScope(arg));
        Assert.Equal(1, TimesFreed(arg));
    }

    [Fact]
    public void An_argument_of_two_pending_tasks_lives_until_both_finish()
    {
        var arg = NewObject();
        _rc.AddOwnedObject(arg, _selfAddress, localRefs: 0);
        _rc.AddSubmittedTaskReferences([arg]);
        _rc.AddSubmittedTaskReferences([arg]);

        _rc.RemoveSubmittedTaskReferences([arg]);
        Assert.True(_rc.IsInScope(arg));
        _rc.RemoveSubmittedTaskReferences([arg]);
        Assert.Equal(1, TimesFreed(arg));
    }

    [Fact]
    public void A_nested_ref_lives_as_long_as_the_object_that_contains_it_and_is_freed_with_it()
    {
        var inner = NewObject();
        var outer = NewObject();
        _rc.AddOwnedObject(inner, _selfAddress);
        _rc.AddOwnedObject(outer, _selfAddress);
        _rc.AddNestedObjects(outer, [inner]);

        _rc.RemoveLocalReference(inner);
        Assert.True(_rc.IsInScope(inner));
        Assert.Equal((0, 0, 1), _rc.GetCounts(inner));
        Assert.Empty(_outOfScope);

        _rc.RemoveLocalReference(outer);
        Assert.False(_rc.IsInScope(outer));
        Assert.False(_rc.IsInScope(inner));
        Assert.Equal(1, TimesFreed(outer));
        Assert.Equal(1, TimesFreed(inner));
    }

    [Fact]
    public void A_nested_ref_with_its_own_local_ref_outlives_the_container()
    {
        var inner = NewObject();
        var outer = NewObject();
        _rc.AddOwnedObject(inner, _selfAddress);
        _rc.AddOwnedObject(outer, _selfAddress);
        _rc.AddNestedObjects(outer, [inner]);

        _rc.RemoveLocalReference(outer);
        Assert.Equal(1, TimesFreed(outer));
        Assert.True(_rc.IsInScope(inner));
        Assert.Equal(0, TimesFreed(inner));

        _rc.RemoveLocalReference(inner);
        Assert.Equal(1, TimesFreed(inner));
    }

    [Fact]
    public void An_owned_object_stays_in_scope_while_a_borrower_holds_it()
    {
        var id = NewObject();
        var borrower1 = OtherWorker();
        var borrower2 = OtherWorker();
        _rc.AddOwnedObject(id, _selfAddress);
        _rc.AddBorrower(id, borrower1);
        _rc.AddBorrower(id, borrower2);

        _rc.RemoveLocalReference(id);
        Assert.True(_rc.IsInScope(id));
        _rc.RemoveBorrower(id, borrower1);
        Assert.True(_rc.IsInScope(id));
        Assert.Empty(_outOfScope);

        _rc.RemoveBorrower(id, borrower2);
        Assert.False(_rc.IsInScope(id));
        Assert.Equal([(id, (Address?)null)], _outOfScope);
    }

    [Fact]
    public void A_borrowed_ref_tells_its_owner_once_when_borrowing_starts_and_names_the_owner_when_it_ends()
    {
        var id = NewObject();
        var owner = OtherWorker();

        _rc.AddLocalReference(id, owner);
        _rc.AddLocalReference(id, owner);
        Assert.Equal([(id, owner)], _borrowsStarted);
        Assert.False(_rc.IsOwned(id));
        Assert.Equal(owner, _rc.GetOwner(id));

        _rc.RemoveLocalReference(id);
        Assert.Empty(_outOfScope);
        _rc.RemoveLocalReference(id);
        Assert.Equal([(id, (Address?)owner)], _outOfScope);
    }

    [Fact]
    public void Out_of_scope_fires_only_when_every_kind_of_count_is_zero()
    {
        var id = NewObject();
        var container = NewObject();
        var borrower = OtherWorker();
        _rc.AddOwnedObject(id, _selfAddress);
        _rc.AddOwnedObject(container, _selfAddress);
        _rc.AddNestedObjects(container, [id]);
        _rc.AddSubmittedTaskReferences([id]);
        _rc.AddBorrower(id, borrower);

        _rc.RemoveLocalReference(id);
        _rc.RemoveSubmittedTaskReferences([id]);
        _rc.RemoveBorrower(id, borrower);
        Assert.Equal(0, TimesFreed(id)); // the container still holds it

        _rc.RemoveLocalReference(container);
        Assert.Equal(1, TimesFreed(id));
        Assert.Equal(1, TimesFreed(container));
    }

    [Fact]
    public async Task A_deferred_release_returns_at_once_and_takes_effect_off_the_calling_thread()
    {
        // What a finalizer relies on: enqueueing the release never waits for the out-of-scope work (which may call
        // owners over RPC), yet the object is released soon after.
        using var gate = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rc = new ReferenceCounter(_self, (_, _) =>
        {
            entered.TrySetResult();
            gate.Wait(ComponentHarness.Timeout);
        });
        var id = NewObject();
        rc.AddOwnedObject(id, _selfAddress);

        await Task.Run(() => rc.RemoveLocalReferenceDeferred(id)).WaitAsync(ComponentHarness.Timeout);
        await entered.Task.WaitAsync(ComponentHarness.Timeout);
        gate.Set();
        rc.FlushDeferredReleases(); // waits for the drain that is running
        Assert.False(rc.IsInScope(id));
    }

    [Fact]
    public void Flushing_applies_every_deferred_release_before_returning()
    {
        var ids = Enumerable.Range(1, 100).Select(i => ObjectId.ForPut(TaskId.ForNormalTask(Job), i)).ToArray();
        foreach (var id in ids) _rc.AddOwnedObject(id, _selfAddress);

        foreach (var id in ids) _rc.RemoveLocalReferenceDeferred(id);
        _rc.FlushDeferredReleases();

        Assert.Equal(0, _rc.Count);
        Assert.All(ids, id => Assert.Equal(1, TimesFreed(id)));
    }

    [Fact]
    public void A_failing_out_of_scope_callback_does_not_stop_later_deferred_releases()
    {
        var logger = new RecordingLogger<ReferenceCounter>();
        var freed = new ConcurrentQueue<ObjectId>();
        var first = NewObject();
        var second = NewObject();
        var rc = new ReferenceCounter(_self, (id, _) =>
        {
            freed.Enqueue(id);
            if (id == first) throw new InvalidOperationException("callback failed");
        }, logger: logger);
        rc.AddOwnedObject(first, _selfAddress);
        rc.AddOwnedObject(second, _selfAddress);

        rc.RemoveLocalReferenceDeferred(first);
        rc.RemoveLocalReferenceDeferred(second);
        rc.FlushDeferredReleases();

        Assert.Equal(2, freed.Count);
        Assert.False(rc.IsInScope(second));
        Assert.Contains(logger.Entries, e => e.Exception is InvalidOperationException);
    }
}

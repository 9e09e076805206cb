using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests;

public sealed class ObjectTests : RayTest
{
    private static CoreWorker Worker => CoreWorker.Current;

    [Fact]
    public void Put_then_get_returns_an_equal_copy()
    {
        var list = new List<int> { 1, 2, 3 };
        var r = Ray.Put(list);
        var copy = r.Get(Timeout);
        Assert.Equal(list, copy);
        Assert.NotSame(list, copy);
        Assert.Equal(6, Tasks.Remote.SumOfRefs([Ray.Put(1), Ray.Put(2), Ray.Put(3)]).Get(Timeout));
    }

    [Fact]
    public void Dispose_releases_the_reference_and_frees_the_object()
    {
        var r = Ray.Put(new byte[1000]);
        var id = r.Id;
        Assert.True(Worker.ReferenceCounter.IsInScope(id));
        Assert.True(Worker.MemoryStore.Contains(id));
        r.Dispose();
        Assert.False(Worker.ReferenceCounter.IsInScope(id));
        Assert.False(Worker.MemoryStore.Contains(id));
        Assert.Throws<ObjectDisposedException>(() => r.Get(Timeout));
    }

    [Fact]
    public void Finalizer_releases_a_ref_that_was_never_disposed()
    {
        var id = PutAndDrop();
        for (int i = 0; i < 20 && Worker.ReferenceCounter.IsInScope(id); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            // The finalizer only enqueues the release; apply what it enqueued.
            Worker.ReferenceCounter.FlushDeferredReleases();
        }
        Assert.False(Worker.ReferenceCounter.IsInScope(id));
        Assert.False(Worker.MemoryStore.Contains(id));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static ObjectId PutAndDrop() => Ray.Put(42).Id;

    [Fact]
    public void A_ref_nested_in_an_object_lives_as_long_as_the_object()
    {
        var inner = Ray.Put(7);
        var innerId = inner.Id;
        var outer = Ray.Put(new List<ObjectRef<int>> { inner });
        inner.Dispose();
        Assert.True(Worker.ReferenceCounter.IsInScope(innerId));
        var readBack = outer.Get(Timeout);
        Assert.Equal(7, readBack[0].Get(Timeout));
        readBack[0].Dispose();
        outer.Dispose();
        Assert.False(Worker.ReferenceCounter.IsInScope(innerId));
    }

    [Fact]
    public void A_pending_task_keeps_its_arguments_alive()
    {
        var gate = Gate.Remote.Create();
        var arg = Ray.Put(5);
        var argId = arg.Id;
        var result = Tasks.Remote.Add(gate.WaitOpen(), arg);
        arg.Dispose();
        Assert.True(Worker.ReferenceCounter.IsInScope(argId));
        gate.Open(1);
        Assert.Equal(6, result.Get(Timeout));
        Assert.False(Worker.ReferenceCounter.IsInScope(argId));
    }

    [Fact]
    public void A_parameter_declared_as_ObjectRef_receives_the_ref_itself()
    {
        Assert.Equal(30, Tasks.Remote.ReadRef(Ray.Put(3)).Get(Timeout));
    }

    [Fact]
    public void A_ref_returned_from_a_task_resolves_to_the_value_put_inside_it()
    {
        ObjectRef<ObjectRef<int>> outer = Tasks.Remote.PutInside(9);
        ObjectRef<int> inner = outer.Get(Timeout);
        Assert.Equal(9, inner.Get(Timeout));
    }

    [Fact]
    public void Wait_returns_ready_refs_in_input_order_and_never_more_than_asked()
    {
        var gate = Gate.Remote.Create();
        var slow = gate.WaitOpen();
        var fast1 = Tasks.Remote.Add(1, 1);
        var fast2 = Tasks.Remote.Add(2, 2);
        fast1.Get(Timeout);
        fast2.Get(Timeout);
        var (ready, notReady) = Ray.Wait(new[] { slow, fast1, fast2 }, numReturns: 1, timeout: Timeout);
        Assert.Equal([fast1], ready);
        Assert.Equal([slow, fast2], notReady);

        var all = Ray.Wait(new[] { slow, fast1, fast2 }, numReturns: 3, timeout: TimeSpan.FromMilliseconds(100));
        Assert.Equal([fast1, fast2], all.Ready);
        Assert.Equal([slow], all.NotReady);
        gate.Open(0);
    }

    [Fact]
    public void Wait_with_zero_timeout_polls()
    {
        var gate = Gate.Remote.Create();
        var slow = gate.WaitOpen();
        var result = Ray.Wait(new[] { slow }, timeout: TimeSpan.Zero);
        Assert.Empty(result.Ready);
        Assert.Equal([slow], result.NotReady);
        gate.Open(0);
        Assert.Equal([slow], Ray.Wait(new[] { slow }, timeout: Timeout).Ready);
    }

    [Fact]
    public async Task WaitAsync_returns_when_enough_are_ready()
    {
        var refs = Enumerable.Range(0, 5).Select(i => Tasks.Remote.Add(i, 0)).ToList();
        var result = await Ray.WaitAsync(refs, numReturns: 5, timeout: Timeout);
        Assert.Equal(refs, result.Ready);
        Assert.Empty(result.NotReady);
    }

    [Fact]
    public void Wait_rejects_bad_arguments()
    {
        var a = Ray.Put(1);
        Assert.Throws<ArgumentException>(() => Ray.Wait(new[] { a, a }));
        Assert.Throws<ArgumentException>(() => Ray.Wait(new[] { a }, numReturns: 2));
        Assert.Throws<ArgumentException>(() => Ray.Wait(new[] { a }, numReturns: 0));
        var empty = Ray.Wait(Array.Empty<ObjectRef<int>>());
        Assert.Empty(empty.Ready);
        Assert.Empty(empty.NotReady);
    }

    [Fact]
    public void Object_refs_are_equal_by_id()
    {
        var a = Ray.Put(1);
        var copy = Ray.Put(new List<ObjectRef<int>> { a }).Get(Timeout)[0];
        Assert.Equal(a, copy);
        Assert.Equal(a.GetHashCode(), copy.GetHashCode());
        Assert.NotEqual(a, (ObjectRef)Ray.Put(1));
    }
}

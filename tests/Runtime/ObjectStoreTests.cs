using System.Security.Cryptography;
using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests;

/// <summary>Large objects go through the node's shared-memory store: puts, returns and arguments above the inline
/// limit, read back intact, passed by reference, and freed with their last ref.</summary>
public sealed class ObjectStoreTests : RayTest
{
    private const int MiB = 1024 * 1024;
    private static CoreWorker Worker => CoreWorker.Current;

    private static byte[] Bytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static ObjectStoreStats Stats() => Worker.ObjectStore!.GetStatsAsync(CancellationToken.None).GetAwaiter().GetResult();

    [Fact]
    public void A_large_put_goes_to_the_store_and_reads_back_intact_while_a_small_one_stays_inline()
    {
        var data = Bytes(3 * MiB, 1);
        using var large = Ray.Put(data);
        using var small = Ray.Put(Bytes(1000, 2));
        Assert.True(Worker.MemoryStore.TryGet(large.Id, out var stored) && stored.IsInStore);
        Assert.True(Worker.MemoryStore.TryGet(small.Id, out var inline) && !inline.IsInStore);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(large.Get(Timeout)));
        Assert.True(Stats().Used >= 3 * MiB);
    }

    [Fact]
    public void Large_arrays_of_primitives_are_written_as_they_are_and_read_back_as_MemoryPack_reads_them()
    {
        var ints = Enumerable.Range(-200_000, 400_000).ToArray();
        var doubles = ints.Select(i => i * 0.5).ToArray();
        var flags = ints.Select(i => i % 3 == 0).ToArray();
        var chars = ints.Select(i => (char)('a' + (i & 15))).ToArray();
        using var a = Ray.Put(ints);
        using var b = Ray.Put(doubles);
        using var c = Ray.Put(flags);
        using var d = Ray.Put(chars);
        Assert.Equal(ints, a.Get(Timeout));
        Assert.Equal(doubles, b.Get(Timeout));
        Assert.Equal(flags, c.Get(Timeout));
        Assert.Equal(chars, d.Get(Timeout));
        using (var view = Ray.GetView(a, Timeout)) Assert.True(view.Span.SequenceEqual(ints));
        // The same bytes MemoryPack writes for the array.
        using var mapped = Worker.MapAsync(b.Id, Worker.MemoryStore.TryGet(b.Id, out var o) ? o : throw new InvalidOperationException(), default).GetAwaiter().GetResult();
        Assert.True(mapped.Span.SequenceEqual(MemoryPack.MemoryPackSerializer.Serialize(doubles)));
        Worker.ObjectStore!.Release(b.Id);
    }

    [Fact]
    public async Task A_large_return_stays_in_the_store_and_the_owner_records_where()
    {
        using var r = StoreTasks.Remote.MakeBytes(4 * MiB, 7);
        var value = await r;
        Assert.Equal(SHA256.HashData(Bytes(4 * MiB, 7)), SHA256.HashData(value));
        Assert.True(Worker.MemoryStore.TryGet(r.Id, out var stored) && stored.IsInStore);
        Assert.Equal(4 * MiB + 4 + 1, stored.StoreSize, tolerance: 16);
    }

    [Fact]
    public void Large_arguments_are_passed_by_reference_never_inlined_into_the_task()
    {
        var data = Bytes(2 * MiB, 3);
        long expected = data.Sum(b => (long)b);
        using var byRef = Ray.Put(data);
        Assert.Equal((expected, true), StoreTasks.Remote.SumAndHowPassed(byRef).Get(Timeout));
        // A large value passed directly is put into the store by the caller too.
        Assert.Equal((expected, true), StoreTasks.Remote.SumAndHowPassed(data).Get(Timeout));
        Assert.Equal((6L, false), StoreTasks.Remote.SumAndHowPassed(new byte[] { 1, 2, 3 }).Get(Timeout));
    }

    [Fact]
    public void A_large_return_passed_on_to_another_task_never_enters_the_driver()
    {
        using var made = StoreTasks.Remote.MakeBytes(3 * MiB, 11);
        var (sum, inStore) = StoreTasks.Remote.SumAndHowPassed(made).Get(Timeout);
        Assert.True(inStore);
        Assert.Equal(Bytes(3 * MiB, 11).Sum(b => (long)b), sum);
    }

    [Fact]
    public void A_view_of_a_large_object_maps_the_store_with_no_copy_and_pins_it_until_disposed()
    {
        var data = Enumerable.Range(0, 1_000_000).Select(i => (float)i).ToArray();
        using var r = Ray.Put<float>(data.AsSpan());
        Assert.True(Worker.MemoryStore.TryGet(r.Id, out var stored) && stored.IsInStore);
        int pinnedBefore = Stats().ObjectsBeingRead;
        using (var view = Ray.GetView(r, Timeout))
        {
            Assert.Equal(data.Length, view.Length);
            Assert.True(view.Span.SequenceEqual(data));
            Assert.Equal(pinnedBefore + 1, Stats().ObjectsBeingRead);
        }
        WaitUntil(() => Stats().ObjectsBeingRead == pinnedBefore, "the view's pin released");
        // A view parameter maps the argument on the executing node.
        Assert.Equal((data.Sum(x => (double)x), true), StoreTasks.Remote.SumView(r).Get(Timeout));
        Assert.Equal(data, r.Get(Timeout));
    }

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not true after {Timeout.TotalSeconds} s: {what}");
            Thread.Sleep(10); // polling the raylet: a release is sent without a reply to wait for
        }
    }

    [Fact]
    public async Task Large_items_of_a_streaming_task_go_through_the_store()
    {
        var items = new List<byte[]>();
        await foreach (var item in StoreTasks.Remote.Chunks(3, 2 * MiB))
        {
            Assert.True(Worker.MemoryStore.TryGet(item.Id, out var stored) && stored.IsInStore);
            items.Add(await item);
            item.Dispose();
        }
        Assert.Equal(Enumerable.Range(0, 3).Select(i => SHA256.HashData(Bytes(2 * MiB, 50 + i))), items.Select(SHA256.HashData));
    }

    [Fact]
    public void Releasing_the_last_ref_frees_the_object_in_the_store()
    {
        int before = Stats().Objects;
        var r = Ray.Put(Bytes(2 * MiB, 5));
        Assert.Equal(before + 1, Stats().Objects);
        r.Dispose();
        // The free is sent without waiting for it; the store's figures show it once the raylet has it.
        WaitUntil(() => Stats().Objects == before, "the object freed");
    }
}

/// <summary>A store of 64 MiB: what happens when objects outgrow it.</summary>
public sealed class SmallObjectStoreTests() : RayTest(new RayOptions { LocalMode = TestMode.Local, NumCpus = 2, ObjectStoreMemory = 64L * 1024 * 1024 })
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public void More_objects_than_the_store_holds_spill_to_disk_and_come_back_intact()
    {
        var hashes = new List<byte[]>();
        var refs = new List<ObjectRef<byte[]>>();
        for (int i = 0; i < 10; i++)
        {
            var data = new byte[16 * MiB];
            new Random(i).NextBytes(data);
            hashes.Add(SHA256.HashData(data));
            refs.Add(Ray.Put(data));
        }
        var stats = CoreWorker.Current.ObjectStore!.GetStatsAsync(CancellationToken.None).GetAwaiter().GetResult();
        Assert.True(stats.SpilledObjects >= 6, $"{stats.SpilledObjects} objects spilled");
        Assert.True(stats.Used <= 64 * MiB);
        // The owner records where its spilled objects went (file, offset and size, as Ray writes the URL).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (CoreWorker.Current.SpilledUrl(refs[0].Id) is null && DateTime.UtcNow < deadline) Thread.Sleep(10); // the report is one-way
        Assert.Matches(@"^file://.+\?offset=\d+&size=\d+$", CoreWorker.Current.SpilledUrl(refs[0].Id));
        for (int i = 0; i < refs.Count; i++) Assert.Equal(hashes[i], SHA256.HashData(refs[i].Get(TimeSpan.FromSeconds(60))));
        // As task arguments too.
        Assert.Equal(refs.Count, Ray.Get(refs.Select(r => StoreTasks.Remote.Length(r)).ToList()).Count(n => n == 16 * MiB));
        foreach (var r in refs) r.Dispose();
    }

    [Fact]
    public void Refs_dropped_without_dispose_are_collected_to_make_room_before_anything_spills()
    {
        PutAndDrop(3);
        // The store is nearly full of objects nobody can reach any more: the next puts ask for a collection first.
        using var next = Ray.Put(new byte[25 * MiB]);
        using var last = Ray.Put(new byte[25 * MiB]);
        var stats = CoreWorker.Current.ObjectStore!.GetStatsAsync(CancellationToken.None).GetAwaiter().GetResult();
        Assert.Equal(0, stats.SpilledObjects);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void PutAndDrop(int count)
    {
        for (int i = 0; i < count; i++) _ = Ray.Put(new byte[20 * MiB]);
    }

    [Fact]
    public void A_put_larger_than_the_whole_store_fails_at_once()
    {
        var e = Assert.Throws<ObjectStoreFullException>(() => Ray.Put(new byte[80 * MiB]));
        Assert.Contains("64 MiB", e.Message);
    }
}

public static partial class StoreTasks
{
    [RayRemote]
    public static byte[] MakeBytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>The sum of the bytes, and whether the argument reached this task through the object store (then the task
    /// spec this worker received carries none of its bytes).</summary>
    [RayRemote]
    public static (long Sum, bool InStore) SumAndHowPassed(byte[] data)
    {
        var arg = TaskExecutionContext.Current!.Task.Args[0];
        if (arg.IsInStore && arg.Value.Data.Length != 0) throw new InvalidOperationException($"{arg.Value.Data.Length} bytes inlined");
        return (data.Sum(b => (long)b), arg.IsInStore);
    }

    [RayRemote]
    public static int Length(byte[] data) => data.Length;

    [RayRemote]
    public static async IAsyncEnumerable<byte[]> Chunks(int count, int size)
    {
        for (int i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return MakeBytes(size, 50 + i);
        }
    }

    /// <summary>The sum of a view parameter's elements, and whether it was mapped from the object store.</summary>
    [RayRemote]
    public static (double Sum, bool InStore) SumView(ObjectView<float> data)
    {
        double sum = 0;
        foreach (var x in data.Span) sum += x;
        return (sum, TaskExecutionContext.Current!.Task.Args[0].IsInStore);
    }
}

using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The node's shared-memory store alone: the object lifecycle, the capacity and what happens under pressure.</summary>
public sealed class PlasmaStoreTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly string _root = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), "raysharp-test-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<PlasmaStore> _stores = [];
    private int _next;

    private PlasmaStore NewStore(long capacity, Func<CancellationToken, Task>? gc = null, TimeSpan? grace = null, long minSpill = 0)
    {
        var store = new PlasmaStore(new PlasmaStoreOptions(capacity, Path.Combine(_root, "shm"), Path.Combine(_root, "fallback"), Path.Combine(_root, "spill"))
        {
            FullGracePeriod = grace ?? TimeSpan.FromMilliseconds(300),
            MinSpillingSize = minSpill,
        }, gc, NullLogger<PlasmaStore>.Instance);
        _stores.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (var s in _stores) s.Dispose();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private ObjectId NewId() => ObjectId.ForPut(TaskId.ForDriver(JobId.Parse("01000000")), Interlocked.Increment(ref _next));

    /// <summary>Creates, fills with seeded random bytes and seals an object; returns the bytes' hash.</summary>
    private async Task<byte[]> PutAsync(PlasmaStore store, ObjectId id, long size, bool primary = true, int seed = 0)
    {
        var (status, location) = await store.CreateAsync(id, size, primary, null, "writer", CancellationToken.None);
        Assert.Equal(PlasmaCreateStatus.Created, status);
        using (var mapping = StoreMapping.Open(location.Path, size, writable: true))
            new Random(seed == 0 ? id.GetHashCode() : seed).NextBytes(mapping.Span);
        store.Seal(id);
        return await HashAsync(store, id);
    }

    private static async Task<byte[]> HashAsync(PlasmaStore store, ObjectId id)
    {
        var location = await store.GetAsync(id, "reader", CancellationToken.None);
        Assert.NotNull(location);
        try
        {
            using var mapping = StoreMapping.Open(location.Value.Path, location.Value.Size, writable: false);
            return SHA256.HashData(mapping.Span);
        }
        finally
        {
            store.Release(id, "reader");
        }
    }

    [Fact]
    public async Task A_sealed_object_reads_back_what_its_creator_wrote()
    {
        var store = NewStore(16 * MiB);
        var id = NewId();
        var hash = await PutAsync(store, id, 3 * MiB + 17);
        Assert.Equal(hash, await HashAsync(store, id));
        Assert.Equal(3 * MiB + 17, store.Used);
        var (again, _) = await store.CreateAsync(id, 3 * MiB + 17, true, null, "other", CancellationToken.None);
        Assert.Equal(PlasmaCreateStatus.AlreadyExists, again);
    }

    [Fact]
    public async Task A_reader_waits_until_the_object_is_sealed_and_an_absent_object_is_null()
    {
        var store = NewStore(16 * MiB);
        var id = NewId();
        Assert.Null(await store.GetAsync(id, "reader", CancellationToken.None));
        var (_, location) = await store.CreateAsync(id, MiB, true, null, "writer", CancellationToken.None);
        var read = store.GetAsync(id, "reader", CancellationToken.None);
        Assert.False(read.IsCompleted);
        store.Seal(id);
        Assert.Equal(location.Path, (await read)!.Value.Path);
    }

    [Fact]
    public async Task An_object_larger_than_the_store_fails_at_once_naming_both_sizes()
    {
        var store = NewStore(8 * MiB);
        var e = await Assert.ThrowsAsync<ObjectStoreFullException>(() => store.CreateAsync(NewId(), 9 * MiB, true, null, "w", CancellationToken.None));
        Assert.Contains("9 MiB", e.Message);
        Assert.Contains("8 MiB", e.Message);
    }

    [Fact]
    public async Task Secondary_copies_are_evicted_before_anything_is_spilled()
    {
        var store = NewStore(8 * MiB);
        var primary = NewId();
        var secondary = NewId();
        await PutAsync(store, primary, 3 * MiB);
        await PutAsync(store, secondary, 3 * MiB, primary: false);
        await PutAsync(store, NewId(), 3 * MiB);
        Assert.False(store.Contains(secondary));
        Assert.True(store.Contains(primary));
        Assert.Equal(0, store.Stats().SpilledObjects);
        Assert.Equal(3 * MiB, store.Stats().EvictedBytes);
    }

    [Fact]
    public async Task Primary_copies_spill_to_disk_and_restore_intact_and_their_files_go_when_freed()
    {
        var store = NewStore(8 * MiB);
        var ids = Enumerable.Range(0, 6).Select(_ => NewId()).ToArray();
        var hashes = new List<byte[]>();
        foreach (var id in ids) hashes.Add(await PutAsync(store, id, 3 * MiB));
        var stats = store.Stats();
        Assert.True(stats.SpilledObjects >= 4, $"{stats.SpilledObjects} objects spilled");
        Assert.True(stats.Used <= 8 * MiB);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(_root, "spill")));
        for (int i = 0; i < ids.Length; i++) Assert.Equal(hashes[i], await HashAsync(store, ids[i]));
        Assert.True(store.Stats().RestoredBytes > 0);
        foreach (var id in ids) store.Free(id);
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "spill")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "shm")));
        Assert.Equal(0, store.Used);
    }

    [Fact]
    public async Task Workers_are_asked_to_collect_garbage_before_primary_copies_spill()
    {
        PlasmaStore? store = null;
        var first = NewId();
        int collections = 0;
        store = NewStore(8 * MiB, gc: _ =>
        {
            collections++;
            store!.Free(first); // a finalizer released the last ref
            return Task.CompletedTask;
        });
        await PutAsync(store, first, 5 * MiB);
        await PutAsync(store, NewId(), 5 * MiB);
        Assert.Equal(1, collections);
        Assert.Equal(0, store.Stats().SpilledObjects);
    }

    [Fact]
    public async Task When_everything_is_being_read_a_create_fails_after_the_grace_period_saying_what_holds_the_memory()
    {
        var store = NewStore(8 * MiB);
        var held = NewId();
        await PutAsync(store, held, 6 * MiB);
        Assert.NotNull(await store.GetAsync(held, "viewer", CancellationToken.None));
        var e = await Assert.ThrowsAsync<ObjectStoreFullException>(() => store.CreateAsync(NewId(), 4 * MiB, true, null, "w", CancellationToken.None));
        Assert.Contains("6 MiB being read", e.Message);
        store.Release(held, "viewer");
        await PutAsync(store, NewId(), 4 * MiB); // spills the released one
    }

    [Fact]
    public async Task A_create_waiting_for_memory_succeeds_when_a_reader_lets_go_within_the_grace_period()
    {
        var store = NewStore(8 * MiB, grace: TimeSpan.FromSeconds(30));
        var held = NewId();
        await PutAsync(store, held, 6 * MiB, primary: false);
        Assert.NotNull(await store.GetAsync(held, "viewer", CancellationToken.None));
        var create = store.CreateAsync(NewId(), 4 * MiB, true, null, "w", CancellationToken.None);
        Assert.False(create.IsCompleted);
        store.Release(held, "viewer");
        Assert.Equal(PlasmaCreateStatus.Created, (await create).Status);
    }

    [Fact]
    public async Task Freeing_an_object_being_read_keeps_its_memory_until_the_reader_releases_it()
    {
        var store = NewStore(8 * MiB);
        var id = NewId();
        await PutAsync(store, id, 2 * MiB);
        var location = (await store.GetAsync(id, "viewer", CancellationToken.None))!.Value;
        using var mapping = StoreMapping.Open(location.Path, location.Size, writable: false);
        store.Free(id);
        Assert.False(File.Exists(location.Path));
        Assert.Equal(2 * MiB, store.Used);
        _ = SHA256.HashData(mapping.Span); // still mapped and readable
        store.Release(id, "viewer");
        Assert.Equal(0, store.Used);
        Assert.Null(await store.GetAsync(id, "viewer", CancellationToken.None));
    }

    [Fact]
    public async Task A_client_that_dies_leaves_no_half_written_object_and_no_reads()
    {
        var store = NewStore(8 * MiB);
        var written = NewId();
        await PutAsync(store, written, MiB);
        Assert.NotNull(await store.GetAsync(written, "dying", CancellationToken.None));
        var half = NewId();
        await store.CreateAsync(half, MiB, true, null, "dying", CancellationToken.None);
        // A client that is not writing an object cannot abort it.
        store.Abort(half, "someone-else");
        Assert.Contains(store.List(), o => o.ObjectId == half);
        store.DisconnectClient("dying");
        Assert.Null(await store.GetAsync(half, "reader", CancellationToken.None));
        Assert.Equal(0, store.List().Single(o => o.ObjectId == written).Readers);
        Assert.Equal(MiB, store.Used);
    }

    [Fact]
    public async Task A_freed_objects_file_is_recycled_for_the_next_object_and_given_up_when_room_is_needed()
    {
        var store = NewStore(16 * MiB);
        var first = NewId();
        await PutAsync(store, first, 4 * MiB);
        store.Free(first);
        Assert.Equal(0, store.Used);
        Assert.Single(Directory.GetFiles(Path.Combine(_root, "shm"))); // kept for reuse
        var second = NewId();
        var hash = await PutAsync(store, second, 3 * MiB, seed: 42); // fits in the recycled 4 MiB file: renamed and shrunk
        Assert.Single(Directory.GetFiles(Path.Combine(_root, "shm")));
        Assert.Equal(3 * MiB, new FileInfo(Path.Combine(_root, "shm", second.ToString())).Length);
        Assert.Equal(hash, await HashAsync(store, second));
        store.Free(second);
        // Recycled files never stand in the way of an object: the whole store is available.
        await PutAsync(store, NewId(), 16 * MiB);
        Assert.Equal(16 * MiB, store.Used);
    }

    [Fact]
    public async Task When_the_shared_memory_file_system_is_smaller_than_the_store_objects_go_to_disk_files_and_read_back_intact()
    {
        // A 4 MiB tmpfs stands for a container's small /dev/shm under a 16 MiB store.
        string small = Path.Combine(Path.GetTempPath(), "raysharp-small-shm-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(small);
        var mount = System.Diagnostics.Process.Start("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", small])!;
        mount.WaitForExit();
        Assert.True(mount.ExitCode == 0, "mounting a small tmpfs failed (the suite runs as root)");
        try
        {
            var store = new PlasmaStore(new PlasmaStoreOptions(16 * MiB, Path.Combine(small, "store"), Path.Combine(_root, "fallback"),
                Path.Combine(_root, "spill")), null, NullLogger<PlasmaStore>.Instance);
            try
            {
                var ids = Enumerable.Range(0, 3).Select(_ => NewId()).ToArray();
                var hashes = new List<byte[]>();
                foreach (var id in ids) hashes.Add(await PutAsync(store, id, 3 * MiB));
                Assert.Equal(6 * MiB, store.Stats().FallbackBytes); // the first fit in the 4 MiB; the others went to disk
                Assert.Equal(2, store.List().Count(o => o.OnFallback));
                for (int i = 0; i < ids.Length; i++) Assert.Equal(hashes[i], await HashAsync(store, ids[i]));
                foreach (var id in ids) store.Free(id);
                Assert.Equal(0, store.Stats().FallbackBytes);
                Assert.Empty(Directory.GetFiles(Path.Combine(_root, "fallback")));
            }
            finally
            {
                store.Dispose();
            }
        }
        finally
        {
            System.Diagnostics.Process.Start("umount", [small])!.WaitForExit();
            Directory.Delete(small, recursive: true);
        }
    }
}

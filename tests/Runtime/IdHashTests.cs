using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests;

/// <summary>The reference table and the memory store are dictionaries keyed by ID: IDs that differ only in their last
/// bytes (the objects of one task, the handle objects of actors) must not share a hash.</summary>
public sealed class IdHashTests
{
    private const int Count = 10_000;

    // Random 32-bit hashes of 10,000 keys collide about 0.01 times; a few collisions still pass.
    private const int MinDistinct = 9_990;

    private static readonly JobId Job = JobId.FromBinary([7, 0, 0, 0]);

    [Fact]
    public void Task_ids_made_one_after_another_are_all_different_and_spread_over_their_unique_bytes()
    {
        var ids = Enumerable.Range(0, 100_000).Select(_ => TaskId.ForNormalTask(Job)).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        // Consecutive IDs are not a counter's neighbours: their hashes spread as random IDs' do.
        Assert.True(DistinctHashes(i => ids[i - 1]) >= MinDistinct);
        Assert.All(ids, id => Assert.False(id.IsActorCreation));
    }

    [Fact]
    public void Objects_put_by_one_task_hash_apart()
    {
        var task = TaskId.ForNormalTask(Job);
        Assert.True(DistinctHashes(i => ObjectId.ForPut(task, i)) >= MinDistinct);
    }

    [Fact]
    public void Returns_of_one_task_hash_apart()
    {
        var task = TaskId.ForNormalTask(Job);
        Assert.True(DistinctHashes(i => ObjectId.ForReturn(task, i)) >= MinDistinct);
    }

    [Fact]
    public void Actors_of_one_job_and_their_handle_objects_hash_apart()
    {
        var actors = Enumerable.Range(0, Count).Select(_ => ActorId.Of(Job)).ToArray();
        Assert.True(DistinctHashes(i => actors[i - 1]) >= MinDistinct);
        // Creation tasks have no unique bytes of their own: all that tells them apart is the actor ID in the middle.
        Assert.True(DistinctHashes(i => TaskId.ForActorCreation(actors[i - 1])) >= MinDistinct);
        Assert.True(DistinctHashes(i => ActorManager.HandleObjectId(actors[i - 1])) >= MinDistinct);
    }

    [Fact]
    public void The_low_bits_are_mixed_too()
    {
        // A dictionary reduces the hash to a bucket index, so bits that only differ high up would still collide.
        // 10,000 random 16-bit values take about 9,250 distinct values.
        var task = TaskId.ForNormalTask(Job);
        var lowBits = Enumerable.Range(1, Count).Select(i => ObjectId.ForPut(task, i).GetHashCode() & 0xFFFF).Distinct().Count();
        Assert.True(lowBits >= 9_000, $"{lowBits} distinct low 16 bits");
    }

    [Fact]
    public void Equal_ids_hash_equal()
    {
        var task = TaskId.ForNormalTask(Job);
        var actor = ActorId.Of(Job);
        AssertCopiesHashEqual(Job, JobId.FromBinary);
        AssertCopiesHashEqual(actor, ActorId.FromBinary);
        AssertCopiesHashEqual(task, TaskId.FromBinary);
        AssertCopiesHashEqual(ObjectId.ForPut(task, 3), ObjectId.FromBinary);
        AssertCopiesHashEqual(NodeId.FromRandom(), NodeId.FromBinary);
        AssertCopiesHashEqual(WorkerId.FromRandom(), WorkerId.FromBinary);
        AssertCopiesHashEqual(PlacementGroupId.Of(Job), PlacementGroupId.FromBinary);
        Assert.Equal(ObjectId.ForReturn(task, 1).GetHashCode(), ObjectId.ForReturn(task, 1).GetHashCode());
        Assert.Equal(ActorManager.HandleObjectId(actor).GetHashCode(), ActorManager.HandleObjectId(actor).GetHashCode());
    }

    private static int DistinctHashes<T>(Func<int, T> id) where T : struct =>
        Enumerable.Range(1, Count).Select(i => id(i).GetHashCode()).Distinct().Count();

    private static void AssertCopiesHashEqual<T>(T id, FromBinary<T> fromBinary) where T : struct, IEquatable<T>
    {
        var copy = fromBinary(IdBytes(id));
        Assert.Equal(id, copy);
        Assert.Equal(id.GetHashCode(), copy.GetHashCode());
    }

    private delegate T FromBinary<out T>(ReadOnlySpan<byte> bytes);

    private static byte[] IdBytes<T>(T id) => id switch
    {
        JobId x => x.ToByteArray(),
        ActorId x => x.ToByteArray(),
        TaskId x => x.ToByteArray(),
        ObjectId x => x.ToByteArray(),
        NodeId x => x.ToByteArray(),
        WorkerId x => x.ToByteArray(),
        PlacementGroupId x => x.ToByteArray(),
        _ => throw new ArgumentException($"not an ID: {typeof(T)}"),
    };
}

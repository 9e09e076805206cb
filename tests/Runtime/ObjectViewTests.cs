using System.Buffers;
using MemoryPack;
using RaySharp.Core;
using Xunit;

namespace RaySharp.Tests;

public sealed class ObjectViewTests : RayTest
{
    private static float[] Floats(int n) => Enumerable.Range(0, n).Select(i => i * 0.5f).ToArray();

    [Fact]
    public void Put_of_a_span_then_GetView_gives_the_same_elements()
    {
        var data = Floats(1000);
        using var r = Ray.Put<float>(data.AsSpan(10, 500));
        using var view = Ray.GetView(r, Timeout);
        Assert.Equal(500, view.Length);
        Assert.True(view.Span.SequenceEqual(data.AsSpan(10, 500)));
        Assert.True(view.Memory.Span.SequenceEqual(data.AsSpan(10, 500)));

        var samples = new[] { new Sample(1, 1.5), new Sample(2, -3) };
        using var structs = Ray.GetView(Ray.Put<Sample>(samples), Timeout);
        Assert.Equal(samples, structs.Span.ToArray());

        using var empty = Ray.GetView(Ray.Put(ReadOnlySpan<long>.Empty), Timeout);
        Assert.Equal(0, empty.Length);
        Assert.True(empty.Span.IsEmpty);
    }

    [Fact]
    public void A_put_span_reads_back_as_an_array_and_is_written_as_MemoryPack_writes_the_array()
    {
        var data = Floats(257);
        using var r = Ray.Put<float>(data);
        Assert.Equal(data, r.Get(Timeout));
        Assert.Equal(data, Ray.Get(r, Timeout));

        // The bytes are MemoryPack's own layout of a float[]: any reader of the object sees an ordinary array.
        var serialized = ObjectSerializer.SerializeArray<float>(data).Data;
        Assert.Equal(MemoryPackSerializer.Serialize(data), serialized);
        Assert.Equal(data, MemoryPackSerializer.Deserialize<float[]>(serialized));
        var samples = new[] { new Sample(7, 0.25) };
        Assert.Equal(MemoryPackSerializer.Serialize(samples), ObjectSerializer.SerializeArray<Sample>(samples).Data);
    }

    [Fact]
    public void GetView_reads_arrays_put_as_values_and_returned_by_tasks()
    {
        using var put = Ray.GetView(Ray.Put(new[] { 3, 1, 4, 1, 5 }), Timeout);
        Assert.Equal([3, 1, 4, 1, 5], put.Span.ToArray());

        using var returned = Ray.GetView(Vectors.Remote.Range(100), Timeout);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (float)i), returned.Span.ToArray());
    }

    [Fact]
    public void A_remote_method_taking_a_view_sums_an_array_and_a_ref()
    {
        var data = Floats(10_000);
        double expected = data.Sum(x => (double)x);
        using var r = Ray.Put<float>(data);

        Assert.Equal(expected, Vectors.Remote.Sum(r).Get(Timeout));
        Assert.Equal(expected, Vectors.Remote.Sum(data).Get(Timeout));
        Assert.Equal(expected - data[0] - data[1], Vectors.Remote.SumAsync(r, 2).Get(Timeout));
        Assert.Equal(4950, Vectors.Remote.Sum(Vectors.Remote.Range(100)).Get(Timeout));
    }

    [Fact]
    public void Actors_take_views_in_constructors_and_methods_and_the_view_is_disposed_after_the_call()
    {
        var weights = Weights.Remote.Create(new[] { 1f, 2f, 3f });
        Assert.Equal(1 * 4 + 2 * 5 + 3 * 6, weights.Dot(new[] { 4f, 5f, 6f }).Get(Timeout));
        using var input = Ray.Put<float>([1f, 1f, 1f]);
        Assert.Equal(6, weights.Dot(input).Get(Timeout));

        Assert.Equal(3, weights.Keep(input).Get(Timeout));
        Assert.True(weights.KeptViewIsDisposed().Get(Timeout));
    }

    [Fact]
    public void A_disposed_view_throws_and_releases_its_pin_once()
    {
        var pin = new CountingPin();
        var view = ObjectView<int>.Create(MemoryPackSerializer.Serialize(new[] { 1, 2, 3 }), pin);
        var memory = view.Memory;
        Assert.Equal(2, memory.Span[1]);

        view.Dispose();
        view.Dispose();
        Assert.Equal(1, pin.Disposals);
        Assert.Throws<ObjectDisposedException>(() => view.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => view.Memory);
        // Memory taken before the dispose does not read the released object either.
        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        Assert.Equal(3, view.Length);
    }

    [Fact]
    public void GetView_of_a_failed_task_throws_the_task_exception()
    {
        var failed = Vectors.Remote.FailToMake("no data");
        var e = Assert.Throws<RayTaskException>(() => Ray.GetView(failed, Timeout));
        Assert.True(e.IsCausedBy<SpecificAppException>());
        Assert.Equal("no data", e.RemoteMessage);
        Assert.Contains(nameof(Vectors.FailToMake), e.FunctionName);
    }

    [Fact]
    public void Bytes_that_are_not_an_array_of_the_element_type_are_rejected_and_the_pin_released()
    {
        var pin = new CountingPin();
        Assert.Throws<InvalidOperationException>(() => ObjectView<long>.Create(MemoryPackSerializer.Serialize(new[] { 1, 2, 3 }), pin));
        Assert.Throws<InvalidOperationException>(() => ObjectView<int>.Create(MemoryPackSerializer.Serialize<int[]?>(null), pin));
        Assert.Throws<InvalidOperationException>(() => ObjectView<int>.Create(new byte[] { 1, 0 }, pin));
        Assert.Throws<InvalidOperationException>(() => ObjectView<int>.Create(new byte[] { 0xFE, 0xFF, 0xFF, 0xFF }, pin));
        Assert.Equal(4, pin.Disposals);
    }

    [Fact]
    public unsafe void A_view_aliases_its_bytes_and_its_memory_can_be_pinned()
    {
        // The memory need not be an array: here the bytes sit 3 bytes into a larger buffer, misaligned for doubles.
        var buffer = new byte[3 + 4 + 3 * sizeof(double)];
        var serialized = MemoryPackSerializer.Serialize(new[] { 1.5, 2.5, 3.5 });
        serialized.CopyTo(buffer, 3);
        using var view = ObjectView<double>.Create(buffer.AsMemory(3, serialized.Length), pin: null);
        Assert.Equal([1.5, 2.5, 3.5], view.Span.ToArray());

        BitConverter.TryWriteBytes(buffer.AsSpan(3 + 4 + sizeof(double)), 9.0);
        Assert.Equal(9.0, view.Span[1]);

        using (var handle = view.Memory.Slice(2).Pin())
        {
            Assert.Equal(3.5, System.Runtime.CompilerServices.Unsafe.ReadUnaligned<double>(handle.Pointer));
        }
    }

    private sealed class CountingPin : IDisposable
    {
        public int Disposals;

        public void Dispose() => Disposals++;
    }
}

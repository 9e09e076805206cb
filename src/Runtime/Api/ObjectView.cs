using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RaySharp;

/// <summary>
/// The elements of an object that holds a <c>T[]</c>, read where the object lies instead of copied out of it:
/// from <see cref="Ray.GetView{T}"/>, or as a remote method's <c>ObjectView&lt;T&gt;</c> parameter. The object stays
/// pinned while the view lives; <see cref="Dispose"/> releases the pin, after which neither <see cref="Span"/> nor
/// <see cref="Memory"/> may be used. Copy what must outlive the view (<c>view.Span.ToArray()</c>).
/// </summary>
/// <remarks>
/// The elements start 4 bytes into the object (after its length), so elements wider than 4 bytes need not be aligned
/// to their size. Reading through <see cref="Span"/> or <see cref="Memory"/> is correct either way on every platform
/// .NET runs on; code that needs aligned addresses (aligned vector loads, interlocked operations) must copy first.
/// </remarks>
public sealed class ObjectView<T> : IDisposable where T : unmanaged
{
    /// <summary>Bytes of the length MemoryPack writes before the elements of an array.</summary>
    private const int HeaderSize = sizeof(int);

    private readonly ReadOnlyMemory<byte> _elements;
    private readonly IDisposable? _pin;
    private ElementMemory? _memory;
    private int _disposed;

    private ObjectView(ReadOnlyMemory<byte> elements, int length, IDisposable? pin)
    {
        _elements = elements;
        _pin = pin;
        Length = length;
    }

    /// <summary>The elements.</summary>
    /// <exception cref="ObjectDisposedException">The view was disposed.</exception>
    public ReadOnlySpan<T> Span
    {
        get
        {
            ThrowIfDisposed();
            return MemoryMarshal.Cast<byte, T>(_elements.Span);
        }
    }

    /// <summary>The elements, for code that cannot take a span (async methods, APIs taking <see cref="ReadOnlyMemory{T}"/>).
    /// Reading it after the view is disposed throws <see cref="ObjectDisposedException"/>.</summary>
    /// <exception cref="ObjectDisposedException">The view was disposed.</exception>
    public ReadOnlyMemory<T> Memory
    {
        get
        {
            ThrowIfDisposed();
            return (_memory ??= new ElementMemory(this)).Memory;
        }
    }

    /// <summary>The number of elements.</summary>
    public long Length { get; }

    /// <summary>Releases the pin on the object. Calling it again does nothing.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _pin?.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"ObjectView<{typeof(T).Name}>[{Length}]";

    /// <summary>
    /// A view of <paramref name="serializedArray"/>, the MemoryPack form of a <c>T[]</c> (a little-endian int32 count,
    /// -1 for null, then the elements' bytes), aliasing those bytes without copying them. The memory need not be an
    /// array: it may map shared memory, which <paramref name="pin"/> keeps mapped until the view is disposed. The view
    /// owns <paramref name="pin"/> from this call on, also when the bytes are rejected.
    /// </summary>
    /// <exception cref="InvalidOperationException">The bytes are not a <c>T[]</c> (or hold null).</exception>
    internal static ObjectView<T> Create(ReadOnlyMemory<byte> serializedArray, IDisposable? pin)
    {
        try
        {
            int length = ElementCount(serializedArray.Span);
            return new ObjectView<T>(serializedArray.Slice(HeaderSize), length, pin);
        }
        catch
        {
            pin?.Dispose();
            throw;
        }
    }

    private static int ElementCount(ReadOnlySpan<byte> serialized)
    {
        if (serialized.Length < HeaderSize)
            throw NotAnArray($"it is {serialized.Length} bytes long, shorter than an array's length header");
        int count = BinaryPrimitives.ReadInt32LittleEndian(serialized);
        if (count == -1)
            throw NotAnArray("it holds null, not an array");
        long payload = serialized.Length - HeaderSize;
        if (count < 0 || (long)count * Unsafe.SizeOf<T>() != payload)
            throw NotAnArray($"its header says {count} elements of {Unsafe.SizeOf<T>()} bytes, but {payload} bytes follow");
        return count;
    }

    private static InvalidOperationException NotAnArray(string why) => new(
        $"The object cannot be viewed as {typeof(T).Name}[]: {why}. A view reads objects made by Ray.Put(span), " +
        $"Ray.Put of a {typeof(T).Name}[], or a task returning {typeof(T).Name}[].");

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
            throw new ObjectDisposedException(GetType().Name,
                "The view was disposed and its object may no longer be where the view pointed. Read it before disposing, " +
                "or copy what must outlive the view (view.Span.ToArray()).");
    }

    /// <summary>
    /// <see cref="Memory"/>'s backing: the view's bytes read as <typeparamref name="T"/>, no copy. Every read checks that
    /// the view is still alive, so a <see cref="ReadOnlyMemory{T}"/> kept past <see cref="Dispose"/> throws instead of
    /// reading memory the store may have reused.
    /// </summary>
    private sealed class ElementMemory(ObjectView<T> view) : MemoryManager<T>
    {
        public override Span<T> GetSpan()
        {
            view.ThrowIfDisposed();
            return MemoryMarshal.Cast<byte, T>(MemoryMarshal.AsMemory(view._elements).Span);
        }

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            view.ThrowIfDisposed();
            if ((uint)elementIndex > (ulong)view.Length) throw new ArgumentOutOfRangeException(nameof(elementIndex));
            // Pin the bytes the way their owner pins them (a GC handle for an array, the owner's manager otherwise)
            // and hand that pin over with the element's address.
            var bytes = view._elements.Slice(elementIndex * Unsafe.SizeOf<T>()).Pin();
            unsafe
            {
                return new MemoryHandle(bytes.Pointer, default, new PinnedBytes(bytes));
            }
        }

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }

    /// <summary>Releases the pin of the underlying bytes when the <see cref="MemoryHandle"/> holding it is disposed.</summary>
    private sealed class PinnedBytes(MemoryHandle handle) : IPinnable
    {
        private MemoryHandle _handle = handle;

        public MemoryHandle Pin(int elementIndex) => throw new NotSupportedException();

        public void Unpin() => _handle.Dispose();
    }
}

using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace RaySharp.Core;

/// <summary>
/// One object of a node's shared-memory store mapped into this process: the file the store allocated for it,
/// mapped read-only (readers) or read-write (its creator, until it seals). Its <c>Memory</c> aliases the mapping
/// with no copy; it is valid until the mapping is disposed.
/// </summary>
internal sealed unsafe class StoreMapping : MemoryManager<byte>
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;
    private readonly int _length;
    private int _disposed;

    private StoreMapping(MemoryMappedFile file, MemoryMappedViewAccessor view, long length)
    {
        _file = file;
        _view = view;
        _length = checked((int)length);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + view.PointerOffset;
    }

    /// <summary>Objects larger than this do not fit one span; the store refuses them.</summary>
    public const long MaxObjectSize = int.MaxValue - 64;

    /// <summary>Maps <paramref name="length"/> bytes of the file at <paramref name="path"/>.</summary>
    public static StoreMapping Open(string path, long length, bool writable)
    {
        if (length <= 0 || length > MaxObjectSize)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A stored object has 1 to {MaxObjectSize} bytes.");
        var access = writable ? MemoryMappedFileAccess.ReadWrite : MemoryMappedFileAccess.Read;
        using var stream = new FileStream(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var file = MemoryMappedFile.CreateFromFile(stream, null, 0, access, HandleInheritability.None, leaveOpen: false);
        try
        {
            var view = file.CreateViewAccessor(0, length, access);
            return new StoreMapping(file, view, length);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public int Length => _length;

    public Span<byte> Span => GetSpan();

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return new Span<byte>(_pointer, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if ((uint)elementIndex > (uint)_length) throw new ArgumentOutOfRangeException(nameof(elementIndex));
        return new MemoryHandle(_pointer + elementIndex);
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    /// <summary>Unmaps the object (idempotent).</summary>
    public void Close() => ((IDisposable)this).Dispose();
}

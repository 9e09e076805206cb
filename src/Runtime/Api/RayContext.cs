using RaySharp.Core;
using RaySharp.Core.Worker;

namespace RaySharp;

/// <summary>A running RaySharp in this process, from <see cref="Ray.Init"/>; disposing it shuts RaySharp down
/// (in-flight work is abandoned and, in the embedded cluster, worker processes are stopped).</summary>
public sealed class RayContext : IDisposable, IAsyncDisposable
{
    private static readonly Lock s_lock = new();
    private static RayContext? s_current;
    private readonly CoreWorker _worker;
    private int _disposed;

    private RayContext(CoreWorker worker, RayOptions options)
    {
        _worker = worker;
        Options = options;
    }

    internal static RayContext? Current => Volatile.Read(ref s_current);

    /// <summary>The options RaySharp was started with.</summary>
    public RayOptions Options { get; }

    /// <summary>The driver's job.</summary>
    public JobId JobId => _worker.JobId;

    /// <summary>The namespace of the driver's job.</summary>
    public string Namespace => _worker.Namespace;

    /// <summary>True when everything runs in this process (<see cref="RayOptions.LocalMode"/>).</summary>
    public bool IsLocalMode => Options.LocalMode;

    internal static RayContext Start(RayOptions options)
    {
        lock (s_lock)
        {
            if (s_current is not null)
                throw new InvalidOperationException(
                    "RaySharp is already initialized in this process. Call Ray.Shutdown() (or dispose the RayContext) before Ray.Init() again.");
            var worker = CoreWorkerFactory.StartDriver(options);
            var context = new RayContext(worker, options);
            CoreWorker.SetCurrent(worker);
            s_current = context;
            return context;
        }
    }

    /// <summary>Shuts RaySharp down.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (s_lock)
        {
            if (ReferenceEquals(s_current, this))
            {
                s_current = null;
                CoreWorker.SetCurrent(null);
            }
        }
        _worker.Dispose();
    }

    /// <summary>Shuts RaySharp down.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}

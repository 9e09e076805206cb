using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.LocalMode;

/// <summary>
/// Local mode's workers: each is a thread of the driver's process — a <see cref="TaskReceiver"/> over the driver's
/// core worker — served at an in-process endpoint and registered with the raylet exactly as a worker process
/// registers. This is the one thing local mode does differently (DESIGN.md §9): the GCS, raylet, worker pool and
/// submitters are the cluster's own.
/// </summary>
internal sealed class ThreadWorkerLauncher : IWorkerLauncher
{
    private CoreWorker? _driver;
    private GcsClient? _gcs;

    /// <summary>The driver whose core worker the worker threads share (set once it exists).</summary>
    public void Attach(CoreWorker driver, GcsClient gcs)
    {
        _gcs = gcs;
        _driver = driver;
    }

    public string? LogPath(WorkerId workerId) => null;

    public IWorkerHandle Start(WorkerStartInfo info, Action onExited)
    {
        var driver = _driver ?? throw new InvalidOperationException("Local mode started a worker before its driver existed.");
        var receiver = new TaskReceiver(driver.Executor, driver.Raylet, info.WorkerId);
        var handler = new CoreWorkerServiceHandler(info.NodeId);
        handler.Serve(driver, receiver, _gcs!, collectWhenIdle: false);
        var server = InProcessTransport.Start("worker-" + info.WorkerId.ToString()[..8], [new CoreWorkerService(handler, driver.Config)],
            driver.Config.AuthToken ?? throw new InvalidOperationException("Local mode started a worker without the cluster token."));
        var handle = new ThreadHandle(receiver, server, onExited);
        // Force-cancel and Exit end a worker process; they end a worker thread the same way.
        _ = handler.Exited.Task.ContinueWith(_ => handle.Kill("the worker was told to exit"), TaskScheduler.Default);
        _ = RegisterAsync(driver.Config, info, server.Endpoint, handle);
        return handle;
    }

    private static async Task RegisterAsync(RayConfig config, WorkerStartInfo info, string endpoint, ThreadHandle handle)
    {
        try
        {
            var request = new RegisterWorkerRequest(info.WorkerId, Environment.ProcessId, new Address(info.WorkerId, info.NodeId, endpoint));
            if (!await RayletRpc.RegisterWorkerAsync(config, info.RayletEndpoint, request).ConfigureAwait(false))
                handle.Kill("its raylet did not start it");
        }
        catch (Exception e)
        {
            handle.Kill($"it could not register with its raylet: {e.Message}");
        }
    }

    private sealed class ThreadHandle(TaskReceiver receiver, InProcessServer server, Action onExited) : IWorkerHandle
    {
        private int _killed;

        public int ProcessId => Environment.ProcessId;

        public string ExitDescription => "the worker thread stopped";

        public void Kill(string reason)
        {
            if (Interlocked.Exchange(ref _killed, 1) != 0) return;
            receiver.Kill(reason);
            _ = server.DisposeAsync();
            // A process's exit is observed asynchronously; so is a thread's.
            ThreadPool.QueueUserWorkItem(_ => onExited());
        }

        public void WaitForExit(TimeSpan timeout) { }
    }
}

using System.Collections.Concurrent;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Tests.Components;

/// <summary>The GCS as a raylet sees it: records the node's registration, reports, worker failures and logs, and
/// answers every resource report with the cluster view the test sets.</summary>
internal sealed class FakeRayletGcs : IRayletGcsClient
{
    private volatile NodeRecord[] _view = [];

    public string Endpoint => "gcs-fake";

    public ConcurrentQueue<NodeRecord> RegisteredNodes { get; } = new();

    /// <summary>The last report the raylet sent.</summary>
    public ResourceReport? LastReport { get; private set; }

    /// <summary>Counts resource reports.</summary>
    public CountSignal Reports { get; } = new();

    /// <summary>Jobs the GCS knows; <see cref="GetJobAsync"/> answers null for any other.</summary>
    public ConcurrentDictionary<JobId, JobRecord> Jobs { get; } = new();

    public ConcurrentQueue<(WorkerId WorkerId, NodeId NodeId, string Reason)> WorkerFailures { get; } = new();

    /// <summary>Counts <see cref="ReportWorkerFailure"/> calls.</summary>
    public CountSignal Failures { get; } = new();

    public ConcurrentQueue<LogBatch> Logs { get; } = new();

    /// <summary>The internal KV as the raylet reads it (working-dir packages).</summary>
    public ConcurrentDictionary<(string Namespace, string Key), byte[]> Kv { get; } = new();

    public byte[]? KvGet(string @namespace, string key) => Kv.GetValueOrDefault((@namespace, key));

    /// <summary>Cluster events the test publishes (<see cref="SubscribeClusterEvents"/> streams them).</summary>
    public System.Threading.Channels.Channel<ClusterEvent> ClusterEvents { get; } = System.Threading.Channels.Channel.CreateUnbounded<ClusterEvent>();

    public IAsyncEnumerable<ClusterEvent> SubscribeClusterEvents(CancellationToken ct) => ClusterEvents.Reader.ReadAllAsync(ct);

    public JobRecord AddJob(JobId jobId) =>
        Jobs[jobId] = new JobRecord { JobId = jobId, Namespace = "ns", CodeSearchPath = "/fake/code" };

    /// <summary>Sets the nodes the next reports answer with, and returns once the raylet has applied them (a report
    /// that began after the change has been answered and the loop has come round for the next one).</summary>
    public async Task SetViewAsync(params NodeRecord[] nodes)
    {
        _view = nodes;
        int reports = Reports.Count;
        await Reports.WhenAtLeast(reports + 2);
    }

    /// <summary>Marks the job finished in the view the next reports answer with, and returns once the raylet applied it.</summary>
    public async Task FinishJobAsync(JobId jobId)
    {
        Jobs[jobId] = Jobs[jobId] with { IsDead = true };
        _finished = [.. _finished, jobId];
        int reports = Reports.Count;
        await Reports.WhenAtLeast(reports + 2);
    }

    private JobId[] _finished = [];

    /// <summary>Marks the placement group removed in the view the next reports answer with (the cluster view's
    /// RemovedPlacementGroups), and returns once the raylet applied it.</summary>
    public async Task RemovePlacementGroupAsync(PlacementGroupId group)
    {
        _removedGroups = [.. _removedGroups, group];
        int reports = Reports.Count;
        await Reports.WhenAtLeast(reports + 2);
    }

    private volatile PlacementGroupId[] _removedGroups = [];

    public Task RegisterNodeAsync(NodeRecord node, CancellationToken ct)
    {
        RegisteredNodes.Enqueue(node);
        return Task.CompletedTask;
    }

    public Task<ClusterView> ReportResourcesAsync(ResourceReport report, CancellationToken ct)
    {
        var view = new ClusterView(_view, _finished, _removedGroups);
        LastReport = report;
        Reports.Increment();
        return Task.FromResult(view);
    }

    public Task<JobRecord?> GetJobAsync(JobId jobId, CancellationToken ct) => Task.FromResult(Jobs.GetValueOrDefault(jobId));

    public void ReportWorkerFailure(WorkerId workerId, NodeId nodeId, string reason)
    {
        WorkerFailures.Enqueue((workerId, nodeId, reason));
        Failures.Increment();
    }

    public void PublishLogs(LogBatch batch) => Logs.Enqueue(batch);

    /// <summary>Another raylet as the GCS reports it.</summary>
    public static NodeRecord Node(NodeId id, string endpoint, double totalCpus, double availableCpus, bool alive = true) => new()
    {
        NodeId = id,
        RayletEndpoint = endpoint,
        Total = new() { [ResourceSet.Cpu] = totalCpus },
        Available = new() { [ResourceSet.Cpu] = availableCpus },
        Alive = alive,
    };
}

/// <summary>Starts no processes: records each start and hands back a <see cref="FakeWorkerHandle"/> the test can
/// register, exit or inspect. With <see cref="AutoRegister"/> a worker registers during its start, as soon as
/// the pool can know it.</summary>
internal sealed class FakeWorkerLauncher : IWorkerLauncher
{
    private readonly ConcurrentQueue<FakeWorkerHandle> _started = new();
    private int _nextPid = 40_000;

    /// <summary>How a started worker reaches its raylet (<c>NodeManager.RegisterWorker</c> or the pool's).</summary>
    public Func<RegisterWorkerRequest, bool>? Register { get; set; }

    public bool AutoRegister { get; init; } = true;

    /// <summary>When set, <see cref="Start"/> throws it (as a launcher that cannot find the runtime).</summary>
    public Exception? StartFailure { get; set; }

    public IReadOnlyList<FakeWorkerHandle> Started => [.. _started];

    /// <summary>Counts starts.</summary>
    public CountSignal Starts { get; } = new();

    public FakeWorkerHandle HandleOf(WorkerId id) => _started.Single(h => h.Info.WorkerId == id);

    public IWorkerHandle Start(WorkerStartInfo info, Action onExited)
    {
        if (StartFailure is { } failure) throw failure;
        var handle = new FakeWorkerHandle(this, info, Interlocked.Increment(ref _nextPid), onExited);
        _started.Enqueue(handle);
        Starts.Increment();
        if (AutoRegister && !handle.Register()) throw new InvalidOperationException("The pool did not know the worker it started.");
        return handle;
    }

    public string? LogPath(WorkerId workerId) => $"/fake/logs/worker-{workerId}.log";
}

/// <summary>One fake worker: <see cref="Register"/> is its call to the raylet, <see cref="Exit"/> its process
/// ending on its own, <see cref="Kill"/> the raylet ending it.</summary>
internal sealed class FakeWorkerHandle(FakeWorkerLauncher launcher, WorkerStartInfo info, int pid, Action onExited) : IWorkerHandle
{
    private int _exited;

    public WorkerStartInfo Info { get; } = info;

    public Address Address { get; } = new(info.WorkerId, info.NodeId, "w-endpoint-" + info.WorkerId);

    public int ProcessId { get; } = pid;

    public string ExitDescription => $"the fake worker (pid {ProcessId}) exited with code 1";

    /// <summary>Completes with the reason once the raylet kills the worker.</summary>
    public TaskCompletionSource<string> Killed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Exited => Volatile.Read(ref _exited) == 1;

    public bool Register() =>
        (launcher.Register ?? throw new InvalidOperationException("The launcher has no raylet to register with."))(
            new RegisterWorkerRequest(Info.WorkerId, ProcessId, Address));

    public void Exit()
    {
        if (Interlocked.Exchange(ref _exited, 1) == 0) onExited();
    }

    /// <summary>Ends the worker, then signals <see cref="Killed"/> (so a test that awaits it sees the pool after the exit).</summary>
    public void Kill(string reason)
    {
        Exit();
        Killed.TrySetResult(reason);
    }

    public void WaitForExit(TimeSpan timeout) { }
}

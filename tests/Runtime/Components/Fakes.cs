using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RaySharp.Core;
using RaySharp.Internal;

namespace RaySharp.Tests.Components;

/// <summary>Builds a CoreWorker whose raylet and GCS are fakes, and task specs for it, so one component can be
/// tested alone as Ray's <c>*_test.cc</c> do.</summary>
internal static class ComponentHarness
{
    /// <summary>Generous: a wait that takes this long has hung.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static uint s_nextJob = 1000;

    public static CoreWorker NewWorker(FakeRaylet? raylet = null, FakeGcs? gcs = null, RayConfig? config = null) =>
        new(new JobId(Interlocked.Increment(ref s_nextJob)), "components", null, config ?? new RayConfig(),
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            _ => new WorkerConnections(raylet ?? new FakeRaylet(), gcs ?? new FakeGcs(), "fake"));

    public static RemoteFunctionDescriptor Function(string name, FunctionKind kind = FunctionKind.NormalTask) => new()
    {
        FunctionId = (ulong)name.GetHashCode(StringComparison.Ordinal),
        Signature = name + "()",
        Name = name,
        Kind = kind,
        Invoker = _ => ValueTask.CompletedTask,
    };

    public static TaskSpec NormalTask(CoreWorker worker, string name = "Tests.Work", int maxRetries = 0, bool retryExceptions = false,
        IReadOnlyList<Type>? retryExceptionTypes = null, TaskArg[]? args = null, double cpus = 1, bool enableTaskEvents = true) => new()
    {
        TaskId = TaskId.ForNormalTask(worker.JobId),
        Type = TaskType.NormalTask,
        Function = Function(name),
        Args = args ?? [],
        Owner = worker.Address,
        Resources = ResourceSet.Of((ResourceSet.Cpu, cpus)),
        MaxRetries = maxRetries,
        RetryExceptions = retryExceptions,
        RetryExceptionTypes = retryExceptionTypes,
        EnableTaskEvents = enableTaskEvents,
    };

    public static TaskSpec ActorTask(CoreWorker worker, ActorId actorId, long sequenceNumber, int maxRetries = 0) => new()
    {
        TaskId = TaskId.ForActorTask(actorId),
        Type = TaskType.ActorTask,
        Function = Function("Tests.Actor.Call", FunctionKind.ActorMethod),
        Args = [],
        Owner = worker.Address,
        ActorId = actorId,
        SequenceNumber = sequenceNumber,
        MaxRetries = maxRetries,
    };

    /// <summary>The object the task's first return resolves to, waiting at most <see cref="Timeout"/>.</summary>
    public static Task<RayObject> Result(CoreWorker worker, TaskSpec spec) =>
        worker.MemoryStore.WhenAvailable(spec.ReturnId(0)).WaitAsync(Timeout);

    public static PushTaskReply Ok(int value) =>
        new([RayObject.FromValue(new SerializedObject(BitConverter.GetBytes(value), []))], null, false);

    public static int ValueOf(RayObject obj)
    {
        obj.ThrowIfError();
        return BitConverter.ToInt32(obj.Data!);
    }

    public static PushTaskReply ApplicationError(Exception e, string function = "Tests.Work") =>
        new([], RayErrorInfo.FromUserException(e, function), true);
}

/// <summary>A worker that answers pushes with <see cref="Handler"/> and records what it was sent.</summary>
internal sealed class FakeWorker : ICoreWorkerClient
{
    public FakeWorker(Func<TaskSpec, Task<PushTaskReply>>? handler = null) =>
        Handler = handler ?? (async _ =>
        {
            await Task.Yield();
            return ComponentHarness.Ok(0);
        });

    public Func<TaskSpec, Task<PushTaskReply>> Handler { get; set; }

    public ConcurrentQueue<TaskSpec> Pushed { get; } = new();

    /// <summary>Counts pushes.</summary>
    public CountSignal Pushes { get; } = new();

    public ConcurrentQueue<(TaskId TaskId, bool Force)> Cancelled { get; } = new();

    /// <summary>False: the connection to the worker broke (its process died).</summary>
    public bool IsAlive { get; set; } = true;

    public Task<PushTaskReply> PushTaskAsync(TaskSpec task, CancellationToken ct)
    {
        Pushed.Enqueue(task);
        Pushes.Increment();
        return Handler(task);
    }

    public bool CancelTask(TaskId taskId, bool force, bool recursive = false)
    {
        Cancelled.Enqueue((taskId, force));
        return true;
    }
}

/// <summary>A raylet whose lease requests wait until the test grants them (or <see cref="GrantImmediately"/>), or
/// fail as unschedulable.</summary>
internal sealed class FakeRaylet : IRayletClient
{
    private readonly Lock _lock = new();
    private readonly Queue<TaskCompletionSource<WorkerLease>> _waiting = new();
    private long _nextLease;

    public FakeRaylet(FakeWorker? worker = null) => Worker = worker ?? new FakeWorker();

    /// <summary>The worker every lease is granted on.</summary>
    public FakeWorker Worker { get; }

    public NodeId NodeId { get; } = NodeId.FromRandom();

    public bool GrantImmediately { get; init; }

    /// <summary>When set, every lease request throws this (as a raylet that cancels an infeasible request).</summary>
    public Exception? Reject { get; init; }

    /// <summary>The first this-many lease requests throw <see cref="Failure"/> (a transient failure), then the fake
    /// behaves as configured.</summary>
    public int FailFirst { get; init; }

    public Exception Failure { get; init; } = new LeaseRejectedException("the worker died before registering");

    public int Requests { get; private set; }

    public int Granted { get; private set; }

    public ConcurrentQueue<(WorkerLease Lease, bool Disconnect)> Returned { get; } = new();

    /// <summary>Counts <see cref="ReturnWorker"/> calls.</summary>
    public CountSignal Returns { get; } = new();

    /// <summary>Counts lease requests.</summary>
    public CountSignal LeaseRequests { get; } = new();

    /// <summary>Counts waiting lease requests the submitter canceled (Ray's CancelWorkerLease).</summary>
    public CountSignal Canceled { get; } = new();

    /// <summary>The size of each <see cref="ReturnWorkers"/> batch.</summary>
    public ConcurrentQueue<int> ReturnBatches { get; } = new();

    public ValueTask<WorkerLease> RequestWorkerLeaseAsync(LeaseRequest request, CancellationToken ct)
    {
        TaskCompletionSource<WorkerLease> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            Requests++;
            if (Requests <= FailFirst) return ValueTask.FromException<WorkerLease>(Failure);
            if (Reject is not null) return ValueTask.FromException<WorkerLease>(Reject);
            if (GrantImmediately) return new ValueTask<WorkerLease>(NewLeaseLocked());
            _waiting.Enqueue(tcs);
        }
        LeaseRequests.Increment();
        ct.Register(() =>
        {
            if (tcs.TrySetCanceled(ct)) Canceled.Increment();
        });
        return new ValueTask<WorkerLease>(tcs.Task);
    }

    /// <summary>Grants the oldest waiting lease request.</summary>
    public void GrantOne()
    {
        TaskCompletionSource<WorkerLease> tcs;
        WorkerLease lease;
        lock (_lock)
        {
            tcs = _waiting.Dequeue();
            lease = NewLeaseLocked();
        }
        tcs.TrySetResult(lease);
    }

    private WorkerLease NewLeaseLocked()
    {
        Granted++;
        return new WorkerLease(++_nextLease, Worker, NodeId, ResourceSet.Of((ResourceSet.Cpu, 1)));
    }

    public void ReturnWorker(WorkerLease lease, bool disconnectWorker)
    {
        Returned.Enqueue((lease, disconnectWorker));
        Returns.Increment();
    }

    public void ReturnWorkers(IReadOnlyList<(WorkerLease Lease, bool Disconnect)> leases)
    {
        ReturnBatches.Enqueue(leases.Count);
        foreach (var (lease, disconnect) in leases) ReturnWorker(lease, disconnect);
    }

    public void NotifyTaskBlocked(WorkerLease lease) { }

    public void NotifyTaskUnblocked(WorkerLease lease) { }

    private readonly ConcurrentDictionary<NodeId, bool> _deadNodes = new();

    /// <summary>From now on <see cref="IsNodeDeadAsync"/> says the node is dead.</summary>
    public void KillNode(NodeId node) => _deadNodes[node] = true;

    /// <summary>Counts <see cref="IsNodeDeadAsync"/> calls.</summary>
    public CountSignal NodeChecks { get; } = new();

    public Task<bool> IsNodeDeadAsync(NodeId node, CancellationToken ct)
    {
        NodeChecks.Increment();
        return Task.FromResult(_deadNodes.ContainsKey(node));
    }

    public IReadOnlyList<NodeInfo> GetNodes() => [];

    public IReadOnlyDictionary<string, double> GetTotalResources() => new Dictionary<string, double>();

    public IReadOnlyDictionary<string, double> GetAvailableResources() => new Dictionary<string, double>();

    public void Dispose() { }
}

/// <summary>A GCS whose actor states the test publishes.</summary>
internal sealed class FakeGcs : IGcsActorClient
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ActorId, (ActorStateUpdate Current, List<Action<ActorStateUpdate>> Subscribers)> _actors = [];

    public void Dispose() { }

    public void Publish(ActorStateUpdate update)
    {
        Action<ActorStateUpdate>[] subscribers;
        lock (_lock)
        {
            var entry = Get(update.ActorId);
            _actors[update.ActorId] = (update, entry.Subscribers);
            subscribers = [.. entry.Subscribers];
        }
        foreach (var s in subscribers) s(update);
    }

    public IDisposable SubscribeActor(ActorId actorId, Action<ActorStateUpdate> onUpdate)
    {
        ActorStateUpdate current;
        lock (_lock)
        {
            var entry = Get(actorId);
            entry.Subscribers.Add(onUpdate);
            current = entry.Current;
        }
        onUpdate(current);
        return new Unsubscriber(() => { lock (_lock) Get(actorId).Subscribers.Remove(onUpdate); });
    }

    private (ActorStateUpdate Current, List<Action<ActorStateUpdate>> Subscribers) Get(ActorId id)
    {
        if (!_actors.TryGetValue(id, out var entry))
            _actors[id] = entry = (new ActorStateUpdate(id, ActorLifecycleState.PendingCreation, null, 0, null), []);
        return entry;
    }

    public ActorId RegisterActor(TaskSpec creationTask, bool getIfExists) => creationTask.ActorId;

    public bool TryGetNamedActor(string name, string @namespace, out ActorId actorId, out Address? owner)
    {
        actorId = default;
        owner = null;
        return false;
    }

    public void KillActor(ActorId actorId, bool noRestart, string reason) { }

    public void ReportActorOutOfScope(ActorId actorId) { }

    public ActorLimits? GetActorInfo(ActorId actorId) => null;

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}

/// <summary>Keeps what was logged, so a test can check a failure was reported rather than swallowed.</summary>
internal class RecordingLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = new();

    /// <summary>Counts entries, for a test that awaits something logged from another thread.</summary>
    public CountSignal Logged { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        Entries.Enqueue((logLevel, formatter(state, exception), exception));
        Logged.Increment();
    }
}

/// <summary>A <see cref="RecordingLogger"/> of a component's category.</summary>
internal sealed class RecordingLogger<T> : RecordingLogger, ILogger<T>;

/// <summary>Hands one logger to every category, so a test reads what a component logged whatever its category.</summary>
internal sealed class SingleLoggerFactory(ILogger logger) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => logger;

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }
}

/// <summary>A count a test can await reaching a value, instead of sleeping.</summary>
internal sealed class CountSignal
{
    private readonly Lock _lock = new();
    private readonly List<(int Target, TaskCompletionSource Signal)> _waiters = [];
    private int _count;

    public int Count
    {
        get { lock (_lock) return _count; }
    }

    public void Increment()
    {
        List<TaskCompletionSource> reached = [];
        lock (_lock)
        {
            _count++;
            _waiters.RemoveAll(w =>
            {
                if (w.Target > _count) return false;
                reached.Add(w.Signal);
                return true;
            });
        }
        foreach (var r in reached) r.TrySetResult();
    }

    /// <summary>Completes once the count is at least <paramref name="target"/>; fails after the harness timeout.</summary>
    public Task WhenAtLeast(int target)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_count >= target) return Task.CompletedTask;
            _waiters.Add((target, signal));
        }
        return signal.Task.WaitAsync(ComponentHarness.Timeout);
    }
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.State;

namespace RaySharp.Core;

/// <summary>
/// Submits normal tasks (Ray's <c>NormalTaskSubmitter</c>): resolves each task's dependencies, then queues it by
/// scheduling class (function, resources, strategy and runtime env). Each class asks the raylet for up to
/// <see cref="RayConfig.MaxPendingLeaseRequestsPerSchedulingCategory"/> worker leases at a time; a granted lease runs queued tasks of its
/// class one after another and is returned only when the queue is empty, so a burst of small tasks pays for one
/// lease round trip, not one per task.
/// </summary>
internal sealed partial class NormalTaskSubmitter : IDisposable
{

    private sealed class SchedulingClass(LeaseRequest request)
    {
        public LeaseRequest Request { get; } = request;
        public Queue<(TaskManager.Entry Entry, TaskSpec Resolved)> Ready { get; } = new();
        public int PendingLeaseRequests { get; set; }
        public int ConsecutiveLeaseFailures { get; set; }
        /// <summary>When lease requests of the class started failing at a spillback node that does not answer (0: they
        /// are not failing there).</summary>
        public long DeadNodeFailuresSince { get; set; }
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, SchedulingClass> _classes = [];
    private readonly TaskManager _taskManager;
    private readonly DependencyResolver _resolver;
    private readonly IRayletClient _raylet;
    private readonly ILogger _logger;
    private readonly int _maxPendingLeaseRequests;
    private readonly CancellationTokenSource _disposed = new();

    /// <param name="taskManager">Tracks the tasks and their retries.</param>
    /// <param name="resolver">Resolves ref arguments before a task is queued.</param>
    /// <param name="raylet">Grants worker leases.</param>
    /// <param name="logger">The submitter's log.</param>
    /// <param name="maxPendingLeaseRequests">Lease requests in flight per scheduling class (Ray's
    /// <c>max_pending_lease_requests_per_scheduling_category</c>).</param>
    /// <param name="deadNodeGrace">How long lease requests failing at a spillback node that does not answer cost the
    /// tasks no retries (by default twice the GCS's health-check timeout plus 10 s: enough for the GCS to declare the node
    /// dead and the raylets to hear of it).</param>
    public NormalTaskSubmitter(TaskManager taskManager, DependencyResolver resolver, IRayletClient raylet, ILogger<NormalTaskSubmitter>? logger = null,
        int? maxPendingLeaseRequests = null, TimeSpan? deadNodeGrace = null)
    {
        _taskManager = taskManager;
        _resolver = resolver;
        _raylet = raylet;
        _logger = logger ?? NullLogger<NormalTaskSubmitter>.Instance;
        _maxPendingLeaseRequests = Math.Max(1, maxPendingLeaseRequests ?? RayConfig.Default.MaxPendingLeaseRequestsPerSchedulingCategory);
        _deadNodeGrace = deadNodeGrace ?? RayConfig.Default.HealthCheckTimeout * 2 + TimeSpan.FromSeconds(10);
    }

    private readonly TimeSpan _deadNodeGrace;

    public void Submit(TaskManager.Entry entry) => Observe(ResolveAndQueueAsync(entry), entry.Spec.DisplayName);

    /// <summary>Background work must not fail unseen: the async methods handle their own errors, so a fault that
    /// still escapes is a RaySharp bug, logged here rather than lost as an unobserved task exception.</summary>
    private void Observe(Task task, string what)
    {
        if (task.IsCompletedSuccessfully) return;
        _ = task.ContinueWith(static (t, state) =>
            {
                var (logger, what) = ((ILogger, string))state!;
                logger.LogError(t.Exception!.GetBaseException(), "Submitting {Task} failed inside RaySharp", what);
            }, (_logger, what), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task ResolveAndQueueAsync(TaskManager.Entry entry)
    {
        var spec = entry.Spec;
        try
        {
            entry.Status = TaskManager.Status.WaitingForDependencies;
            var (args, upstream) = await _resolver.ResolveAsync(spec.Args, entry.Cancellation.Token).ConfigureAwait(false);
            if (upstream is not null)
            {
                _taskManager.FailTask(entry, upstream);
                return;
            }
            entry.ResolvedArgs = args; // kept as the task's lineage once it finishes
            Queue(entry, spec.WithArgs(args));
        }
        catch (OperationCanceledException) when (entry.CancelRequested)
        {
            _taskManager.FailTask(entry, RayErrorInfo.Cancelled(spec.TaskId, spec.DisplayName));
        }
        catch (OperationCanceledException)
        {
            // Shutdown: TaskManager.FailAll has failed the task already.
        }
        catch (Exception e)
        {
            _taskManager.FailTask(entry, InternalError(spec, e));
        }
    }

    private void Queue(TaskManager.Entry entry, TaskSpec resolved)
    {
        var spec = entry.Spec;
        // A retry or re-execution runs as the entry's next attempt; the executor reports it under that number.
        if (resolved.AttemptNumber != entry.Attempt) resolved = resolved.WithArgs(resolved.Args, entry.Attempt);
        _taskManager.RecordEvent(entry, RayTaskStatus.PendingNodeAssignment);
        string key = string.Join("\u0001", spec.Function.FunctionId, spec.Resources, spec.Strategy, spec.RuntimeEnvKey);
        lock (_lock)
        {
            if (!_classes.TryGetValue(key, out var cls))
                _classes[key] = cls = new SchedulingClass(new LeaseRequest(spec.Resources, spec.Strategy, spec.RuntimeEnvKey, false,
                    spec.DisplayName, EnvVars: spec.RuntimeEnv?.EnvVars)
                {
                    WorkingDirUri = Packaging.WorkingDirPackage.IsUri(spec.RuntimeEnv?.WorkingDir) ? spec.RuntimeEnv!.WorkingDir : null,
                });
            entry.Status = TaskManager.Status.WaitingForLease;
            cls.Ready.Enqueue((entry, resolved));
            LogQueued(_logger, spec.DisplayName, spec.TaskId, cls.Ready.Count);
            RequestLeasesLocked(cls);
        }
    }

    private void RequestLeasesLocked(SchedulingClass cls)
    {
        while (cls.PendingLeaseRequests < Math.Min(cls.Ready.Count, _maxPendingLeaseRequests))
        {
            cls.PendingLeaseRequests++;
            LogRequestingLease(_logger, cls.Request.Description, cls.PendingLeaseRequests);
            Observe(LeaseAndRunAsync(cls), cls.Request.Description);
        }
    }

    private async Task LeaseAndRunAsync(SchedulingClass cls)
    {
        WorkerLease lease;
        try
        {
            lease = await _raylet.RequestWorkerLeaseAsync(WithLocality(cls), _disposed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_lock) cls.PendingLeaseRequests--;
            return;
        }
        catch (Exception e) when (IsNeverSchedulable(e, out var error))
        {
            // Canceled as never satisfiable (infeasible, hard affinity to a dead node, runtime env setup failed): every
            // task of the class fails, as Ray fails the scheduling key's queue on a canceled lease.
            List<(TaskManager.Entry Entry, TaskSpec)> failed = [];
            lock (_lock)
            {
                cls.PendingLeaseRequests--;
                while (cls.Ready.TryDequeue(out var queued)) failed.Add(queued);
            }
            foreach (var (entry, _) in failed) _taskManager.FailTask(entry, error);
            return;
        }
        catch (Exception e)
        {
            await OnTransientLeaseFailureAsync(cls, e).ConfigureAwait(false);
            return;
        }
        lock (_lock)
        {
            cls.PendingLeaseRequests--;
            cls.ConsecutiveLeaseFailures = 0;
            cls.DeadNodeFailuresSince = 0;
        }
        LogLeaseGranted(_logger, lease.LeaseId, lease.NodeId, cls.Request.Description);

        bool disconnect = false;
        TaskManager.Entry? current = null;
        try
        {
            while (TryDequeue(cls, out var entry, out var resolved))
            {
                current = entry;
                var reply = await PushAsync(lease, entry, resolved).ConfigureAwait(false);
                bool workerDied = reply.Error is { Kind: ErrorKind.WorkerCrashed } && !reply.IsApplicationError;
                // The last attempt's worker died: say whether its node did (NodeDiedException) or only the worker.
                if (workerDied && entry.RetriesLeft == 0 && await _raylet.IsNodeDeadAsync(lease.NodeId, _disposed.Token).ConfigureAwait(false))
                    reply = reply with
                    {
                        Error = new RayErrorInfo
                        {
                            Kind = ErrorKind.NodeDied, NodeId = lease.NodeId,
                            Message = $"{entry.Spec.DisplayName} ({entry.Spec.TaskId}) was running on node {lease.NodeId}, which died, and its " +
                                $"retries are spent: {reply.Error!.Message}",
                        },
                    };
                if (_taskManager.HandleReply(entry, reply)) Queue(entry, resolved);
                current = null;
                if (workerDied)
                {
                    // Do not push more work to a dead worker; the class asks for a new lease for what is left.
                    disconnect = true;
                    break;
                }
            }
        }
        catch (Exception e)
        {
            // A failure inside RaySharp while handling a reply: the task fails rather than hang, and the worker is not
            // trusted with more work.
            disconnect = true;
            LogReplyHandlingFailed(_logger, e, current?.Spec.DisplayName);
            if (current is not null) _taskManager.FailTask(current, InternalError(current.Spec, e));
        }
        finally
        {
            try
            {
                LogReturningLease(_logger, lease.LeaseId, disconnect);
                _raylet.ReturnWorker(lease, disconnect);
            }
            catch (Exception e)
            {
                LogReturnFailed(_logger, e, lease.LeaseId, cls.Request.Description);
            }
        }
        lock (_lock) RequestLeasesLocked(cls);
    }

    /// <summary>The class's lease request, sent toward the node that holds most of the argument bytes of the task at the
    /// head of its queue (Ray's locality-aware lease policy), when its strategy leaves the node open.</summary>
    private LeaseRequest WithLocality(SchedulingClass cls)
    {
        TaskSpec? head;
        lock (_lock) head = cls.Ready.TryPeek(out var first) ? first.Resolved : null;
        if (head is null) return cls.Request;
        NodeId best = default;
        long bestBytes = 0;
        Dictionary<NodeId, long>? bytes = null;
        List<(ObjectId, NodeId)>? storeArgs = null;
        foreach (var arg in head.Args)
        {
            if (!arg.IsInStore) continue;
            bytes ??= [];
            (storeArgs ??= []).Add((arg.Id, arg.StoreNode));
            long total = bytes[arg.StoreNode] = bytes.GetValueOrDefault(arg.StoreNode) + arg.StoreSize;
            if (total > bestBytes) (best, bestBytes) = (arg.StoreNode, total);
        }
        if (storeArgs is null) return cls.Request;
        // Locality only where the strategy leaves the node open; the granting raylet pulls the arguments either way.
        return cls.Request with { PreferredNode = cls.Request.Strategy is DefaultSchedulingStrategy ? best : default, StoreArgs = storeArgs };
    }

    private static bool IsNeverSchedulable(Exception e, out RayErrorInfo error)
    {
        error = null!;
        if (e is not (TaskUnschedulableException or ActorUnschedulableException or RuntimeEnvSetupException or PlacementGroupSchedulingException)) return false;
        error = RayErrorInfo.FromRayException((RayException)e)!;
        return true;
    }

    /// <summary>
    /// A lease request failed for a reason that says nothing about the work itself: the worker the raylet started
    /// died before registering (a rejected reply), the spillback node is gone, the RPC failed. Ray retries such
    /// lease requests and fails tasks only when a request is canceled as unschedulable. RaySharp also retries, with
    /// exponential backoff, but charges each failed attempt to the head task of the class — the one the lease was
    /// requested for — against its own <c>MaxRetries</c>, so a raylet that keeps failing fails tasks one at a time once
    /// their retries are spent rather than hanging them forever; the tasks behind it stay queued.
    /// </summary>
    private async Task OnTransientLeaseFailureAsync(SchedulingClass cls, Exception e)
    {
        TaskManager.Entry? exhausted = null;
        int failures;
        lock (_lock)
        {
            cls.PendingLeaseRequests--;
            failures = ++cls.ConsecutiveLeaseFailures;
            while (cls.Ready.TryPeek(out var head) && head.Entry.Status == TaskManager.Status.Finished) cls.Ready.Dequeue();
            // A node that died after a raylet (or the locality choice) picked it costs no retries (as in Ray, where only the task's own failures do).
            // For a while: once the GCS declares the node dead (its health checks) the raylets choose other nodes, and
            // an unanswering node that the GCS still believes alive costs retries after that, as any failure does.
            bool free = false;
            if (e is RayletUnreachableException { RemoteNode: not null })
            {
                long now = Environment.TickCount64;
                if (cls.DeadNodeFailuresSince == 0) cls.DeadNodeFailuresSince = now;
                free = now - cls.DeadNodeFailuresSince < (long)_deadNodeGrace.TotalMilliseconds;
            }
            if (!free && cls.Ready.TryPeek(out var first))
            {
                if (first.Entry.RetriesLeft == 0) exhausted = cls.Ready.Dequeue().Entry;
                else
                {
                    TaskManager.RecordRetry(first.Entry.Spec);
                    if (first.Entry.RetriesLeft > 0) first.Entry.RetriesLeft--;
                }
            }
        }
        LogLeaseFailed(_logger, e, cls.Request.Description, failures);
        if (exhausted is not null)
            _taskManager.FailTask(exhausted, new RayErrorInfo
            {
                Kind = ErrorKind.WorkerCrashed,
                Message = $"{exhausted.Spec.DisplayName} ({exhausted.Spec.TaskId}) got no worker: its lease request failed " +
                    $"{failures} times in a row and its retries are spent. Last failure: {Describe(e)}",
            });
        try
        {
            var backoff = TimeSpan.FromMilliseconds(Math.Min(LeaseRetryMaxBackoff.TotalMilliseconds,
                LeaseRetryBaseBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16))));
            await Task.Delay(backoff, _disposed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_lock) RequestLeasesLocked(cls);
    }

    private static string Describe(Exception e) => e switch
    {
        LeaseRejectedException or RayletUnreachableException => e.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    internal static readonly TimeSpan LeaseRetryBaseBackoff = TimeSpan.FromMilliseconds(50);
    internal static readonly TimeSpan LeaseRetryMaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>Pushes one task to the leased worker. A push that throws instead of replying (the worker's connection
    /// broke, the RPC failed) counts as the worker dying under the task: a system failure, retried per MaxRetries.</summary>
    private async Task<PushTaskReply> PushAsync(WorkerLease lease, TaskManager.Entry entry, TaskSpec resolved)
    {
        try
        {
            entry.RunningOn = lease.Worker;
            entry.Status = TaskManager.Status.Running;
            _taskManager.RecordEvent(entry, RayTaskStatus.SubmittedToWorker, lease.NodeId);
            LogPushing(_logger, resolved.DisplayName, resolved.TaskId, lease.LeaseId);
            return await lease.Worker.PushTaskAsync(resolved, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogPushFailed(_logger, e, resolved.DisplayName, resolved.TaskId, lease.NodeId);
            return PushTaskReply.WorkerDied(
                $"Pushing {resolved.DisplayName} to its worker on node {lease.NodeId} failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            entry.RunningOn = null;
        }
    }

    private bool TryDequeue(SchedulingClass cls, out TaskManager.Entry entry, out TaskSpec resolved)
    {
        lock (_lock)
        {
            while (cls.Ready.TryDequeue(out var next))
            {
                // Cancelled while queued: TaskManager already failed it.
                if (next.Entry.Status == TaskManager.Status.Finished) continue;
                (entry, resolved) = next;
                return true;
            }
        }
        entry = null!;
        resolved = null!;
        return false;
    }

    private static RayErrorInfo InternalError(TaskSpec spec, Exception e) => InternalError(spec.DisplayName, e);

    private static RayErrorInfo InternalError(string what, Exception e) => new()
    {
        Kind = ErrorKind.WorkerCrashed,
        Message = $"Submitting {what} failed inside RaySharp: {e.GetType().Name}: {e.Message}",
    };

    public void Dispose() => _disposed.Cancel();

    // The submission path logs through source-generated methods: nothing is formatted unless the level is on.

    [LoggerMessage(Level = LogLevel.Trace, Message = "Queued {Task} ({TaskId}) for a worker lease; {Ready} ready in its scheduling class")]
    private static partial void LogQueued(ILogger logger, string task, TaskId taskId, int ready);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Requesting a worker lease for {Task} ({Pending} requests pending)")]
    private static partial void LogRequestingLease(ILogger logger, string task, int pending);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease {LeaseId} granted on node {NodeId} for {Task}")]
    private static partial void LogLeaseGranted(ILogger logger, long leaseId, NodeId nodeId, string task);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Pushing {Task} ({TaskId}) under lease {LeaseId}")]
    private static partial void LogPushing(ILogger logger, string task, TaskId taskId, long leaseId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Returning lease {LeaseId} (disconnect the worker: {Disconnect})")]
    private static partial void LogReturningLease(ILogger logger, long leaseId, bool disconnect);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Requesting a worker lease for {Task} failed ({Failures} in a row); asking again after a backoff")]
    private static partial void LogLeaseFailed(ILogger logger, Exception e, string task, int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the reply of {Task} failed inside RaySharp")]
    private static partial void LogReplyHandlingFailed(ILogger logger, Exception e, string? task);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Returning the lease {LeaseId} of {Task} to the raylet failed")]
    private static partial void LogReturnFailed(ILogger logger, Exception e, long leaseId, string task);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pushing {Task} ({TaskId}) to the worker leased on node {NodeId} failed; treating the worker as dead")]
    private static partial void LogPushFailed(ILogger logger, Exception e, string task, TaskId taskId, NodeId nodeId);
}

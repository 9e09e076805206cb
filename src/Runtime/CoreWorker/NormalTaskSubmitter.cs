namespace RaySharp.Core;

/// <summary>
/// Submits normal tasks (Ray's <c>NormalTaskSubmitter</c>): resolves each task's dependencies, then queues it by
/// scheduling class (function, resources, strategy and runtime env). Each class asks the raylet for up to
/// <see cref="MaxPendingLeaseRequestsPerClass"/> worker leases at a time; a granted lease runs queued tasks of its
/// class one after another and is returned only when the queue is empty, so a burst of small tasks pays for one
/// lease round trip, not one per task.
/// </summary>
internal sealed class NormalTaskSubmitter : IDisposable
{
    /// <summary>Ray's <c>max_pending_lease_requests_per_scheduling_category</c>.</summary>
    public const int MaxPendingLeaseRequestsPerClass = 10;

    private sealed class SchedulingClass(LeaseRequest request)
    {
        public LeaseRequest Request { get; } = request;
        public Queue<(TaskManager.Entry Entry, TaskSpec Resolved)> Ready { get; } = new();
        public int PendingLeaseRequests { get; set; }
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, SchedulingClass> _classes = [];
    private readonly TaskManager _taskManager;
    private readonly DependencyResolver _resolver;
    private readonly IRayletClient _raylet;
    private readonly CancellationTokenSource _disposed = new();

    public NormalTaskSubmitter(TaskManager taskManager, DependencyResolver resolver, IRayletClient raylet)
    {
        _taskManager = taskManager;
        _resolver = resolver;
        _raylet = raylet;
    }

    public void Submit(TaskManager.Entry entry) => _ = ResolveAndQueueAsync(entry);

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
        string key = string.Join("\u0001", spec.Function.FunctionId, spec.Resources, spec.Strategy, spec.RuntimeEnvKey);
        lock (_lock)
        {
            if (!_classes.TryGetValue(key, out var cls))
                _classes[key] = cls = new SchedulingClass(new LeaseRequest(spec.Resources, spec.Strategy, spec.RuntimeEnvKey, false,
                    spec.DisplayName, EnvVars: spec.RuntimeEnv?.EnvVars));
            entry.Status = TaskManager.Status.WaitingForLease;
            cls.Ready.Enqueue((entry, resolved));
            RequestLeasesLocked(cls);
        }
    }

    private void RequestLeasesLocked(SchedulingClass cls)
    {
        while (cls.PendingLeaseRequests < Math.Min(cls.Ready.Count, MaxPendingLeaseRequestsPerClass))
        {
            cls.PendingLeaseRequests++;
            _ = LeaseAndRunAsync(cls);
        }
    }

    private async Task LeaseAndRunAsync(SchedulingClass cls)
    {
        WorkerLease lease;
        try
        {
            lease = await _raylet.RequestWorkerLeaseAsync(cls.Request, _disposed.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            List<(TaskManager.Entry Entry, TaskSpec)> failed = [];
            lock (_lock)
            {
                cls.PendingLeaseRequests--;
                if (e is not OperationCanceledException)
                    while (cls.Ready.TryDequeue(out var queued)) failed.Add(queued);
            }
            // The request was canceled as never satisfiable (or the lease protocol failed): every task of the class fails.
            var error = e is RayException ray && RayErrorInfo.FromRayException(ray) is { } info ? info : InternalError(cls.Request.Description, e);
            foreach (var (entry, _) in failed) _taskManager.FailTask(entry, error);
            return;
        }
        lock (_lock) cls.PendingLeaseRequests--;

        bool disconnect = false;
        try
        {
            while (TryDequeue(cls, out var entry, out var resolved))
            {
                PushTaskReply reply;
                try
                {
                    entry.RunningOn = lease.Worker;
                    entry.Status = TaskManager.Status.Running;
                    reply = await lease.Worker.PushTaskAsync(resolved, CancellationToken.None).ConfigureAwait(false);
                }
                finally
                {
                    entry.RunningOn = null;
                }
                bool workerDied = reply.Error is { Kind: ErrorKind.WorkerCrashed } && !reply.IsApplicationError;
                if (_taskManager.HandleReply(entry, reply)) Queue(entry, resolved);
                if (workerDied)
                {
                    // Do not push more work to a dead worker; the class asks for a new lease for what is left.
                    disconnect = true;
                    break;
                }
            }
        }
        catch (Exception)
        {
            // A failure inside RaySharp while pushing: the task's entry is failed by HandleReply's caller paths or
            // shutdown; the worker is not trusted with more work.
            disconnect = true;
        }
        finally
        {
            _raylet.ReturnWorker(lease, disconnect);
        }
        lock (_lock) RequestLeasesLocked(cls);
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
}

namespace RaySharp.Core;

/// <summary>
/// Submits normal tasks (Ray's <c>NormalTaskSubmitter</c>): resolve dependencies, lease a worker from the
/// raylet, push the task to it, and hand the reply to the <see cref="TaskManager"/>, resubmitting on retry.
/// </summary>
internal sealed class NormalTaskSubmitter
{
    private readonly TaskManager _taskManager;
    private readonly DependencyResolver _resolver;
    private readonly IRayletClient _raylet;

    public NormalTaskSubmitter(TaskManager taskManager, DependencyResolver resolver, IRayletClient raylet)
    {
        _taskManager = taskManager;
        _resolver = resolver;
        _raylet = raylet;
    }

    public void Submit(TaskManager.Entry entry) => _ = RunAsync(entry);

    private async Task RunAsync(TaskManager.Entry entry)
    {
        var spec = entry.Spec;
        var ct = entry.Cancellation.Token;
        try
        {
            while (true)
            {
                entry.Status = TaskManager.Status.WaitingForDependencies;
                var (args, upstream) = await _resolver.ResolveAsync(spec.Args, ct).ConfigureAwait(false);
                if (upstream is not null)
                {
                    _taskManager.FailTask(entry, upstream);
                    return;
                }
                var resolved = spec.WithArgs(args);

                entry.Status = TaskManager.Status.WaitingForLease;
                var lease = await _raylet.RequestWorkerLeaseAsync(
                    new LeaseRequest(spec.Resources, spec.Strategy, spec.RuntimeEnvKey, false, spec.DisplayName, EnvVars: spec.RuntimeEnv?.EnvVars), ct).ConfigureAwait(false);
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
                    _raylet.ReturnWorker(lease, disconnectWorker: false);
                }
                if (!_taskManager.HandleReply(entry, reply)) return;
            }
        }
        catch (OperationCanceledException) when (entry.CancelRequested)
        {
            _taskManager.FailTask(entry, RayErrorInfo.Cancelled(spec.TaskId, spec.DisplayName));
        }
        catch (OperationCanceledException)
        {
            // Shutdown: TaskManager.FailAll has failed the task already.
        }
        catch (RayException e) when (RayErrorInfo.FromRayException(e) is { } error)
        {
            _taskManager.FailTask(entry, error);
        }
        catch (Exception e)
        {
            _taskManager.FailTask(entry, new RayErrorInfo
            {
                Kind = ErrorKind.WorkerCrashed,
                Message = $"Submitting {spec.DisplayName} failed inside RaySharp: {e.GetType().Name}: {e.Message}",
            });
        }
    }
}

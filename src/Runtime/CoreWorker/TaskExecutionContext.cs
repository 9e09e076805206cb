namespace RaySharp.Core;

/// <summary>
/// What the code running inside a task can ask about it: which task, actor and lease, its cancellation token,
/// and counters for objects it puts. Flows with the async context so nested submits know their parent.
/// </summary>
internal sealed class TaskExecutionContext
{
    private static readonly AsyncLocal<TaskExecutionContext?> s_current = new();
    private int _putIndex;

    public TaskExecutionContext(TaskSpec task, IExecutingWorker worker, CancellationToken cancellationToken, ActorState? actor)
    {
        Task = task;
        Worker = worker;
        CancellationToken = cancellationToken;
        Actor = actor;
    }

    public static TaskExecutionContext? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    public TaskSpec Task { get; }
    public IExecutingWorker Worker { get; }
    public CancellationToken CancellationToken { get; }
    public ActorState? Actor { get; }

    public int NextPutIndex() => Interlocked.Increment(ref _putIndex);
}

/// <summary>The worker a task executes on, as the task's own code needs it.</summary>
internal interface IExecutingWorker
{
    WorkerId WorkerId { get; }
    ResourceSet AssignedResources { get; }

    /// <summary>The running task blocks in Get: release its CPU until <see cref="NotifyUnblocked"/>.</summary>
    void NotifyBlocked();
    void NotifyUnblocked();
}

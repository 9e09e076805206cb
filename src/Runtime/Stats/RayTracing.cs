using System.Diagnostics;

namespace RaySharp.Core.Stats;

/// <summary>
/// Spans of the runtime on the <see cref="ActivitySource"/> <c>RaySharp</c>: one where a task, actor call or actor
/// creation is submitted (at its owner) and one where it executes (at its worker), the second a child of the first
/// across processes: the submitter's W3C trace context travels in the task spec (as Ray carries OpenTelemetry context
/// in its task specs). Without a listener nothing is allocated: the submit side only reads <see cref="Activity.Current"/>,
/// and the worker creates its span only for tasks that carry a context.
/// </summary>
internal static class RayTracing
{
    public const string SourceName = "RaySharp";

    public static readonly ActivitySource Source = new(SourceName, typeof(RayTracing).Assembly.GetName().Version?.ToString());

    public const string SubmitTask = "raysharp.task.submit", SubmitActorTask = "raysharp.actor_task.submit",
        CreateActor = "raysharp.actor.create", Execute = "raysharp.task.execute";

    /// <summary>Starts a submit span (null without a listener) named <paramref name="operation"/>.</summary>
    public static Activity? StartSubmit(string operation, string function)
    {
        if (!Source.HasListeners()) return null;
        var activity = Source.StartActivity(operation, ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true }) activity.SetTag("raysharp.function", function);
        return activity;
    }

    /// <summary>The context to carry in a spec: the current span's (the submit span, or the caller's own), or nulls.</summary>
    public static (string? TraceParent, string? TraceState) Capture()
    {
        var current = Activity.Current;
        if (current is null || current.IdFormat != ActivityIdFormat.W3C) return (null, null);
        return (current.Id, current.TraceStateString);
    }

    /// <summary>
    /// Starts the execute span of <paramref name="task"/>, a child of the submitter's context. With a listener on
    /// <c>RaySharp</c> it is recorded; without one, a task that carries a context still gets an
    /// <see cref="Activity.Current"/> with its trace ID, so user code and its logs join the submitter's trace.
    /// Null when neither applies.
    /// </summary>
    public static Activity? StartExecute(TaskSpec task, WorkerId workerId)
    {
        // The context came over the wire: only a well-formed traceparent and a tracestate of sane length are used.
        bool hasParent = task.TraceParent is { Length: TraceParentLength } traceParent
            && ActivityContext.TryParse(traceParent, task.TraceState is { Length: <= MaxTraceStateLength } s ? s : null, isRemote: true, out var parent);
        if (!hasParent) parent = default;
        if (!Source.HasListeners())
        {
            if (!hasParent) return null;
            var detached = new Activity(Execute);
            detached.SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags);
            detached.TraceStateString = parent.TraceState;
            return detached.Start();
        }
        var activity = Source.StartActivity(Execute, ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("raysharp.function", task.DisplayName);
            activity.SetTag("raysharp.task_id", task.TaskId.ToString());
            activity.SetTag("raysharp.worker_id", workerId.ToString());
            if (task.AttemptNumber > 0) activity.SetTag("raysharp.attempt", task.AttemptNumber);
        }
        return activity;
    }

    /// <summary>A W3C <c>traceparent</c>: <c>00-</c>, 32 hex digits, <c>-</c>, 16 hex digits, <c>-</c>, 2 hex digits.</summary>
    private const int TraceParentLength = 55;

    /// <summary>The W3C limit on <c>tracestate</c> (32 entries of at most 256 characters each, commas between).</summary>
    private const int MaxTraceStateLength = 8223;
}

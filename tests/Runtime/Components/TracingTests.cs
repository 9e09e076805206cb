using System.Diagnostics;
using MemoryPack;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;
using RaySharp.Internal;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>The submitter's trace context in the task spec: captured at submission, carried over the wire, and the
/// parent of the span the executing worker starts.</summary>
public sealed class TracingTests : IDisposable
{
    private readonly CoreWorker _worker = NewWorker();
    private readonly List<Activity> _started = [];
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == RayTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = a => { lock (_started) _started.Add(a); },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _worker.Dispose();
    }

    [Fact]
    public void A_submitted_task_carries_its_submit_span_as_parent_across_the_wire_to_its_execute_span()
    {
        var function = Function("Tests.Traced." + Guid.NewGuid().ToString("N"));
        FunctionRegistry.Register(function);
        using var root = new Activity("caller").SetIdFormat(ActivityIdFormat.W3C).Start();
        root.TraceStateString = "vendor=1";

        var returns = _worker.SubmitTask(function, null, []);
        Assert.True(_worker.TaskManager.TryGetPending(returns[0].TaskId, out var entry));
        var submit = Assert.Single(_started, a => a.OperationName == RayTracing.SubmitTask && a.TraceId == root.TraceId);
        Assert.Equal(root.SpanId, submit.ParentSpanId);
        Assert.Equal(submit.Id, entry.Spec.TraceParent);
        Assert.Equal("vendor=1", entry.Spec.TraceState);

        // Over the wire, as a worker receives it.
        var wire = MemoryPackSerializer.Deserialize<WireTaskSpec>(MemoryPackSerializer.Serialize(entry.Spec.ToWire(_worker.JobId)))!;
        var received = wire.FromWire();
        Assert.Equal(entry.Spec.TraceParent, received.TraceParent);
        Assert.Equal(entry.Spec.TraceState, received.TraceState);

        root.Stop();
        using var execute = RayTracing.StartExecute(received, WorkerId.FromRandom());
        Assert.NotNull(execute);
        Assert.Same(execute, Activity.Current);
        Assert.Equal(root.TraceId, execute.TraceId);
        Assert.Equal(submit.SpanId, execute.ParentSpanId);
        Assert.Equal("vendor=1", execute.TraceStateString);
        Assert.Equal(ActivityKind.Consumer, execute.Kind);
    }

    [Fact]
    public void A_malformed_trace_context_from_the_wire_is_ignored_and_the_execute_span_starts_a_trace_of_its_own()
    {
        Assert.Null(Activity.Current);
        var plain = NormalTask(_worker);
        Assert.Null(plain.TraceParent);
        var forged = new TaskSpec
        {
            TaskId = plain.TaskId, Type = plain.Type, Function = plain.Function, Args = [], Owner = plain.Owner,
            TraceParent = new string('z', 55), TraceState = new string('x', 100_000),
        };
        // With the listener, the execute span is a root of its own; its trace is not the forged one.
        using var span = RayTracing.StartExecute(forged, WorkerId.FromRandom());
        Assert.NotNull(span);
        Assert.Equal(default, span.ParentSpanId);
        Assert.Null(span.TraceStateString);
    }
}

using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>Everything the runtime knows about one remote function, emitted by the source generator and
/// registered in <see cref="FunctionRegistry"/> at module load.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RemoteFunctionDescriptor
{
    /// <summary>Stable ID: FNV-1a 64 of <see cref="Signature"/> (see <see cref="FunctionIds.Compute"/>).</summary>
    public required ulong FunctionId { get; init; }

    /// <summary>Canonical signature the ID is computed from, e.g. <c>MyApp.MathTasks.Add(int,int)</c>.</summary>
    public required string Signature { get; init; }

    /// <summary>Name shown in errors and listings, e.g. <c>MyApp.MathTasks.Add</c> or <c>MyApp.Counter.Increment</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Task, actor creation or actor method.</summary>
    public required FunctionKind Kind { get; init; }

    /// <summary>How results come back.</summary>
    public ReturnKind ReturnKind { get; init; } = ReturnKind.Value;

    /// <summary>Number of return objects (N for <see cref="ReturnKind.Multiple"/>, else 1; 0 for streaming).</summary>
    public int NumReturns { get; init; } = 1;

    /// <summary>The generated invoker.</summary>
    public required TaskInvoker Invoker { get; init; }

    /// <summary>Normal tasks: the options set in <c>[RayRemote]</c>.</summary>
    public TaskOptions? Options { get; init; }

    /// <summary>Actor creation and methods: the actor class.</summary>
    public ActorClassDescriptor? ActorClass { get; init; }

    /// <summary>Actor methods: <c>[RayMethod(MaxTaskRetries = …)]</c>, overriding the class's.</summary>
    public int? MaxTaskRetries { get; init; }

    /// <summary>Actor methods: <c>[RayMethod(RetryExceptions = …)]</c>.</summary>
    public bool? RetryExceptions { get; init; }

    /// <summary>The method is asynchronous (returns <c>Task</c>, <c>ValueTask</c> or <c>IAsyncEnumerable</c>).</summary>
    public bool IsAsync { get; init; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

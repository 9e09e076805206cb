using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>How a piece of code waits for a ref (or for a task made from one).</summary>
internal enum RefGetKind
{
    /// <summary><c>Ray.Get(r)</c> or <c>Ray.Get(r, timeout)</c>.</summary>
    RayGetOne,

    /// <summary><c>Ray.Get(refs)</c>.</summary>
    RayGetMany,

    /// <summary><c>Ray.Wait(refs, ...)</c>.</summary>
    RayWait,

    /// <summary><c>r.Get()</c> or <c>r.Get(timeout)</c>.</summary>
    RefGet,

    /// <summary><c>x.Result</c> on a task from <c>r.AsTask()</c>, <c>Ray.GetAsync</c> or <c>Ray.WaitAsync</c>.</summary>
    TaskResult,

    /// <summary><c>x.Wait(...)</c> on such a task.</summary>
    TaskWait,

    /// <summary><c>x.GetAwaiter().GetResult()</c> on a ref or such a task.</summary>
    AwaiterGetResult,

    /// <summary><c>await r</c>, <c>await r.AsTask()</c>, <c>await Ray.GetAsync(...)</c>: not blocking, but throws what the task threw.</summary>
    Await,
}

/// <summary>
/// One place where code waits for a ref: the operation that waits, what it is, and the ref (or task, or
/// list of refs) it waits for.
/// </summary>
internal readonly struct RefGet
{
    public RefGet(IOperation operation, RefGetKind kind, IOperation target, bool hasTimeout)
    {
        Operation = operation;
        Kind = kind;
        Target = target;
        HasTimeout = hasTimeout;
    }

    /// <summary>The invocation, property reference or await.</summary>
    public IOperation Operation { get; }

    public RefGetKind Kind { get; }

    /// <summary>The ref, list of refs or task waited for.</summary>
    public IOperation Target { get; }

    /// <summary>A timeout argument was given (and is not the literal null).</summary>
    public bool HasTimeout { get; }

    public bool IsBlocking => Kind != RefGetKind.Await;

    /// <summary>Waiting this way rethrows what the remote code threw (Ray.Wait and Ray.WaitAsync only report readiness).</summary>
    public bool ThrowsTaskErrors => Kind != RefGetKind.RayWait && !IsWaitAsyncTask(Target);

    /// <summary>The call as users write it, for messages: <c>Ray.Get</c>, <c>.Get()</c>, <c>.Result</c> ...</summary>
    public string DisplayName => Kind switch
    {
        RefGetKind.RayGetOne or RefGetKind.RayGetMany => "Ray.Get",
        RefGetKind.RayWait => "Ray.Wait",
        RefGetKind.RefGet => ".Get()",
        RefGetKind.TaskResult => ".Result",
        RefGetKind.TaskWait => ".Wait()",
        RefGetKind.AwaiterGetResult => ".GetAwaiter().GetResult()",
        _ => "await",
    };

    /// <summary>Recognizes <paramref name="operation"/> as a wait on a ref, or returns null.</summary>
    public static RefGet? TryCreate(IOperation operation, RayApi api)
    {
        switch (operation)
        {
            case IInvocationOperation invocation:
                return FromInvocation(invocation, api);

            case IPropertyReferenceOperation { Property.Name: "Result", Instance: { } task } property
                when IsTask(property.Property.ContainingType) && IsTaskOfRef(task, api):
                return new RefGet(operation, RefGetKind.TaskResult, task, hasTimeout: false);

            case IAwaitOperation { Operation: { } awaited } when api.IsObjectRef(awaited.Type) || IsTaskOfRef(awaited, api):
                return new RefGet(operation, RefGetKind.Await, awaited, hasTimeout: false);

            default:
                return null;
        }
    }

    private static RefGet? FromInvocation(IInvocationOperation invocation, RayApi api)
    {
        var method = invocation.TargetMethod;
        if (api.IsRayMethod(method, "Get") && invocation.Arguments.Length > 0)
        {
            var first = invocation.Arguments[0].Value;
            var kind = api.IsObjectRef(method.Parameters[0].Type) ? RefGetKind.RayGetOne : RefGetKind.RayGetMany;
            return new RefGet(invocation, kind, first, HasArgument(invocation, "timeout"));
        }

        if (api.IsRayMethod(method, "Wait") && invocation.Arguments.Length > 0)
        {
            return new RefGet(invocation, RefGetKind.RayWait, invocation.Arguments[0].Value, HasArgument(invocation, "timeout"));
        }

        if (invocation.Instance is not { } instance)
        {
            return null;
        }

        if (method.Name == "Get" && api.IsObjectRef(method.ContainingType) && api.IsFromRaySharp(method))
        {
            return new RefGet(invocation, RefGetKind.RefGet, instance, HasArgument(invocation, "timeout"));
        }

        if (method.Name == "Wait" && IsTask(method.ContainingType) && IsTaskOfRef(instance, api))
        {
            return new RefGet(invocation, RefGetKind.TaskWait, instance, invocation.Arguments.Length > 0);
        }

        if (method.Name == "GetResult" && instance is IInvocationOperation { TargetMethod.Name: "GetAwaiter", Instance: { } awaited } &&
            (api.IsObjectRef(awaited.Type) || IsTaskOfRef(awaited, api)))
        {
            return new RefGet(invocation, RefGetKind.AwaiterGetResult, awaited, hasTimeout: false);
        }

        return null;
    }

    /// <summary>A task made from refs: <c>r.AsTask()</c>, <c>Ray.GetAsync(...)</c>, <c>Ray.WaitAsync(...)</c>.</summary>
    public static bool IsTaskOfRef(IOperation operation, RayApi api)
    {
        return RayApi.Unwrap(operation) is IInvocationOperation invocation &&
            ((invocation.TargetMethod.Name == "AsTask" && api.IsObjectRef(invocation.TargetMethod.ContainingType)) ||
             api.IsRayMethod(invocation.TargetMethod, "GetAsync") || api.IsRayMethod(invocation.TargetMethod, "WaitAsync"));
    }

    private static bool IsWaitAsyncTask(IOperation operation) =>
        RayApi.Unwrap(operation) is IInvocationOperation { TargetMethod: { Name: "WaitAsync", ContainingType.Name: "Ray" } };

    private static bool IsTask(INamedTypeSymbol? type) =>
        type is { Name: "Task" or "ValueTask", ContainingNamespace: { Name: "Tasks", ContainingNamespace: { Name: "Threading", ContainingNamespace.Name: "System" } } };

    private static bool HasArgument(IInvocationOperation invocation, string parameterName)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.Name == parameterName && argument.ArgumentKind != ArgumentKind.DefaultValue)
            {
                return !(argument.Value.ConstantValue is { HasValue: true, Value: null });
            }
        }

        return false;
    }
}

using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.Flow;

/// <summary>
/// Delegates that outlive the call that creates them: assigned to a field or static property, subscribed to an event,
/// handed to a timer or the thread pool, or started as a task nobody awaits. What such a callback captures lives as
/// long as the callback does (RAY011 for refs, RAY013 for object views).
/// </summary>
internal static class Callbacks
{
    /// <summary>The operation kinds <see cref="Escaping"/> looks at.</summary>
    public static readonly OperationKind[] SinkKinds =
    [
        OperationKind.SimpleAssignment, OperationKind.EventAssignment, OperationKind.ObjectCreation, OperationKind.Invocation,
    ];

    /// <summary>Each delegate <paramref name="operation"/> lets escape, with how it escapes ("is handed to a Timer").</summary>
    public static IEnumerable<(IOperation Value, string Escape)> Escaping(IOperation operation)
    {
        switch (operation)
        {
            // Any field, but only static properties: an instance property is often an option of a short-lived object.
            case ISimpleAssignmentOperation { Target: IFieldReferenceOperation or IPropertyReferenceOperation { Property.IsStatic: true } } assignment:
                var member = assignment.Target is IFieldReferenceOperation field ? (ISymbol)field.Field : ((IPropertyReferenceOperation)assignment.Target).Property;
                yield return (assignment.Value, "is stored in " + Operations.DescribeMember(member));
                break;
            case IEventAssignmentOperation { Adds: true } subscription:
                var name = subscription.EventReference is IEventReferenceOperation e
                    ? e.Event.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat)
                    : "an event";
                yield return (subscription.HandlerValue, $"is subscribed to event '{name}'");
                break;
            case IObjectCreationOperation creation when creation.Type?.ToDisplayString() == "System.Threading.Timer":
                foreach (var argument in creation.Arguments)
                {
                    yield return (argument.Value, "is handed to a Timer");
                }

                break;
            case IInvocationOperation invocation when FireAndForget(invocation) is { } how:
                foreach (var argument in invocation.Arguments)
                {
                    yield return (argument.Value, how);
                }

                break;
        }
    }

    /// <summary>The function symbol and body of <paramref name="value"/> when it creates a delegate from a lambda or a local
    /// function; nulls otherwise.</summary>
    public static (IMethodSymbol? Function, IOperation? Body) Body(IOperation value)
    {
        if (Operations.Unwrap(value) is not IDelegateCreationOperation creation)
        {
            return (null, null);
        }

        switch (creation.Target)
        {
            case IAnonymousFunctionOperation lambda:
                return (lambda.Symbol, lambda.Body);
            case IMethodReferenceOperation { Method.MethodKind: MethodKind.LocalFunction } reference:
                var local = Operations.Root(reference).Descendants().OfType<ILocalFunctionOperation>()
                    .FirstOrDefault(f => SymbolEqualityComparer.Default.Equals(f.Symbol, reference.Method.OriginalDefinition));
                return (local?.Symbol, local?.Body ?? (IOperation?)local?.IgnoredBody);
            default:
                return (null, null);
        }
    }

    /// <summary>How the callback escapes when <paramref name="invocation"/> starts it and nobody waits for it; null otherwise.</summary>
    private static string? FireAndForget(IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        var type = method.ContainingType?.ToDisplayString();
        return (type, method.Name) switch
        {
            ("System.Threading.ThreadPool", "QueueUserWorkItem" or "UnsafeQueueUserWorkItem") => "is queued to the thread pool",
            ("System.Threading.Tasks.Task", "Run") when Operations.IsDiscarded(invocation) => "is started with Task.Run that nobody awaits",
            ("System.Threading.Tasks.TaskFactory", "StartNew") when Operations.IsDiscarded(invocation) => "is started with StartNew that nobody awaits",
            _ => null,
        };
    }
}

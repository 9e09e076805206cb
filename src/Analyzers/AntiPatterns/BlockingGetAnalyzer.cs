using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// RAY114: a blocking Get/Wait of a ref inside async code. RAY121: a single-threaded actor blocking on a call
/// made through a handle to its own class.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class BlockingGetAnalyzer : RayApiAnalyzer
{
    /// <summary>Diagnostic property: the code fix may replace the call with an await.</summary>
    internal const string CanAwaitProperty = "CanAwait";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.BlockingGetInAsyncCode, DiagnosticDescriptors.BlockingCallToSelf);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api) =>
        context.RegisterOperationAction(c => Analyze(c, api), OperationKind.Invocation, OperationKind.PropertyReference);

    private static void Analyze(OperationAnalysisContext context, RayApi api)
    {
        if (RefGet.TryCreate(context.Operation, api) is not { IsBlocking: true } get ||
            RayApi.EnclosingFunction(context.Operation) is not { } function)
        {
            return;
        }

        var inMemberBody = function is not (IAnonymousFunctionOperation or ILocalFunctionOperation);
        var member = context.ContainingSymbol as IMethodSymbol;

        if (IsAsync(function, member) && !(inMemberBody && IsEntryPoint(member)))
        {
            ReportBlockingInAsync(context, get, DescribeAsyncFunction(function, member), canAwait: true);
            return;
        }

        if (!inMemberBody || member is null || member.IsStatic || api.GetRemoteType(member.ContainingType) is not { IsActor: true } actor)
        {
            return;
        }

        if (HasAsyncMethods(actor, api))
        {
            var where = $"'{Display(member)}', a method of actor '{Display(member.ContainingType)}' that has async methods";
            ReportBlockingInAsync(context, get, where, canAwait: false);
        }
        else if (IsSingleThreaded(actor) && api.GetRemoteMember(member) is { Kind: RemoteMemberKind.ActorMethod } &&
                 FindCallToOwnClass(get.Target, member, api) is { } call)
        {
            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.BlockingCallToSelf,
                get.Operation.Syntax.GetLocation(),
                get.DisplayName,
                Display(member),
                Display(member.ContainingType) + "." + call.TargetMethod.Name,
                Display(member.ContainingType)));
        }
    }

    private static void ReportBlockingInAsync(OperationAnalysisContext context, RefGet get, string where, bool canAwait)
    {
        var advice = !canAwait
            ? "make the method async and await instead"
            : get.Kind switch
            {
                RefGetKind.RayGetMany => "use 'await Ray.GetAsync(...)' instead",
                RefGetKind.RayWait => "use 'await Ray.WaitAsync(...)' instead",
                RefGetKind.TaskResult or RefGetKind.TaskWait or RefGetKind.AwaiterGetResult => "await the task instead",
                _ => "await the ref instead",
            };
        var properties = canAwait
            ? ImmutableDictionary<string, string?>.Empty.Add(CanAwaitProperty, "true")
            : ImmutableDictionary<string, string?>.Empty;

        context.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.BlockingGetInAsyncCode,
            get.Operation.Syntax.GetLocation(),
            properties,
            get.DisplayName,
            where,
            advice));
    }

    private static bool IsAsync(IOperation function, IMethodSymbol? member) => function switch
    {
        IAnonymousFunctionOperation lambda => lambda.Symbol.IsAsync,
        ILocalFunctionOperation local => local.Symbol.IsAsync,
        _ => member is { IsAsync: true },
    };

    private static string DescribeAsyncFunction(IOperation function, IMethodSymbol? member) => function switch
    {
        IAnonymousFunctionOperation => member is null ? "an async lambda" : $"an async lambda in '{Display(member)}'",
        ILocalFunctionOperation local => $"async local function '{local.Symbol.Name}'",
        _ => $"async method '{Display(member!)}'",
    };

    // The program's own Main (or top-level statements) blocking on the cluster is what a driver does; it
    // starves no one, so async Main stays silent.
    private static bool IsEntryPoint(IMethodSymbol? method) =>
        method is { IsStatic: true } && (method.Name == "Main" || method.Name == WellKnownMemberNames.TopLevelStatementsEntryPointMethodName);

    private static bool HasAsyncMethods(RemoteType actor, RayApi api)
    {
        foreach (var member in actor.Members)
        {
            if (member.Kind == RemoteMemberKind.ActorMethod && IsAwaitableReturn(member.Method.ReturnType, api))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAwaitableReturn(ITypeSymbol type, RayApi api) =>
        RaySymbols.Is(type, api.Symbols.Task) || RaySymbols.Is(type, api.Symbols.ValueTask) ||
        RaySymbols.IsConstructedFrom(type, api.Symbols.TaskOfT) || RaySymbols.IsConstructedFrom(type, api.Symbols.ValueTaskOfT) ||
        RaySymbols.IsConstructedFrom(type, api.Symbols.AsyncEnumerableOfT);

    // Without async methods an actor runs one call at a time, unless [RayRemote(MaxConcurrency = n > 1)] says
    // otherwise. (ActorOptions.MaxConcurrency at creation can raise it too; the analyzer cannot see that.)
    private static bool IsSingleThreaded(RemoteType actor)
    {
        foreach (var argument in actor.ActorAttribute!.NamedArguments)
        {
            if (argument.Key == "MaxConcurrency" && argument.Value.Value is int concurrency && concurrency > 1)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The actor-method call behind the ref <paramref name="target"/> when it goes through a handle to
    /// <paramref name="member"/>'s own class that may well be this very actor: a field or property of the
    /// actor, a parameter, or <c>Ray.GetActor</c>. Handles the method creates itself, or picks from a
    /// collection of peers, are other actors and stay silent.
    /// </summary>
    private static IInvocationOperation? FindCallToOwnClass(IOperation target, IMethodSymbol member, RayApi api)
    {
        var body = Root(target);
        var origin = Origin(target, body);
        if (origin is IInvocationOperation { TargetMethod.Name: "AsTask", Instance: { } reference })
        {
            origin = Origin(reference, body);
        }

        if (origin is not IInvocationOperation call || !api.IsActorMethodCall(call.TargetMethod, out var actorType) ||
            !SymbolEqualityComparer.Default.Equals(actorType, member.ContainingType))
        {
            return null;
        }

        var handle = call.Instance ?? (call.Arguments.Length > 0 ? call.Arguments[0].Value : null);
        return handle is not null && MayBeOwnHandle(Origin(handle, body), api) ? call : null;
    }

    private static bool MayBeOwnHandle(IOperation? handle, RayApi api) => handle switch
    {
        IFieldReferenceOperation { Instance: null or IInstanceReferenceOperation } => true,
        IPropertyReferenceOperation { Instance: null or IInstanceReferenceOperation, Arguments.Length: 0 } => true,
        IParameterReferenceOperation => true,
        IInvocationOperation invocation => api.IsRayMethod(invocation.TargetMethod, "GetActor"),
        _ => false,
    };

    /// <summary>Looks through implicit conversions and through a local assigned once, at its declaration.</summary>
    private static IOperation? Origin(IOperation operation, IOperation body)
    {
        var current = RayApi.Unwrap(operation);
        if (current is ILocalReferenceOperation local && SingleInitializer(local.Local, body) is { } initializer)
        {
            current = RayApi.Unwrap(initializer);
        }

        return current;
    }

    private static IOperation? SingleInitializer(ILocalSymbol local, IOperation body)
    {
        if (local.DeclaringSyntaxReferences.Length != 1)
        {
            return null;
        }

        IOperation? initializer = null;
        foreach (var operation in body.Descendants())
        {
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local):
                    initializer = declarator.Initializer?.Value;
                    break;
                case IAssignmentOperation { Target: ILocalReferenceOperation target } when SymbolEqualityComparer.Default.Equals(target.Local, local):
                    return null;
                case IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out, Value: ILocalReferenceOperation passed }
                    when SymbolEqualityComparer.Default.Equals(passed.Local, local):
                    return null;
            }
        }

        return initializer;
    }

    /// <summary>The member body <paramref name="operation"/> belongs to: searched for a local's declaration and writes.</summary>
    private static IOperation Root(IOperation operation)
    {
        while (operation.Parent is { } parent)
        {
            operation = parent;
        }

        return operation;
    }

    private static string Display(ISymbol symbol) => symbol is IMethodSymbol method
        ? method.ContainingType.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat) + "." + method.Name
        : symbol.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat);
}

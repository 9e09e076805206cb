using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Flow;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY103-RAY106: where the caller waits for values. A get right after each submission in a loop (RAY103),
/// a value fetched only to be passed to another remote call (RAY104), results processed in submission
/// order (RAY105), and one get of a list that grows without bound (RAY106).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class GetPatternAnalyzer : RayFlowAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DiagnosticDescriptors.GetInLoop,
        DiagnosticDescriptors.UnnecessaryGet,
        DiagnosticDescriptors.SubmissionOrder,
        DiagnosticDescriptors.GetTooMany);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api)
    {
        context.RegisterOperationAction(c => AnalyzeFetch(c, api), OperationKind.Invocation, OperationKind.Await);
        context.RegisterOperationAction(c => AnalyzeGetOfMany(c, api), OperationKind.Invocation);
    }

    /// <summary>One ref's value is fetched: the rules are tried from the most specific, and at most one reports.</summary>
    private static void AnalyzeFetch(OperationAnalysisContext context, RayApi api)
    {
        var fetch = context.Operation;
        if (!api.IsValueFetch(fetch, out var reference) || reference is null)
        {
            return;
        }

        if (fetch is IInvocationOperation && SubmittedInSameIteration(reference, api) is { } submitted)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GetInLoop, fetch.Syntax.GetLocation(), submitted));
        }
        else if (OnlyPassedToRemoteCall(fetch, api) is { } remote)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnnecessaryGet, fetch.Syntax.GetLocation(), Operations.NameOf(reference), remote));
        }
        else if (ProcessedInSubmissionOrder(fetch, reference, api) is { } list)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.SubmissionOrder, fetch.Syntax.GetLocation(), list));
        }
    }

    // ---- RAY103 ----

    /// <summary>
    /// The remote method whose ref <paramref name="reference"/> is, when that ref was submitted in the same
    /// iteration of the innermost loop: the get's receiver itself, or a local declared in the loop body and
    /// assigned once from the call. Null when the next submission may depend on this result (an argument of
    /// the call is a variable the loop body assigns), because then the calls cannot run in parallel anyway.
    /// </summary>
    private static string? SubmittedInSameIteration(IOperation reference, RayApi api)
    {
        if (Operations.EnclosingLoop(reference) is not { } loop)
        {
            return null;
        }

        var submission = reference;
        if (reference is ILocalReferenceOperation local)
        {
            var declared = local.Local.DeclaringSyntaxReferences.FirstOrDefault();
            var assigned = Operations.ValuesAssigned(loop.Body, local.Local).ToList();
            if (declared is null || !loop.Body.Syntax.Span.Contains(declared.Span) || assigned.Count != 1)
            {
                return null;
            }

            submission = assigned[0];
        }

        if (!api.IsRemoteCall(submission, out var proxy, out var owner) || DependsOnLoopState((IInvocationOperation)Operations.Unwrap(submission)!, loop))
        {
            return null;
        }

        return RayApi.RemoteName(proxy, owner);
    }

    /// <summary>True when an argument of the call reads a variable that the loop body assigns (other than counting it up or down).</summary>
    private static bool DependsOnLoopState(IInvocationOperation call, ILoopOperation loop)
    {
        foreach (var read in call.Descendants().OfType<ILocalReferenceOperation>())
        {
            var writes = Operations.References(loop.Body, read.Local).Where(Operations.IsWrite);
            if (writes.Any(w => !IsCounterStep(w)))
            {
                return true;
            }
        }

        return call.Descendants().OfType<IParameterReferenceOperation>()
            .Any(p => Operations.References(loop.Body, p.Parameter).Any(w => Operations.IsWrite(w) && !IsCounterStep(w)));
    }

    private static bool IsCounterStep(IOperation write) => write.Parent switch
    {
        IIncrementOrDecrementOperation => true,
        ICompoundAssignmentOperation compound => compound.Value.ConstantValue.HasValue,
        _ => false,
    };

    // ---- RAY104 ----

    /// <summary>The remote method the fetched value is passed to, when that is all that happens to it; null otherwise.</summary>
    private static string? OnlyPassedToRemoteCall(IOperation fetch, RayApi api)
    {
        if (fetch.Type is not { } valueType)
        {
            return null;
        }

        switch (Operations.ConsumerOf(fetch))
        {
            case IArgumentOperation argument:
                return RemoteCallTaking(argument, valueType, api);
            case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }:
                var uses = Operations.References(Operations.Root(fetch), declarator.Symbol).ToList();
                if (uses.Count == 0 || uses.Any(Operations.IsWrite))
                {
                    return null;
                }

                string? first = null;
                foreach (var use in uses)
                {
                    if (Operations.ConsumerOf(use) is not IArgumentOperation argument || RemoteCallTaking(argument, valueType, api) is not { } remote)
                    {
                        return null;
                    }

                    first ??= remote;
                }

                return first;
            default:
                return null;
        }
    }

    private static string? RemoteCallTaking(IArgumentOperation argument, ITypeSymbol valueType, RayApi api) =>
        argument.Parent is IInvocationOperation call && argument.Parameter is { } parameter &&
        api.AcceptsRefOf(parameter, valueType) && api.IsRemoteCall(call, out var proxy, out var owner)
            ? RayApi.RemoteName(proxy, owner)
            : null;

    // ---- RAY105 ----

    /// <summary>
    /// The list whose refs a foreach fetches one by one and then processes, when that list was filled by
    /// remote calls in this method; null otherwise. A loop that only accumulates (a sum, or adding the values
    /// to a collection) is left alone: there is nothing to overlap, and Ray.Get(list) says it better.
    /// </summary>
    private static string? ProcessedInSubmissionOrder(IOperation fetch, IOperation reference, RayApi api)
    {
        if (reference is not ILocalReferenceOperation variable || Operations.EnclosingLoop(fetch) is not IForEachLoopOperation loop ||
            !loop.Locals.Contains(variable.Local, SymbolEqualityComparer.Default) ||
            Operations.Unwrap(loop.Collection) is not ILocalReferenceOperation list)
        {
            return null;
        }

        var uses = Operations.References(loop.Body, variable.Local).ToList();
        if (!uses.All(u => api.FetchOf(u) is not null))
        {
            return null;
        }

        var processes = loop.Body.Descendants().OfType<IInvocationOperation>()
            .Any(call => !Operations.IsWithin(call, fetch) && !api.IsValueFetch(call, out _) && !IsCollecting(call));
        return processes && IsFilledByRemoteCalls(list.Local, Operations.Root(fetch), api) ? list.Local.Name : null;
    }

    private static bool IsCollecting(IInvocationOperation call) =>
        call.TargetMethod.Name is "Add" or "Append" or "Insert" or "Enqueue" or "Push" or "TryAdd";

    private static bool IsFilledByRemoteCalls(ILocalSymbol list, IOperation root, RayApi api)
    {
        var stored = Operations.ValuesAssigned(root, list)
            .Concat(Operations.CallsOn(root, list).Where(c => c.TargetMethod.Name is "Add" or "AddRange" or "Insert")
                .SelectMany(c => c.Arguments.Select(a => a.Value)));
        return stored.Any(value => Operations.DescendantsAndSelf(value).Any(o => o is IInvocationOperation && api.IsRemoteCall(o, out _)));
    }

    // ---- RAY106 ----

    private static void AnalyzeGetOfMany(OperationAnalysisContext context, RayApi api)
    {
        var get = (IInvocationOperation)context.Operation;
        if (!api.IsGetOfMany(get, out var argument) || argument is not ILocalReferenceOperation list)
        {
            return;
        }

        var root = Operations.Root(get);
        var calls = Operations.CallsOn(root, list.Local).ToList();
        var growing = calls.Where(c => c.TargetMethod.Name is "Add" or "AddRange" or "Insert")
            .Select(c => UnboundedLoopAround(c, get))
            .FirstOrDefault(loop => loop is not null);
        if (growing is null)
        {
            return;
        }

        // Someone who clears the list in the loop, or waits on it, is already fetching in batches.
        var batches = calls.Any(c => Operations.IsWithin(c, growing) && c.TargetMethod.Name is "Clear" or "RemoveAll" or "RemoveRange" or "RemoveAt") ||
            Operations.References(growing, list.Local).Any(Operations.IsWrite) ||
            Operations.References(root, list.Local).Any(r => Operations.ConsumerOf(r) is IArgumentOperation { Parent: IInvocationOperation wait } &&
                (api.IsRayMethod(wait.TargetMethod, "Wait") || api.IsRayMethod(wait.TargetMethod, "WaitAsync")));
        if (!batches)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GetTooMany, get.Syntax.GetLocation(), list.Local.Name));
        }
    }

    /// <summary>
    /// The innermost loop around <paramref name="add"/>, but not around <paramref name="get"/>, that no constant
    /// bounds: a list filled 10 times per line of a file grows with the file.
    /// </summary>
    private static ILoopOperation? UnboundedLoopAround(IOperation add, IOperation get)
    {
        for (var loop = Operations.EnclosingLoop(add); loop is not null && !Operations.IsWithin(get, loop); loop = Operations.EnclosingLoop(loop))
        {
            if (Loops.IsUnbounded(loop))
            {
                return loop;
            }
        }

        return null;
    }
}

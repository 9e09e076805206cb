using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Flow;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY101 and RAY102: what the body of a remote method does with refs. It should not return refs it
/// created with <c>Ray.Put</c> (RAY101), nor take a collection of refs only to get them all (RAY102).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class RemoteMethodBodyAnalyzer : RayFlowAnalyzer
{
    private static readonly SymbolDisplayFormat NameFormat = SymbolDisplayFormat.CSharpShortErrorMessageFormat;

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DiagnosticDescriptors.RemoteMethodReturnsPut,
        DiagnosticDescriptors.GetOfTaskArguments);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api) =>
        context.RegisterOperationAction(c => AnalyzeBody(c, api), OperationKind.MethodBody);

    private static void AnalyzeBody(OperationAnalysisContext context, RayApi api)
    {
        if (context.ContainingSymbol is not IMethodSymbol method || !api.IsRemoteMethod(method))
        {
            return;
        }

        var body = context.Operation;
        var name = method.ContainingType.ToDisplayString(NameFormat) + "." + method.Name;
        FindReturnedPuts(context, api, body, name);
        foreach (var parameter in method.Parameters)
        {
            FindGetOfAllRefs(context, api, body, parameter, name);
        }
    }

    // ---- RAY101 ----

    private static void FindReturnedPuts(OperationAnalysisContext context, RayApi api, IOperation body, string name)
    {
        var puts = new HashSet<IOperation>();
        var visited = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var ret in body.Descendants().OfType<IReturnOperation>())
        {
            // A return inside a lambda or local function returns from that, not from the remote method.
            if (ret.ReturnedValue is { } value && Operations.EnclosingFunction(ret) is null)
            {
                CollectPuts(value, body, api, puts, visited);
            }
        }

        foreach (var put in puts.OrderBy(p => p.Syntax.SpanStart))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.RemoteMethodReturnsPut, put.Syntax.GetLocation(), name));
        }
    }

    /// <summary>
    /// The <c>Ray.Put</c> calls whose refs make up <paramref name="value"/>: the value itself, tuple and
    /// collection elements, and what was stored into a local that is returned. Arguments of other calls are
    /// not followed: a put passed to another task is that task's input, not this method's result.
    /// </summary>
    private static void CollectPuts(IOperation? value, IOperation body, RayApi api, HashSet<IOperation> puts, HashSet<ISymbol> visited)
    {
        switch (Operations.Unwrap(value))
        {
            case IInvocationOperation invocation when api.IsPut(invocation):
                puts.Add(invocation);
                break;
            case ITupleOperation tuple:
                foreach (var element in tuple.Elements)
                {
                    CollectPuts(element, body, api, puts, visited);
                }

                break;
            case IArrayCreationOperation { Initializer: { } initializer }:
                foreach (var element in initializer.ElementValues)
                {
                    CollectPuts(element, body, api, puts, visited);
                }

                break;
            case IObjectCreationOperation { Initializer: { } initializer }:
                foreach (var add in initializer.Initializers.OfType<IInvocationOperation>())
                {
                    foreach (var argument in add.Arguments)
                    {
                        CollectPuts(argument.Value, body, api, puts, visited);
                    }
                }

                break;
            case ICollectionExpressionOperation collection:
                foreach (var element in collection.Elements)
                {
                    CollectPuts(element, body, api, puts, visited);
                }

                break;
            case IConditionalOperation conditional:
                CollectPuts(conditional.WhenTrue, body, api, puts, visited);
                CollectPuts(conditional.WhenFalse, body, api, puts, visited);
                break;
            case ILocalReferenceOperation local when visited.Add(local.Local):
                foreach (var assigned in Operations.ValuesAssigned(body, local.Local))
                {
                    CollectPuts(assigned, body, api, puts, visited);
                }

                foreach (var call in Operations.CallsOn(body, local.Local).Where(c => c.TargetMethod.Name is "Add" or "Insert" or "Push" or "Enqueue"))
                {
                    foreach (var argument in call.Arguments)
                    {
                        CollectPuts(argument.Value, body, api, puts, visited);
                    }
                }

                break;
        }
    }

    // ---- RAY102 ----

    /// <summary>
    /// Reports a parameter holding a collection of refs when every use of it fetches all of them:
    /// <c>Ray.Get(refs)</c>, <c>await Ray.GetAsync(refs)</c>, or a foreach that only gets each element.
    /// Any other use (Ray.Wait, passing refs on, picking some) means the task wants the refs themselves.
    /// </summary>
    private static void FindGetOfAllRefs(OperationAnalysisContext context, RayApi api, IOperation body, IParameterSymbol parameter, string name)
    {
        if (api.ElementOfRefCollection(parameter.Type) is not { } element)
        {
            return;
        }

        var references = Operations.References(body, parameter).ToList();
        if (references.Count == 0 || !references.All(r => IsFetchOfAll(r, api)))
        {
            return;
        }

        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GetOfTaskArguments, parameter.Locations.FirstOrDefault(),
            name, parameter.Name, element.ToDisplayString(NameFormat)));
    }

    private static bool IsFetchOfAll(IParameterReferenceOperation reference, RayApi api)
    {
        var consumer = Operations.ConsumerOf(reference);
        if (consumer is IArgumentOperation { Parent: IInvocationOperation invocation } &&
            api.IsGetOfMany(invocation, out var list) && list == reference)
        {
            return true;
        }

        if (consumer is IForEachLoopOperation loop && Operations.Unwrap(loop.Collection) == reference &&
            loop.Locals.FirstOrDefault() is { } variable)
        {
            var uses = Operations.References(loop.Body, variable).ToList();
            return uses.Count > 0 && uses.All(u => api.FetchOf(u) is not null);
        }

        return false;
    }
}

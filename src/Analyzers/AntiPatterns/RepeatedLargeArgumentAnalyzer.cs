using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// RAY109: the same array or collection passed by value to remote calls inside a loop. The diagnostic sits
/// on the argument; its additional location is the loop (or per-element lambda), where the fix puts the value.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class RepeatedLargeArgumentAnalyzer : RayApiAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.RepeatedLargeArgument);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api)
    {
        if (api.Arg is not null)
        {
            context.RegisterOperationAction(c => Analyze(c, api), OperationKind.Argument);
        }
    }

    private static void Analyze(OperationAnalysisContext context, RayApi api)
    {
        if (RepeatedArgument.TryCreate((IArgumentOperation)context.Operation, api) is not { } found)
        {
            return;
        }

        var method = found.Call.TargetMethod;
        var owner = api.IsActorMethodCall(method, out var actor) ? actor : method.ContainingType.ContainingType ?? method.ContainingType;
        context.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.RepeatedLargeArgument,
            found.Value.Syntax.GetLocation(),
            additionalLocations: [found.Loop.Syntax.GetLocation()],
            found.Value.Syntax.ToString(),
            owner.Name + "." + method.Name,
            found.SuggestedRefName));
    }
}

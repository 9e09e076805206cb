using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// RAYSP001: suppresses CS4014 ("this call is not awaited") on a remote call whose ObjectRef is dropped.
/// <c>counter.Increment();</c> in an async method submits the call and moves on, which is what the user meant
/// (Ray's fire-and-forget actor calls); awaiting it would change the program. Real tasks keep the warning.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class UnawaitedRemoteCallSuppressor : DiagnosticSuppressor
{
    public override ImmutableArray<SuppressionDescriptor> SupportedSuppressions { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.UnawaitedRemoteCall);

    public override void ReportSuppressions(SuppressionAnalysisContext context)
    {
        if (RayApi.TryCreate(context.Compilation) is not { } api)
        {
            return;
        }

        foreach (var diagnostic in context.ReportedDiagnostics)
        {
            if (diagnostic.Location.SourceTree is not { } tree)
            {
                continue;
            }

            var node = tree.GetRoot(context.CancellationToken).FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
            if (node is not InvocationExpressionSyntax invocation)
            {
                continue;
            }

            var model = context.GetSemanticModel(tree);
            if (model.GetOperation(invocation, context.CancellationToken) is IInvocationOperation operation &&
                api.IsObjectRef(operation.Type) && api.IsRemoteCall(operation.TargetMethod))
            {
                context.ReportSuppression(Suppression.Create(DiagnosticDescriptors.UnawaitedRemoteCall, diagnostic));
            }
        }
    }
}

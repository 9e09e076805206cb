using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Flow;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY107: a trivial remote function submitted once per element of a collection that may be large. Only
/// remote functions (not actor methods: those calls update state in order and cannot simply be batched)
/// whose whole body is one expression without calls, and only loops not provably short.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TaskGranularityAnalyzer : RayFlowAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.TooFineGrained);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api) =>
        context.RegisterOperationAction(c => AnalyzeCall(c, api), OperationKind.Invocation);

    private static void AnalyzeCall(OperationAnalysisContext context, RayApi api)
    {
        var call = (IInvocationOperation)context.Operation;
        if (!api.IsRemoteCall(call, out var proxy, out var owner) || proxy.IsExtensionMethod ||
            api.RemoteTarget(proxy, owner) is not { } target || !IsTrivial(target) || !IsPerElementOfLargeCollection(call))
        {
            return;
        }

        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.TooFineGrained, call.Syntax.GetLocation(), RayApi.RemoteName(proxy, owner)));
    }

    /// <summary>
    /// Inside a loop (or a LINQ Select over a collection) that is not provably short: a for loop with a
    /// constant bound of at most <see cref="Loops.SmallCount"/>, or a foreach over a literal collection.
    /// </summary>
    private static bool IsPerElementOfLargeCollection(IInvocationOperation call)
    {
        if (Operations.EnclosingLoop(call) is { } loop)
        {
            return !Loops.IsProvablySmall(loop);
        }

        return Operations.EnclosingFunction(call) is IAnonymousFunctionOperation lambda &&
            lambda.Parent is IDelegateCreationOperation selector &&
            Operations.ConsumerOf(selector) is IArgumentOperation { Parent: IInvocationOperation select } &&
            select.TargetMethod is { Name: "Select", ContainingType.Name: "Enumerable", ContainingNamespace.Name: "Linq" } &&
            !Loops.IsSmallCollection(select.Arguments[0].Value, hops: 0);
    }

    /// <summary>
    /// A synchronous method whose body is a single expression (or a single return of one) that calls
    /// nothing, creates nothing and waits for nothing: arithmetic, member reads, literals. Read from the
    /// declaration's syntax, as the method may live in another file.
    /// </summary>
    private static bool IsTrivial(IMethodSymbol method)
    {
        if (method.IsAsync || method.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is not MethodDeclarationSyntax declaration)
        {
            return false;
        }

        ExpressionSyntax? expression = declaration.ExpressionBody?.Expression;
        if (declaration.Body is { Statements.Count: 1 } block)
        {
            expression = block.Statements[0] switch
            {
                ReturnStatementSyntax ret => ret.Expression,
                ExpressionStatementSyntax statement => statement.Expression,
                _ => null,
            };
        }

        return expression is not null && !expression.DescendantNodesAndSelf().Any(n => n is
            InvocationExpressionSyntax or BaseObjectCreationExpressionSyntax or AwaitExpressionSyntax or
            AnonymousFunctionExpressionSyntax or QueryExpressionSyntax or ArrayCreationExpressionSyntax or
            CollectionExpressionSyntax or SwitchExpressionSyntax || n.IsKind(SyntaxKind.ImplicitArrayCreationExpression));
    }
}

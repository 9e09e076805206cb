using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Simplification;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace RaySharp.Analyzers.CodeFixes;

/// <summary>
/// RAY120 fix: <c>catch (MyException e) when (f)</c> becomes
/// <c>catch (RayTaskException e) when (e.IsCausedBy&lt;MyException&gt;() &amp;&amp; f)</c>. Offered only when the
/// clause uses its variable as an <see cref="System.Exception"/> (its Message, rethrowing it, logging it), so the
/// result compiles, and when no earlier clause already catches every RayTaskException.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(CatchRayTaskExceptionCodeFixProvider))]
[Shared]
public sealed class CatchRayTaskExceptionCodeFixProvider : CodeFixProvider
{
    public const string EquivalenceKey = "RaySharp.CatchRayTaskException";

    private static readonly string[] FreshNames = ["e", "ex", "error", "rayError"];

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.UserExceptionCaughtAroundGetId);

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        var rayTaskException = model?.Compilation.GetTypeByMetadataName("RaySharp.RayTaskException");
        if (root is null || model is null || rayTaskException is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (root.FindNode(diagnostic.Location.SourceSpan).FirstAncestorOrSelf<CatchClauseSyntax>() is not { Declaration: { } declaration } clause ||
                !UsesVariableOnlyAsException(clause, model, context.CancellationToken) ||
                EarlierClauseCatchesAll(clause, rayTaskException, model, context.CancellationToken))
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(
                    $"Catch RayTaskException caused by '{declaration.Type}'",
                    ct => FixAsync(context.Document, clause, ct),
                    EquivalenceKey),
                diagnostic);
        }
    }

    private static async Task<Document> FixAsync(Document document, CatchClauseSyntax clause, CancellationToken ct)
    {
        var root = await document.GetSyntaxRootAsync(ct).ConfigureAwait(false);
        var model = await document.GetSemanticModelAsync(ct).ConfigureAwait(false);
        var declaration = clause.Declaration!;
        var name = declaration.Identifier.IsKind(SyntaxKind.None) ? FreshName(clause, model!) : declaration.Identifier.ValueText;

        ExpressionSyntax condition = InvocationExpression(
            MemberAccessExpression(
                SyntaxKind.SimpleMemberAccessExpression,
                IdentifierName(name),
                GenericName(Identifier("IsCausedBy"), TypeArgumentList(SingletonSeparatedList(declaration.Type.WithoutTrivia())))));
        if (clause.Filter is { } filter)
        {
            var existing = filter.FilterExpression.WithoutTrivia();
            if (existing is BinaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalOrExpression or (int)SyntaxKind.CoalesceExpression } or
                ConditionalExpressionSyntax or AssignmentExpressionSyntax or AnonymousFunctionExpressionSyntax or IsPatternExpressionSyntax)
            {
                existing = ParenthesizedExpression(existing);
            }

            condition = BinaryExpression(
                SyntaxKind.LogicalAndExpression,
                condition,
                Token(SyntaxKind.AmpersandAmpersandToken).WithLeadingTrivia(Space).WithTrailingTrivia(Space),
                existing);
        }

        var identifierTrivia = declaration.Identifier.IsKind(SyntaxKind.None) ? declaration.Type.GetTrailingTrivia() : declaration.Identifier.TrailingTrivia;
        var newDeclaration = declaration
            .WithType(ParseTypeName("global::RaySharp.RayTaskException")
                .WithAdditionalAnnotations(Simplifier.Annotation)
                .WithLeadingTrivia(declaration.Type.GetLeadingTrivia())
                .WithTrailingTrivia(Space))
            .WithIdentifier(Identifier(name).WithTrailingTrivia(identifierTrivia));

        CatchClauseSyntax newClause;
        if (clause.Filter is { } oldFilter)
        {
            newClause = clause.WithDeclaration(newDeclaration).WithFilter(oldFilter.WithFilterExpression(condition.WithTriviaFrom(oldFilter.FilterExpression)));
        }
        else
        {
            // The declaration's closing trivia (usually the line break) moves behind the new filter.
            var closeTrivia = declaration.CloseParenToken.TrailingTrivia;
            newDeclaration = newDeclaration.WithCloseParenToken(newDeclaration.CloseParenToken.WithTrailingTrivia(Space));
            var newFilter = CatchFilterClause(
                Token(SyntaxKind.WhenKeyword).WithTrailingTrivia(Space),
                Token(SyntaxKind.OpenParenToken),
                condition,
                Token(SyntaxKind.CloseParenToken).WithTrailingTrivia(closeTrivia));
            newClause = clause.WithDeclaration(newDeclaration).WithFilter(newFilter);
        }

        return document.WithSyntaxRoot(root!.ReplaceNode(clause, newClause));
    }

    /// <summary>The clause's variable, if any, is only used where any Exception would do.</summary>
    private static bool UsesVariableOnlyAsException(CatchClauseSyntax clause, SemanticModel model, CancellationToken ct)
    {
        if (model.GetDeclaredSymbol(clause.Declaration!, ct) is not { } variable)
        {
            return true;
        }

        foreach (var identifier in clause.DescendantNodes().OfType<IdentifierNameSyntax>())
        {
            if (!SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(identifier, ct).Symbol, variable))
            {
                continue;
            }

            var fine = identifier.Parent switch
            {
                MemberAccessExpressionSyntax access when access.Expression == identifier =>
                    model.GetSymbolInfo(access, ct).Symbol?.ContainingType is { } owner && IsExceptionOrObject(owner),
                ThrowStatementSyntax or ThrowExpressionSyntax => true,
                _ => model.GetTypeInfo(identifier, ct).ConvertedType is { } converted && IsExceptionOrObject(converted),
            };

            if (!fine)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsExceptionOrObject(ITypeSymbol type) =>
        type.SpecialType == SpecialType.System_Object || type.ToDisplayString() == "System.Exception";

    /// <summary>An earlier clause without a filter that catches RayTaskException would make the new clause unreachable.</summary>
    private static bool EarlierClauseCatchesAll(CatchClauseSyntax clause, INamedTypeSymbol rayTaskException, SemanticModel model, CancellationToken ct)
    {
        if (clause.Parent is not TryStatementSyntax tryStatement)
        {
            return true;
        }

        foreach (var earlier in tryStatement.Catches.TakeWhile(c => c != clause))
        {
            if (earlier.Filter is not null)
            {
                continue;
            }

            if (earlier.Declaration is null)
            {
                return true;
            }

            for (ITypeSymbol? type = rayTaskException; type is not null; type = type.BaseType)
            {
                if (SymbolEqualityComparer.Default.Equals(type, model.GetTypeInfo(earlier.Declaration.Type, ct).Type))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static string FreshName(CatchClauseSyntax clause, SemanticModel model)
    {
        var taken = model.LookupSymbols(clause.Block.SpanStart).Select(s => s.Name)
            .Concat(clause.DescendantTokens().Where(t => t.IsKind(SyntaxKind.IdentifierToken)).Select(t => t.ValueText))
            .ToImmutableHashSet();
        return FreshNames.FirstOrDefault(n => !taken.Contains(n)) ??
            Enumerable.Range(2, int.MaxValue - 2).Select(i => "e" + i).First(n => !taken.Contains(n));
    }
}

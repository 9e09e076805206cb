using System.Collections.Generic;
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
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace RaySharp.Analyzers.CodeFixes;

/// <summary>RAY007 fix: the bundle index becomes -1, any bundle of the group.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AnyBundleCodeFixProvider))]
[Shared]
public sealed class AnyBundleCodeFixProvider : CodeFixProvider
{
    public const string EquivalenceKey = "RaySharp.AnyBundle";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.BundleIndexOutOfRangeId);

    // Each diagnostic is one expression of one document, so a document's diagnostics are fixed in one pass.
    public override FixAllProvider GetFixAllProvider() =>
        FixAllProvider.Create(async (context, document, diagnostics) =>
            await FixAsync(document, diagnostics, context.CancellationToken).ConfigureAwait(false));

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (FindIndex(root, diagnostic) is null)
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(
                    "Use bundle index -1 (any bundle)",
                    ct => FixAsync(context.Document, ImmutableArray.Create(diagnostic), ct),
                    EquivalenceKey),
                diagnostic);
        }
    }

    private static async Task<Document> FixAsync(Document document, ImmutableArray<Diagnostic> diagnostics, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return document;
        }

        var targets = new HashSet<ExpressionSyntax>(diagnostics.Select(d => FindIndex(root, d)).OfType<ExpressionSyntax>());
        if (targets.Count == 0)
        {
            return document;
        }

        var updated = root.ReplaceNodes(targets, (original, _) =>
            PrefixUnaryExpression(SyntaxKind.UnaryMinusExpression, LiteralExpression(SyntaxKind.NumericLiteralExpression, Literal(1)))
                .WithTriviaFrom(original));
        return document.WithSyntaxRoot(updated);
    }

    private static ExpressionSyntax? FindIndex(SyntaxNode? root, Diagnostic diagnostic) =>
        root?.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) as ExpressionSyntax;
}
